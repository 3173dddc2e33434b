"""Atomic file writes that leave nothing behind when they fail.

Every file citebot writes (articles, the manifest, the build caches) is written to a hidden
temporary file in the same folder and renamed over its target. When the write fails (a full
disk, a read-only folder, Ctrl-C), the temporary file is removed before the error goes on: a
failed command leaves no ``.tmp`` files.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def temporary_for(path: Path):
    """A fresh hidden temporary path beside ``path``, removed if the block raises."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (readers see the old or the new file)."""
    with temporary_for(path) as tmp:
        tmp.write_bytes(data)
        os.replace(tmp, path)
