"""Zip archives read defensively and files written atomically."""

from __future__ import annotations

import contextlib
import os
import secrets
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from .errors import ModelFormatError

MAX_MEMBER_BYTES = 4 << 30  # 4 GiB uncompressed per member
MAX_TOTAL_BYTES = 8 << 30
MAX_MEMBERS = 64
MAX_COMPRESSION_RATIO = 200  # deflate rarely beats ~10x on weights; bombs reach 1000x


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator:
    """Open a temporary file next to ``path`` for binary writing; on success it
    replaces ``path`` in one step (``os.replace``), on failure it is removed and
    any previous ``path`` is left untouched.

    A new file gets the usual permissions (0666 less the process umask); a replaced
    file keeps its own."""
    path = os.fspath(path)
    tmp_name, tmp = _new_temporary(path)
    try:
        with tmp:
            yield tmp
            tmp.flush()
            os.fsync(tmp.fileno())
        with contextlib.suppress(FileNotFoundError):  # nothing to replace: keep 0666 & ~umask
            os.chmod(tmp_name, os.stat(path).st_mode & 0o777)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _new_temporary(path: str) -> tuple[str, BinaryIO]:
    """A new hidden file beside ``path``, opened for binary writing.

    It is created with mode 0666, which the kernel reduces by the process umask as
    for any new file: the umask is honoured without being read or changed
    (``tempfile`` would create it 0600, and learning the umask means setting it)."""
    folder, base = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = os.path.join(folder, f".{base}.{secrets.token_hex(8)}.tmp")
        try:
            return name, os.fdopen(os.open(name, flags, 0o666), "wb")
        except FileExistsError:
            continue
    raise FileExistsError(f"atomic_write: could not create a temporary file in {folder!r}.")


def write_archive(path: str | os.PathLike, members: dict[str, bytes]) -> None:
    """Write ``members`` (name -> bytes) as one zip file at ``path``, atomically.

    JSON members are deflated; binary members (weights) are stored as they are.
    """
    with atomic_write(path) as f, zipfile.ZipFile(f, "w") as zf:
        for name, data in members.items():
            method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                        compress_type=method)


def read_archive(path: str | os.PathLike, required: tuple[str, ...],
                 optional: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Read the named members of the zip file at ``path``, checking everything.

    Checks: the file is a readable zip (not truncated, CRCs match), every required
    member is there, no member is duplicated, unknown members are ignored, and no
    member is larger than the limits or compressed suspiciously well (zip bombs).
    Raises :class:`ModelFormatError`.
    """
    path = os.fspath(path)
    try:
        zf = zipfile.ZipFile(path, "r")
    except FileNotFoundError:
        raise
    except Exception as err:  # BadZipFile, IsADirectoryError, struct errors, ...
        raise ModelFormatError(f"{path!r} is not a chainrule model file (a zip archive): "
                               f"{err}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ModelFormatError(f"{path!r} has {len(infos)} members; at most "
                                   f"{MAX_MEMBERS} are allowed.")
        names = [i.filename for i in infos]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ModelFormatError(f"{path!r} has duplicated members {duplicated}.")
        missing = [n for n in required if n not in names]
        if missing:
            raise ModelFormatError(f"{path!r} is missing member(s) {missing}; it has {names}.")
        wanted = [i for i in infos if i.filename in required or i.filename in optional]
        _check_sizes(path, wanted)
        return {i.filename: _read_member(path, zf, i) for i in wanted}


def _check_sizes(path: str, infos: list) -> None:
    total = 0
    for info in infos:
        if info.file_size > MAX_MEMBER_BYTES:
            raise ModelFormatError(f"{path!r}: member {info.filename!r} declares "
                                   f"{info.file_size} bytes (limit {MAX_MEMBER_BYTES}).")
        if info.file_size > (1 << 20) and \
                info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise ModelFormatError(f"{path!r}: member {info.filename!r} expands "
                                   f"{info.compress_size} bytes to {info.file_size} "
                                   f"(a zip bomb?).")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise ModelFormatError(f"{path!r}: members total {total} bytes "
                               f"(limit {MAX_TOTAL_BYTES}).")


def _read_member(path: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, reading at most its declared size (headers can lie)."""
    try:
        with zf.open(info) as member:
            data = member.read(info.file_size + 1)
    except Exception as err:  # BadZipFile, zlib.error, EOFError, NotImplementedError, ...
        raise ModelFormatError(f"{path!r}: member {info.filename!r} cannot be read: "
                               f"{type(err).__name__}: {err}") from None
    if len(data) != info.file_size:
        raise ModelFormatError(f"{path!r}: member {info.filename!r} holds {len(data)} bytes "
                               f"but declares {info.file_size}.")
    return data
