"""Worker processes that end with the process that started them.

A ``ProcessPoolExecutor`` worker waits on its call queue, and holds that queue's write end itself, so
when the pool's owner is killed (``kill -9``, a plain ``kill``, the OOM killer) no worker ever reads
end-of-file: each lives on with its model loaded (about 300 MB for an n-gram scoring process here; 2.7
GB for a training refit, which first finishes its fit). Through them a ``forkserver`` lives on too: every
child of a forkserver holds the pipe whose closing would end it. Every pool in humanlike therefore
calls :func:`exit_with_parent` in its initializer.
"""

from __future__ import annotations

import multiprocessing
import os
import threading

ORPHANED_EXIT_CODE = 70
"""What a worker exits with when its parent has gone (``EX_SOFTWARE``: nobody is left to read it)."""


def exit_with_parent() -> None:
    """In a ``multiprocessing`` child: end this process as soon as its parent exits or is killed.

    A daemon thread waits on the parent's sentinel (the pipe end the parent holds for this child,
    closed by the kernel when the parent dies) and then exits at once, without running this
    process's clean-up: there is nobody left to hand a result to. Outside a ``multiprocessing`` child
    it does nothing.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def wait_then_exit() -> None:
        parent.join()  # returns when the sentinel is readable: the parent has gone
        os._exit(ORPHANED_EXIT_CODE)

    threading.Thread(target=wait_then_exit, name="exit-with-parent", daemon=True).start()
