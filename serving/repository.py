"""Where the served model comes from: one bundle directory, or a model repository of numbered versions.

A model repository is Triton's layout: a directory whose subdirectories ``1/``, ``2/``, ... are bundles.
The server serves the highest version; a reload (``POST /admin/reload``, SIGHUP) re-reads the
repository, so writing ``3/`` and reloading rolls forward, and an admin may ask for a version by number
to roll back. Either way, what gets loaded is named by the server's own configuration: a request may
name a version, never a path.
"""

from __future__ import annotations

import re
from pathlib import Path

from humanlike.detector.bundle import CHECKSUM_FILE, BundleError

VERSION = re.compile(r"^[0-9]{1,9}$")


class VersionNotFound(LookupError):
    """The requested version is not in the repository (or the server serves a single bundle)."""


def is_bundle(path: Path) -> bool:
    return (path / CHECKSUM_FILE).is_file()


def repository_versions(root: Path) -> list[int]:
    """The version numbers under ``root`` that hold a bundle, ascending."""
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if VERSION.match(p.name) and is_bundle(p))


def resolve_bundle(configured: str | Path, version: str | None = None) -> Path:
    """The bundle directory for the configured path and an optional requested version.

    Raises:
        VersionNotFound: a version was asked for and is not there (the message names no path).
        BundleError: the configured path is neither a bundle nor a repository with a version in it.
    """
    root = Path(configured)
    if is_bundle(root):
        if version is not None:
            raise VersionNotFound(
                "this server serves one bundle, not a model repository: there are no versions"
            )
        return root
    versions = repository_versions(root)
    if not versions:
        raise BundleError(
            f"{root} is neither a bundle (no {CHECKSUM_FILE}) nor a model repository "
            "(no numbered subdirectory holds a bundle)"
        )
    if version is None:
        return root / str(versions[-1])
    if not VERSION.match(version) or int(version) not in versions:
        raise VersionNotFound(
            f"version {version!r} is not in the model repository (versions: {', '.join(map(str, versions))})"
        )
    return root / str(int(version))


_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[^\s/:'\"]+)+/?")


def without_paths(message: str) -> str:
    """``message`` with every filesystem path replaced by ``<path>``, for answers to clients."""
    return _PATH.sub("<path>", message)
