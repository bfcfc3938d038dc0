"""Keys for caches of loaded files: a file counts as changed when its size or modification time does."""

from __future__ import annotations

import os
from pathlib import Path


def file_version(*paths: str | os.PathLike) -> tuple:
    """((resolved path, size, modification time in ns), ...) of existing files, a hashable cache key:
    re-exported weights or an edited hand file get a new key, so a long-lived process reloads them."""
    versions = []
    for path in paths:
        path = Path(path)
        stat = path.stat()
        versions.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
    return tuple(versions)
