"""Safe reading and writing of model files.

Everything that touches bytes from disk lives here and trusts nothing: zip
archives are checked for integrity, member names and sizes; JSON for structure
and types; safetensors headers for dtypes, shapes and offsets. Any problem raises
:class:`ModelFormatError` naming what is wrong. Nothing is ever unpickled,
imported or executed. Writes are atomic (a temporary file in the same folder,
then ``os.replace``).
"""

from .archive import atomic_write, read_archive, write_archive
from .download import ChecksumError, DownloadError, cache_root, get_file, sha256_of
from .errors import ModelFormatError
from .jsonio import decode_json, encode_json
from .tensors import ALLOWED_DTYPES, decode_arrays, encode_arrays, load_arrays, save_arrays

__all__ = [
    "ALLOWED_DTYPES",
    "ChecksumError",
    "DownloadError",
    "ModelFormatError",
    "atomic_write",
    "cache_root",
    "decode_arrays",
    "decode_json",
    "encode_arrays",
    "encode_json",
    "get_file",
    "load_arrays",
    "read_archive",
    "save_arrays",
    "sha256_of",
    "write_archive",
]
