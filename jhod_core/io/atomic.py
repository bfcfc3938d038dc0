"""Atomic file writes: write a temporary sibling, then rename over the target, so a reader (or a resumed run)
sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: str | os.PathLike, data: bytes | str | None = None, write=None) -> None:
    """Write ``data`` (bytes or text), or call ``write(temporary_path)``, then rename onto ``path``.
    The temporary name keeps the suffix (``np.savez`` appends ``.npz`` to names without it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        if write is not None:
            write(tmp)
        elif isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
