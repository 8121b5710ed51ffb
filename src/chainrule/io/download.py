"""Checked, cached downloads: ``get_file`` (Keras' ``get_file``, without extraction).

A file is fetched once into a cache folder (``cache_dir``, else the environment
variable ``CHAINRULE_DATA``, else ``~/.cache/chainrule``), checked against its
published sha256, and reused afterwards. The download streams into a temporary
file beside the final one, which takes its name in one step (``os.replace``) only
once every byte has arrived and the hash matches: an interrupted or corrupt
transfer never leaves a file under the final name. Only ``urllib`` is used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .archive import atomic_write
from .files import open_regular

CHUNK_BYTES = 1 << 16
DATA_ENV = "CHAINRULE_DATA"


class DownloadError(OSError):
    """A file could not be fetched (offline, refused, cut short); the message says
    where to put a copy downloaded by hand."""


class ChecksumError(ValueError):
    """A file's sha256 is not the published one."""


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$CHAINRULE_DATA``, else ``~/.cache/chainrule``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path.home() / ".cache" / "chainrule"


def sha256_of(data: bytes | str | os.PathLike) -> str:
    """The hex sha256 of ``data`` (bytes), or of the file at that path."""
    if isinstance(data, bytes | bytearray | memoryview):
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with open_regular(data, ValueError) as f:  # a FIFO would block: refused
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hand_copy_hint(origin: str, target: Path, relative: str, file_hash: str | None) -> str:
    expected = f" (sha256 {file_hash})" if file_hash else ""
    return (f"Download {origin} by hand and put it at {target}{expected}; or set "
            f"{DATA_ENV} to a folder holding {relative}.")


def get_file(fname: str | None = None, origin: str | None = None, file_hash: str | None = None,
             cache_dir: str | os.PathLike | None = None, cache_subdir: str = "datasets",
             force_download: bool = False, progress: bool = True,
             timeout: float = 60.0) -> Path:
    """Return the path of ``fname`` in the cache, downloading it from ``origin`` first
    when it is absent (or its hash is wrong, or ``force_download``).

    ``file_hash`` is the expected hex sha256; a cached file that does not match it is
    fetched again, and a download that does not match it raises :class:`ChecksumError`
    (nothing is kept). A download that fails raises :class:`DownloadError` naming the
    URL, the expected hash and where to put a hand-downloaded copy. ``progress``
    shows a tqdm bar on stderr while downloading.
    """
    if not origin:
        raise ValueError("get_file: `origin` (the URL to download from) is required.")
    fname = fname or os.path.basename(urllib.parse.urlparse(origin).path)
    if not fname or os.path.basename(fname) != fname:
        raise ValueError(f"get_file: `fname` must be a plain file name; received {fname!r}.")
    file_hash = file_hash.lower() if file_hash else None
    target = cache_root(cache_dir) / cache_subdir / fname
    if target.is_file() and not force_download:
        if file_hash is None or sha256_of(target) == file_hash:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    hint = _hand_copy_hint(origin, target, f"{cache_subdir}/{fname}", file_hash)
    _download(origin, target, file_hash, progress, timeout, hint)
    return target


def _download(origin: str, target: Path, file_hash: str | None, progress: bool,
              timeout: float, hint: str) -> None:
    """Stream ``origin`` into ``target`` atomically, checking its length and sha256."""
    try:
        response = urllib.request.urlopen(origin, timeout=timeout)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        raise DownloadError(f"Could not download {origin}: {_reason(error)}. {hint}") from error
    with response, atomic_write(target) as out:
        digest = hashlib.sha256()
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        received = _stream(response, out, digest, total, target.name, progress, origin, hint)
        if total is not None and received != total:
            raise DownloadError(f"Could not download {origin}: the connection closed after "
                                f"{received} of {total} bytes. {hint}")
        if file_hash is not None and digest.hexdigest() != file_hash:
            raise ChecksumError(f"The file downloaded from {origin} has sha256 "
                                f"{digest.hexdigest()}, not the published {file_hash}; it was "
                                f"not kept. {hint}")


def _stream(response, out, digest, total: int | None, name: str, progress: bool,
            origin: str, hint: str) -> int:
    """Copy the response body to ``out`` chunk by chunk; returns the bytes received."""
    from tqdm.auto import tqdm

    received = 0
    with tqdm(total=total, desc=f"downloading {name}", unit="B", unit_scale=True,
              unit_divisor=1024, file=sys.stderr, disable=not progress, leave=False) as bar:
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as error:
                raise DownloadError(f"Could not download {origin}: the transfer broke off "
                                    f"after {received} bytes ({_reason(error)}). {hint}") from error
            if not chunk:
                return received
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None)
    return str(reason if reason is not None else error) or type(error).__name__
