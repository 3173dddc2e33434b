"""File I/O every writer shares: checksums, atomic replacement, and one lock per folder."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (where the file system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def temporary_for(path: Path):
    """A fresh hidden temporary path beside ``path``, removed if the block raises (a full
    disk, a read-only folder, Ctrl-C): a failed write leaves no ``.tmp`` file behind. For
    writers that need a path of their own (numpy, FAISS); others use ``atomic_file``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # e.g. the folder became read-only: the original error matters more
        raise


@contextmanager
def atomic_file(path: Path, mode: str = "wb", encoding: str | None = None):
    """Write ``path`` all or nothing: a temporary file in the same folder, fsynced, then
    renamed over it (and the folder fsynced). Readers see the old file or the new one; a
    failed write removes its temporary file."""
    path = Path(path)
    with temporary_for(path) as tmp:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes | str) -> None:
    """``atomic_file`` for data in memory (text is written as UTF-8)."""
    with atomic_file(path, "wb") as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_json_atomic(path: Path, data) -> None:
    """JSON (UTF-8, not ASCII-escaped), written with ``atomic_file``."""
    write_atomic(path, json.dumps(data, ensure_ascii=False))


@contextmanager
def folder_lock(folder: Path, name: str | None = None, on_wait=None):
    """One holder at a time of the lock file ``folder/name`` (created with the folder), across
    processes; with no ``name``, of the folder itself (flock on its descriptor: no file is left
    in it).

    The lock is tried without waiting first; when another holder has it, ``on_wait()`` is
    called (a builder then knows a fresh build may make its own unnecessary) and it waits.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if name is None:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    else:
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def install_dir(tmp: Path, dest: Path, intact) -> None:
    """Put the finished folder ``tmp`` at ``dest``, unless another process put an equally good
    one there meanwhile (``intact(dest)``: then ``tmp`` is dropped and readers of theirs go on
    reading). Builds in parallel (the test suite's workers, two builds at once) each make the
    same cache folder; swapping one in under another process that is reading it failed."""
    try:
        os.rename(tmp, dest)  # atomic, and refused when dest is there (a non-empty folder)
        return
    except OSError:
        if not dest.exists():
            raise
    if intact(dest):
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        replace_dir(tmp, dest)


def replace_dir(tmp: Path, dest: Path) -> None:
    """Put the finished folder ``tmp`` at ``dest`` with one rename; a ``dest`` already there (an
    older revision, or a damaged copy) is renamed aside first and then removed, so that readers
    see either the old folder or the new one, never a mix."""
    if dest.exists():
        stale = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.old"
        os.replace(dest, stale)
        shutil.rmtree(stale, ignore_errors=True)
    os.replace(tmp, dest)
