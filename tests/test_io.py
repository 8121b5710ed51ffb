"""``cr.io``: atomic writes (permissions included), defensive zip, JSON and safetensors
reading. Model files as a whole are tested in test_saving.py."""

import json
import os
import struct
import warnings
import zipfile

import numpy as np
import pytest

from chainrule.io import (
    ModelFormatError,
    atomic_write,
    decode_arrays,
    decode_json,
    encode_arrays,
    load_arrays,
    read_archive,
    save_arrays,
    write_archive,
)
from chainrule.io.archive import MAX_MEMBERS
from chainrule.io.jsonio import MAX_DEPTH

# ---------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_0666_less_the_umask(tmp_path, umask):
    previous = os.umask(umask)  # the test's own process setting, restored below
    try:
        with atomic_write(tmp_path / "f.bin") as f:
            f.write(b"data")
    finally:
        os.umask(previous)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["f.bin"]


def test_a_replaced_file_keeps_its_permissions_and_a_failed_write_changes_nothing(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    path.chmod(0o600)
    with atomic_write(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(OSError, match="disk full"), atomic_write(path) as f:
        f.write(b"half")
        raise OSError("disk full")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["f.bin"]


# ---------------------------------------------------------------- zip archives


def test_archives_round_trip_and_ignore_unknown_members(tmp_path):
    path = tmp_path / "a.zip"
    write_archive(path, {"a.json": b"{}", "b.bin": bytes(range(10)), "extra": b"x"})
    members = read_archive(path, required=("a.json",), optional=("b.bin", "missing"))
    assert members == {"a.json": b"{}", "b.bin": bytes(range(10))}


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicated name
        for name, data in members:
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("members,message", [
    ([("a.json", b"{}"), ("a.json", b"{}")], "duplicated members"),
    ([("b.json", b"{}")], r"missing member\(s\) \['a.json'\]"),
    ([(f"m{i}", b"") for i in range(MAX_MEMBERS + 1)], f"at most {MAX_MEMBERS}"),
    ([("a.json", bytes(30 << 20))], "zip bomb"),
])
def test_bad_archives_raise_model_format_error(tmp_path, members, message):
    path = _zip(tmp_path / "bad.zip", members)
    with pytest.raises(ModelFormatError, match=message):
        read_archive(path, required=("a.json",))


def test_not_a_zip_and_no_file(tmp_path):
    garbage = tmp_path / "g"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(ModelFormatError, match="not a chainrule model file"):
        read_archive(garbage, required=())
    with pytest.raises(FileNotFoundError):
        read_archive(tmp_path / "none", required=())


# ---------------------------------------------------------------- JSON


def test_decode_json_checks_encoding_syntax_type_and_depth():
    assert decode_json(b'{"a": [1, 2]}', "x.json") == {"a": [1, 2]}
    deep = "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2)
    for data, message in ((b"\xff{", "not valid JSON"), (b"{", "not valid JSON"),
                          (b"[1]", "must hold a JSON dict; found list"),
                          (f'{{"a": {deep}}}'.encode(), "nested more than")):
        with pytest.raises(ModelFormatError, match=f"^x.json.*{message}"):
            decode_json(data, "x.json")


# ---------------------------------------------------------------- safetensors


def test_arrays_round_trip_as_writable_copies(tmp_path):
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array([1, 2]),
              "b": np.array([True, False])}
    back = decode_arrays(encode_arrays(arrays), "mem")
    for name, value in arrays.items():
        np.testing.assert_array_equal(back[name], value)
        assert back[name].dtype == value.dtype and back[name].flags.writeable
    save_arrays(tmp_path / "w.safetensors", arrays)
    np.testing.assert_array_equal(load_arrays(tmp_path / "w.safetensors")["w"], arrays["w"])


def _safetensors(header: dict, data: bytes) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + data


@pytest.mark.parametrize("data,message", [
    (b"1234", "too short"),
    (struct.pack("<Q", 10**9) + b"{}", "not safetensors data: .* header length of 1,000,000,000"),
    (struct.pack("<Q", 1000) + b"{}", "truncated: its header says it is 1,000 bytes long but "
                                      "only 2 bytes follow"),
    (_safetensors({"a": {"dtype": "O", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)),
     "dtype 'O'"),
    (_safetensors({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, bytes(8)),
     "needs 16 bytes"),
    (_safetensors({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4)),
     "invalid shape"),
    (_safetensors({"a": [1, 2]}, b""), "must have exactly dtype"),
])
def test_bad_safetensors_headers_are_refused_before_loading(data, message):
    with pytest.raises(ModelFormatError, match=message):
        decode_arrays(data, "mem")


def test_only_numeric_arrays_are_saved():
    with pytest.raises(TypeError, match="dtype object"):
        encode_arrays({"o": np.array([object()])})
