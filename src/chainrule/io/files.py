"""Opening files that may be hostile: regular files only, read by their size.

A FIFO, a socket or a device given as a path would block a reader forever (or
stream without end), so every loader checks the path with ``os.stat`` before it
opens it, opens without blocking, and checks the open descriptor again (the path
could have been swapped in between). Reads ask for the file's own size, never for
a limit: ``f.read(limit + 1)`` would reserve ``limit`` bytes up front.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .errors import ModelFormatError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _refuse(path: str, mode: int, error: type[Exception]) -> Exception:
    return error(f"{path!r} is {_kind(mode)}, not a regular file; chainrule reads only "
                 f"regular files.")


def open_regular(path: str | os.PathLike, error: type[Exception] = ModelFormatError
                 ) -> BinaryIO:
    """``path`` opened for binary reading if it is a regular file; else ``error`` (a
    message naming the path and what it is). FileNotFoundError when it does not exist."""
    path = os.fspath(path)
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _refuse(path, mode, error)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(path, mode, error)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike, limit: int, what: str = "file",
                 error: type[Exception] = ModelFormatError) -> bytes:
    """The bytes of the regular file ``path``, read by its size, which may not exceed
    ``limit``; ``what`` names the kind of file in the messages ("weights file")."""
    path = os.fspath(path)
    with open_regular(path, error) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise error(f"{path!r} is {size:,} bytes, larger than any {what} chainrule "
                        f"reads ({limit:,} bytes).")
        data = f.read(size)
    if len(data) != size:
        raise error(f"{path!r} changed while it was read ({len(data):,} of {size:,} bytes).")
    return data
