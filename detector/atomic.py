"""Writers of lasting files that a crash (SIGKILL, power loss) can never leave half-written.

A file is written to a temporary sibling, flushed to disk, and renamed over its path (``os.replace``,
atomic on POSIX): a reader sees the old complete file or the new complete file. A directory (a bundle,
a checkpoint, a report) is assembled in a temporary sibling and swapped in with Linux's
``renameat2(RENAME_EXCHANGE)``, which exchanges two paths in one step, so the old directory is in place
until the new one is. Where that call does not exist (not Linux, old kernels, some filesystems), the
swap is two renames and a crash between them leaves the old directory under ``.<name>.old-<pid>`` beside
the path (:func:`replace_directory`).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _renameat2() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _renameat2()


def exchange_paths(a: Path, b: Path) -> bool:
    """Atomically swaps what ``a`` and ``b`` name; False where the system cannot (then nothing moved)."""
    if _RENAMEAT2 is None:
        return False
    rc = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: no exchange here
        return False
    raise OSError(errno, f"renameat2({a}, {b}, RENAME_EXCHANGE): {os.strerror(errno)}")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened or synced
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` only if the block completes (the old one stays until then)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the output is an ordinary file
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_writer(path) as f:
        f.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def staging_directory(target: str | os.PathLike[str]) -> Path:
    """A new empty directory beside ``target``, to assemble its replacement in (mode 0755)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; bundles and reports are read by other users
    return staging


def replace_directory(staging: Path, target: str | os.PathLike[str]) -> Path:
    """Puts the complete directory ``staging`` at ``target``, replacing what was there.

    With ``renameat2(RENAME_EXCHANGE)`` the swap is one atomic step and the old directory is deleted
    after it. Without it, the old directory is renamed aside, the new one renamed in, the old one
    deleted: a crash between the two renames leaves ``target`` missing and the old directory at
    ``.<name>.old-<pid>``.
    """
    target = Path(target)
    if target.exists():
        if exchange_paths(staging, target):
            _fsync_dir(target.parent)
            shutil.rmtree(staging)  # now the old directory
            return target
        retired = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired)
    else:
        staging.rename(target)
    _fsync_dir(target.parent)
    return target


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A staging directory that replaces ``target`` whole if the block completes, and vanishes if not."""
    staging = staging_directory(target)
    try:
        yield staging
        replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
