"""Atomic file writes (a reader sees either the old file or the new one, never a torn write),
and the checked outputs of commands.

Every file rnnkit writes (checkpoints, artifacts, histories, metrics, plots) goes through
:func:`atomic_write_bytes`: the bytes go to a temporary file in the target's folder, are flushed
to disk, and the temporary file replaces the target with ``os.replace`` (atomic on POSIX and
Windows, because both names are on the same file system).

A command's output named by the user (``-o``) goes through :func:`check_output` first, before
any work: it refuses to write over the run's own files or the command's inputs, writes through
a symbolic link to its target, writes devices and pipes directly (``/dev/stdout``), and ``-`` is
standard output.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, mode: int | None = None
) -> Path:
    """Write ``data`` to ``path`` so that the file is always either the old or the new content.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the temporary
    file replaces the target with ``os.replace`` (atomic on POSIX and Windows). Parent folders are
    created. A crash (even SIGKILL) leaves at most a stray ``.*.tmp`` file, never a torn target;
    an exception (e.g. a full disk) removes the temporary file and leaves the target untouched.
    ``mode`` is the new file's permission bits (default: what a plain ``open()`` gives).
    Returns the target path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask() if mode is None else mode)
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


#: What ``-o -`` means: standard output.
STDOUT = "-"


@dataclass(frozen=True)
class Output:
    """One output of a command, checked by :func:`check_output` before any work is done.

    ``kind`` says how it is written: ``"stdout"`` (``-``, ``/dev/stdout``, ``/dev/fd/1``: the
    bytes go to standard output, wherever the shell pointed it), ``"fd"`` (another open file
    descriptor, ``/dev/stderr``, ``/dev/fd/N``: written at its position, never truncated or
    replaced, so ``2>> log`` keeps the log), ``"stream"`` (a character device or a pipe: opened
    and written directly, since a rename would replace the device with a regular file) or
    ``"file"`` (a regular file, new or existing: replaced atomically through a temporary file;
    ``target`` is the real file behind any symbolic links, so the link itself stays a link).
    """

    given: str  # the path as the user wrote it: what every message names
    what: str  # the option that named it, e.g. '--output'
    kind: str
    target: Path | None = None
    fd: int | None = None

    @property
    def to_stdout(self) -> bool:
        """Whether the output goes to standard output (then nothing else may)."""
        return self.kind == "stdout"

    def write_bytes(self, data: bytes) -> None:
        """Write ``data``; an ``OSError`` names :attr:`given`, never a temporary file."""
        try:
            if self.kind == "stdout":
                sys.stdout.flush()  # text printed earlier comes first
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            elif self.kind == "fd":
                sys.stdout.flush()  # what rnnkit printed before comes first
                sys.stderr.flush()
                view = memoryview(data)
                while view:
                    view = view[os.write(cast(int, self.fd), view) :]
            elif self.kind == "stream":
                with open(self.given, "wb") as stream:
                    stream.write(data)
            else:
                target = cast(Path, self.target)  # check_output sets it for every "file"
                mode = None
                with contextlib.suppress(FileNotFoundError):
                    mode = stat.S_IMODE(os.stat(target).st_mode)  # keep an old file's mode
                atomic_write_bytes(target, data, mode=mode)
        except OSError as err:
            raise OSError(f"cannot write {self.what} {self.given!r}: {_reason(err)}") from err

    def write_text(self, text: str) -> None:
        """:meth:`write_bytes` of ``text`` encoded as UTF-8."""
        self.write_bytes(text.encode("utf-8"))


def check_output(
    path: str | os.PathLike[str],
    *,
    protected: Iterable[tuple[str, str | os.PathLike[str] | None]] = (),
    what: str = "--output",
) -> Output:
    """Check where an output will go before a command does any work, and say how to write it.

    Refuses (``ValueError`` naming ``what``, the path as given and why) a folder, a missing or
    unwritable folder, a file without write permission, a block device or socket, and any
    existing file that is one of ``protected`` or lies in a protected folder. Files are compared
    by their real path and by identity (``st_dev``, ``st_ino``), so a symbolic or hard link to a
    protected file is refused too. A new file in a protected folder is allowed.

    Args:
        path: the output as the user wrote it; ``"-"`` is standard output.
        protected: ``(description, path)`` pairs, e.g. ``("a file of the run directory",
            run_dir)`` or ``("the input", data)``; a path that does not exist (or None, or a
            bundled dataset's name) protects nothing.
        what: the option's name for messages.
    """
    given = os.fspath(path)
    if not given:
        raise ValueError(f"{what} must be a file path or '-' (standard output), got ''")
    fd = 1 if given == STDOUT else _descriptor(given)
    if fd is not None:
        # Written to the open descriptor itself: resolving /dev/stdout to the file the shell
        # opened and replacing that would lose appended content and rnnkit's own printing.
        try:
            os.fstat(fd)
        except OSError:
            raise ValueError(f"{what} {given!r} is not an open file descriptor") from None
        return Output(given, what, "stdout" if fd == 1 else "fd", fd=fd)
    try:
        st = os.stat(given)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise ValueError(
            f"{what}'s folder must exist, got {given!r}: a part of its folder is a file"
        ) from None
    except OSError as err:  # e.g. a loop of links, a folder without search permission
        raise ValueError(f"{what} {given!r} cannot be used: {_reason(err)}") from err
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{what} must be a file path, got the folder {given!r}")
    if st is not None and (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        if not os.access(given, os.W_OK):
            raise ValueError(f"{what} {given!r} is not writable (permission denied)")
        return Output(given, what, "stream")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ValueError(
            f"{what} must be a regular file, a character device or a pipe, got {given!r}"
        )
    # A regular file, or nothing yet: the real path behind any links is what gets replaced.
    target = Path(os.path.realpath(given))
    if st is None and not target.parent.is_dir():
        where = f" (it links to {str(target)!r})" if os.path.islink(given) else ""
        raise ValueError(f"{what}'s folder must exist, got {given!r}{where}")
    if st is not None:
        _refuse_protected(given, target, st, protected, what)
        if not os.access(target, os.W_OK):
            raise ValueError(f"{what} {given!r} is not writable (permission denied)")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise ValueError(
            f"{what} {given!r} cannot be written: no permission to create files in "
            f"{str(target.parent)!r}"
        )
    return Output(given, what, "file", target)


def write_output(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    protected: Iterable[tuple[str, str | os.PathLike[str] | None]] = (),
    what: str = "--output",
) -> Output:
    """:func:`check_output` then :meth:`Output.write_bytes`, for callers with nothing to do in
    between; returns the :class:`Output`."""
    output = check_output(path, protected=protected, what=what)
    output.write_bytes(data)
    return output


def _refuse_protected(
    given: str,
    target: Path,
    st: os.stat_result,
    protected: Iterable[tuple[str, str | os.PathLike[str] | None]],
    what: str,
) -> None:
    """Raise when the existing file ``target`` (stat ``st``) is, or is a link to, a protected
    file or a file in a protected folder."""
    identity = (st.st_dev, st.st_ino)
    for description, item in protected:
        if item is None:
            continue
        try:
            item_st = os.stat(item)
        except (OSError, ValueError):  # not a path (e.g. a bundled dataset's name)
            continue
        real = Path(os.path.realpath(item))
        if stat.S_ISDIR(item_st.st_mode):
            hit = target.is_relative_to(real) or identity in _identities(real)
        else:
            hit = target == real or identity == (item_st.st_dev, item_st.st_ino)
        if hit:
            raise ValueError(
                f"{what} {given!r} would write over {description} ({str(item)!r}); "
                "choose another file"
            )


def _identities(folder: Path) -> set[tuple[int, int]]:
    """(st_dev, st_ino) of every file under ``folder``: hard links to them have the same."""
    found = set()
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                st = os.stat(os.path.join(root, name))
                found.add((st.st_dev, st.st_ino))
    return found


def _descriptor(given: str) -> int | None:
    """The file descriptor that ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N`` or
    ``/proc/self/fd/N`` names, or None for any other path."""
    match = re.fullmatch(r"/dev/(?:std(out|err)|fd/(\d+))|/proc/self/fd/(\d+)", given)
    if match is None:
        return None
    stream, number, proc = match.groups()
    if stream is not None:
        return 1 if stream == "out" else 2
    return int(number if number is not None else proc)


def _reason(err: OSError) -> str:
    # strerror alone: str(err) would name the temporary file an atomic write failed on.
    return err.strerror or str(err)
