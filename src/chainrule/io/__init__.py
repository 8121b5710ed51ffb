"""Safe reading and writing of model files.

Everything that touches bytes from disk lives here and trusts nothing: zip
archives are checked for integrity, member names and sizes; JSON for structure
and types; safetensors headers for dtypes, shapes and offsets. Only regular files
are opened (never a FIFO or a device), files are read by their size, zip members
are streamed against a budget, and only stored or deflated members are read. Any problem raises
:class:`ModelFormatError` naming the file and what is wrong; weights holding NaN or
infinity load with a :class:`NonFiniteWeightsWarning`. Nothing is ever unpickled,
imported or executed. Writes are atomic (a temporary file in the same folder,
then ``os.replace``).
"""

from .archive import Archive, atomic_write, read_archive, remove_stale_temporaries, write_archive
from .download import ChecksumError, DownloadError, cache_root, get_file, sha256_of
from .errors import ModelFormatError, NonFiniteWeightsWarning
from .files import open_regular, read_regular
from .jsonio import decode_json, encode_json
from .tensors import (
    ALLOWED_DTYPES,
    decode_arrays,
    encode_arrays,
    load_arrays,
    read_header,
    safetensors_budget,
    save_arrays,
)

__all__ = [
    "ALLOWED_DTYPES",
    "Archive",
    "ChecksumError",
    "DownloadError",
    "ModelFormatError",
    "NonFiniteWeightsWarning",
    "atomic_write",
    "cache_root",
    "decode_arrays",
    "decode_json",
    "encode_arrays",
    "encode_json",
    "get_file",
    "load_arrays",
    "open_regular",
    "read_archive",
    "read_header",
    "read_regular",
    "remove_stale_temporaries",
    "safetensors_budget",
    "save_arrays",
    "sha256_of",
    "write_archive",
]
