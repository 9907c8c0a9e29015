"""Atomic file writes: a reader sees either the old file or the new one, never a torn write.

Every file rnnkit writes (checkpoints, artifacts, histories, metrics, plots) goes through
:func:`atomic_write_bytes`: the bytes go to a temporary file in the target's folder, are flushed
to disk, and the temporary file replaces the target with ``os.replace`` (atomic on POSIX and
Windows, because both names are on the same file system).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that the file is always either the old or the new content.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the temporary
    file replaces the target with ``os.replace`` (atomic on POSIX and Windows). Parent folders are
    created. A crash (even SIGKILL) leaves at most a stray ``.*.tmp`` file, never a torn target;
    an exception (e.g. a full disk) removes the temporary file and leaves the target untouched.
    Returns the target path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it...
    os.umask(mask)  # ...and put it back at once
    return mask


def _fsync_dir(folder: Path) -> None:
    # Make the rename itself durable; not every platform can open a directory, so best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
