"""Writers of lasting files that a crash (SIGKILL, power loss) can never leave half-written.

A file is written to a temporary sibling, flushed to disk, and renamed over its path (``os.replace``,
atomic on POSIX): a reader sees the old complete file or the new complete file. A directory (a bundle,
a checkpoint, a report) is assembled in a temporary sibling and swapped in with Linux's
``renameat2(RENAME_EXCHANGE)``, which exchanges two paths in one step, so the old directory is in place
until the new one is. Where that call does not exist (not Linux, old kernels, some filesystems), the
swap is two renames and a crash between them leaves the old directory under ``.<name>.old-<pid>`` beside
the path (:func:`replace_directory`).

A directory is replaced only if humanlike made it: every directory written through
:func:`atomic_directory` carries a marker file (:data:`OUTPUT_MARKER`) naming its kind, and
:func:`check_output_directory` refuses a target that is neither absent, empty, nor marked with the same
kind, so that ``--out ~/models`` can never take ``~/models`` with it. Commands call the check before
their work starts; :func:`atomic_directory` calls it again before the swap.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

OUTPUT_MARKER = ".humanlike-output"
"""The file in every output directory that says which kind of output humanlike made there."""
_LEGACY_BUNDLE_FILES = ("bundle.json", "SHA256SUMS")
"""A bundle written before the marker existed is still recognised as a bundle by these two files..."""
_LEGACY_REPORT_FILES = frozenset({"report.json", "report.html"})
"""... and an eval report by holding exactly these two."""

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


class OutputPathError(ValueError):
    """An output path that a command must not or cannot write: said before any work starts."""


def output_kind(path: Path) -> str | None:
    """The kind of humanlike output ``path`` holds, from its marker (or a legacy bundle's files)."""
    marker = path / OUTPUT_MARKER
    if marker.is_file():
        try:
            kind = json.loads(marker.read_text(encoding="utf-8")).get("kind")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            return None
        return kind if isinstance(kind, str) else None
    if all((path / name).is_file() for name in _LEGACY_BUNDLE_FILES):
        return "bundle"
    if {e.name for e in path.iterdir()} == _LEGACY_REPORT_FILES:
        return "eval-report"
    return None


def check_output_directory(target: str | os.PathLike[str], kind: str, flag: str = "--out") -> Path:
    """``target`` if a directory of ``kind`` may be written there, else :class:`OutputPathError`.

    Allowed: a path that does not exist (under a writable place), an empty directory, or a directory
    that humanlike made as an output of the same ``kind`` (replaced whole). Refused: a file, the
    current directory or one that holds it, a directory holding anything else, a place that cannot
    be written.
    """
    path = Path(target)
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise OutputPathError(
            f"{flag} {path}: is the current directory or holds it; humanlike writes a new directory "
            f"there and swaps it in whole, so give the path of a directory of its own (e.g. {flag} out)"
        )
    if path.exists() or path.is_symlink():
        if not path.is_dir() or path.is_symlink():
            raise OutputPathError(
                f"{flag} {path}: is a file (or a link), not a directory; choose another path"
            )
        entries = sorted(e.name for e in path.iterdir())
        found = output_kind(path) if entries else kind
        if found != kind:
            what = (
                f"holds a humanlike {found}, not a {kind}"
                if found
                else f"holds files that are not a humanlike output ({', '.join(entries[:3])}"
                + (", ..." if len(entries) > 3 else "")
                + ")"
            )
            raise OutputPathError(
                f"{flag} {path}: {what}; it would be replaced whole, so choose a new or empty directory"
            )
    existing = next(p for p in [resolved, *resolved.parents] if p.exists())
    if not existing.is_dir():
        raise OutputPathError(f"{flag} {path}: {existing} is a file, so nothing can be made under it")
    place = existing if existing != resolved else resolved.parent
    if not os.access(place, os.W_OK | os.X_OK):
        raise OutputPathError(f"{flag} {path}: {place} cannot be written; choose another path")
    return path


def mark_output_directory(directory: Path, kind: str) -> None:
    """Marks ``directory`` as humanlike's output of ``kind`` (what :func:`check_output_directory` reads)."""
    (directory / OUTPUT_MARKER).write_text(
        json.dumps({"kind": kind, "written_by": "humanlike"}) + "\n", encoding="utf-8"
    )


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str], kind: str) -> Iterator[Path]:
    """A staging directory that replaces ``target`` whole if the block completes, and vanishes if not.

    The directory is marked as an output of ``kind``; a ``target`` that :func:`check_output_directory`
    refuses is refused here too, before the block runs, and again before the swap.
    """
    check_output_directory(target, kind, "output")
    staging = staging_directory(target)
    try:
        yield staging
        mark_output_directory(staging, kind)
        check_output_directory(target, kind, "output")
        replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
