"""Zip archives read defensively and files written atomically.

An archive's declared sizes are a claim, not a fact: members are read in chunks and
never past their declared size, only stored and deflated members are read (a zip
library's bzip2 and LZMA decoders inflate a whole chunk at once, so a bomb of a few
hundred bytes becomes gigabytes before any size check), and every read counts
against a budget the caller derives from what it expects (what a model's
architecture needs), checked before anything is inflated.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from .errors import ModelFormatError
from .files import open_regular

MAX_MEMBER_BYTES = 4 << 30  # 4 GiB uncompressed per member
MAX_TOTAL_BYTES = 8 << 30
MAX_JSON_BYTES = 64 << 20  # a JSON member (config, optimizer settings) is far smaller
MAX_MEMBERS = 64
MAX_COMPRESSION_RATIO = 200  # deflate rarely beats ~10x on weights; bombs reach 1000x
CHUNK_BYTES = 1 << 20
# zip compression methods by number (APPNOTE 4.4.5); only the first two are read
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", 9: "deflate64",
           zipfile.ZIP_BZIP2: "BZIP2", zipfile.ZIP_LZMA: "LZMA", 93: "Zstandard", 95: "XZ",
           98: "PPMd", 99: "AES-encrypted"}
READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

# ---------------------------------------------------------------- atomic writes

TEMPORARY_TAG = ".chainrule-tmp-"  # .<name>.chainrule-tmp-<pid>-<random>
STALE_SECONDS = 60  # a dead writer's temporary untouched this long is removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator:
    """Open a temporary file next to ``path`` for binary writing; on success it
    replaces ``path`` in one step (``os.replace``), on failure it is removed and
    any previous ``path`` is left untouched.

    The temporary is named ``.<name>.chainrule-tmp-<pid>-<random>``; one left behind by
    a writer that was killed (its process is gone and the file untouched for
    ``STALE_SECONDS``) is removed by the next save to the same path. A new file gets
    the usual permissions (0666 less the process umask); a replaced file keeps its own."""
    path = os.fspath(path)
    remove_stale_temporaries(path)
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


def _temporary_prefix(path: str) -> tuple[str, str]:
    folder, base = os.path.split(os.path.abspath(path))
    return folder, f".{base}{TEMPORARY_TAG}"


def _new_temporary(path: str) -> tuple[str, BinaryIO]:
    """A new hidden file beside ``path``, opened for binary writing.

    It is created with mode 0666, which the kernel reduces by the process umask as
    for any new file: the umask is honoured without being read or changed
    (``tempfile`` would create it 0600, and learning the umask means setting it)."""
    folder, prefix = _temporary_prefix(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = os.path.join(folder, f"{prefix}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            return name, os.fdopen(os.open(name, flags, 0o666), "wb")
        except FileExistsError:
            continue
    raise FileExistsError(f"atomic_write: could not create a temporary file in {folder!r}.")


def remove_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Remove the temporaries of earlier saves to ``path`` whose writer is dead (its
    pid names no running process) and that were untouched for ``STALE_SECONDS``;
    returns the names removed. A temporary of a live writer is never touched."""
    folder, prefix = _temporary_prefix(os.fspath(path))
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            pid = _writer_pid(entry.name, prefix)
            if pid is None or pid == os.getpid() or _alive(pid):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if entry.is_file(follow_symlinks=False) and \
                        time.time() - info.st_mtime > STALE_SECONDS:
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def _writer_pid(name: str, prefix: str) -> int | None:
    if not name.startswith(prefix):
        return None
    pid, _, rest = name[len(prefix):].partition("-")
    return int(pid) if pid.isdigit() and rest else None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs; True when that cannot be told safely (on Windows
    ``os.kill`` would end the process)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user
        return True
    return True


def write_archive(path: str | os.PathLike, members: dict[str, bytes]) -> None:
    """Write ``members`` (name -> bytes) as one zip file at ``path``, atomically.

    JSON members are deflated; binary members (weights) are stored as they are.
    """
    with atomic_write(path) as f, zipfile.ZipFile(f, "w") as zf:
        for name, data in members.items():
            method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                        compress_type=method)


# ---------------------------------------------------------------- reading


class Archive:
    """A zip file opened for checked reading of its named members.

    On opening: the path is a regular file and a readable zip; every required member
    is there; no member is duplicated; at most ``MAX_MEMBERS`` members; each member
    that will be read is stored or deflated, not encrypted, within the size limits
    and not compressed suspiciously well (a zip bomb). :meth:`read` then streams one
    member, refusing before inflating one that declares more than the caller's limit,
    and never reading past its declared size or the archive's ``budget`` in all.
    Every problem raises :class:`ModelFormatError` naming the file and the member.
    """

    def __init__(self, path: str | os.PathLike, required: tuple[str, ...],
                 optional: tuple[str, ...] = (), budget: int = MAX_TOTAL_BYTES):
        self.path = os.fspath(path)
        self.budget = int(budget)
        self._file = open_regular(self.path)
        try:
            self._zip = zipfile.ZipFile(self._file, "r")
        except Exception as err:  # BadZipFile, struct errors, ...
            self._file.close()
            raise ModelFormatError(f"{self.path!r} is not a chainrule model file (a zip "
                                   f"archive): {err}") from None
        try:
            self.infos = self._check(required, optional)
        except BaseException:
            self.close()
            raise

    def _check(self, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
        path, infos = self.path, self._zip.infolist()
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
        wanted = {i.filename: i for i in infos if i.filename in required + optional}
        total = 0
        for info in wanted.values():
            self._check_member(info)
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise ModelFormatError(f"{path!r}: members total {total:,} bytes "
                                   f"(limit {MAX_TOTAL_BYTES:,}).")
        return wanted

    def _check_member(self, info: zipfile.ZipInfo) -> None:
        where = f"{self.path!r}: member {info.filename!r}"
        if info.compress_type not in READABLE_METHODS:
            method = METHODS.get(info.compress_type, f"number {info.compress_type}")
            raise ModelFormatError(f"{where} is compressed with {method}; chainrule reads "
                                   f"only stored or deflated members.")
        if info.flag_bits & 0x1:
            raise ModelFormatError(f"{where} is encrypted.")
        if info.file_size > MAX_MEMBER_BYTES:
            raise ModelFormatError(f"{where} declares {info.file_size:,} bytes "
                                   f"(limit {MAX_MEMBER_BYTES:,}).")
        if info.file_size > (1 << 20) and \
                info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise ModelFormatError(f"{where} expands {info.compress_size:,} bytes to "
                                   f"{info.file_size:,} (a zip bomb?).")

    def names(self) -> list[str]:
        """The members that may be read (required and optional ones present)."""
        return list(self.infos)

    def declared_size(self, name: str) -> int:
        """The uncompressed size member ``name`` declares (a claim, checked on read)."""
        return self.infos[name].file_size

    def read_prefix(self, name: str, size: int) -> bytes:
        """The first ``size`` bytes of member ``name`` (all of it if shorter), e.g. a
        header to check before the member is read whole."""
        info = self.infos[name]
        try:
            with self._zip.open(info) as member:
                return member.read(min(size, info.file_size))
        except Exception as err:  # BadZipFile, zlib.error, EOFError, ...
            raise ModelFormatError(f"{self.path!r}: member {name!r} cannot be read (damaged "
                                   f"or truncated?): {type(err).__name__}: {err}") from None

    def read(self, name: str, limit: int | None = None, needs: str = "") -> bytearray:
        """Member ``name``'s bytes. ``limit`` (default: ``MAX_JSON_BYTES`` for ``.json``
        members, else ``MAX_MEMBER_BYTES``) is the most it may hold, ``needs`` says why
        in the error ("the architecture in config.json needs at most ..."). A member
        declaring more is refused before anything is inflated."""
        info = self.infos[name]
        where = f"{self.path!r}: member {name!r}"
        if limit is None:
            limit = MAX_JSON_BYTES if name.endswith(".json") else MAX_MEMBER_BYTES
        if info.file_size > limit:
            raise ModelFormatError(f"{where} declares {info.file_size:,} bytes; "
                                   + (needs or f"at most {limit:,} are allowed") + ".")
        if info.file_size > self.budget:
            raise ModelFormatError(f"{where} declares {info.file_size:,} bytes, more than "
                                   f"the {self.budget:,} left of this file's budget.")
        data = self._stream(info, where)
        self.budget -= len(data)
        return data

    def _stream(self, info: zipfile.ZipInfo, where: str) -> bytearray:
        """Inflate ``info`` chunk by chunk into a buffer of its declared size."""
        size = info.file_size
        data = bytearray(size)
        got = 0
        try:
            with self._zip.open(info) as member:
                while got < size:
                    chunk = member.read(min(CHUNK_BYTES, size - got))
                    if not chunk:
                        break
                    data[got:got + len(chunk)] = chunk
                    got += len(chunk)
                extra = member.read(1) if got == size else b""
        except Exception as err:  # BadZipFile, zlib.error, EOFError, ...
            raise ModelFormatError(f"{where} cannot be read (damaged or truncated?): "
                                   f"{type(err).__name__}: {err}") from None
        if got != size or extra:
            raise ModelFormatError(f"{where} holds {'more' if extra else got} bytes but "
                                   f"declares {size:,}.")
        return data

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_archive(path: str | os.PathLike, required: tuple[str, ...],
                 optional: tuple[str, ...] = (),
                 limits: dict[str, int] | None = None) -> dict[str, bytearray]:
    """Read the named members of the zip file at ``path``, checking everything (see
    :class:`Archive`); ``limits`` maps a member to the most bytes it may hold.
    Unknown members are ignored. Raises :class:`ModelFormatError`."""
    limits = limits or {}
    with Archive(path, required, optional) as archive:
        return {name: archive.read(name, limits.get(name)) for name in archive.names()}
