"""``cr.io``: atomic writes (permissions included), defensive zip, JSON and safetensors
reading. Model files as a whole are tested in test_saving.py."""

import json
import os
import struct
import time
import warnings
import zipfile

import numpy as np
import pytest

from chainrule.io import (
    Archive,
    ModelFormatError,
    NonFiniteWeightsWarning,
    atomic_write,
    decode_arrays,
    decode_json,
    encode_arrays,
    load_arrays,
    read_archive,
    read_regular,
    save_arrays,
    write_archive,
)
from chainrule.io.archive import MAX_MEMBERS, STALE_SECONDS
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


# ---------------------------------------------------------------- hostile zips and files


@pytest.mark.parametrize("method,name", [(zipfile.ZIP_BZIP2, "BZIP2"),
                                         (zipfile.ZIP_LZMA, "LZMA")])
def test_only_stored_and_deflated_members_are_read(tmp_path, method, name):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.json", b"{}", compress_type=method)
    with pytest.raises(ModelFormatError, match=rf"'a.json' is compressed with {name}; "
                                               r"chainrule reads only stored or deflated"):
        read_archive(path, required=("a.json",))


def test_members_are_refused_before_inflating_and_count_against_a_budget(tmp_path):
    path = tmp_path / "a.zip"
    write_archive(path, {"a.json": b"[" + b"1," * 500 + b"1]", "w.bin": bytes(1000)})
    with pytest.raises(ModelFormatError, match=r"'w.bin' declares 1,000 bytes; the model "
                                               r"needs at most 999"):
        with Archive(path, required=("w.bin",)) as archive:
            archive.read("w.bin", 999, needs="the model needs at most 999")
    with Archive(path, required=("a.json", "w.bin"), budget=1500) as archive:
        assert archive.read_prefix("a.json", 3) == b"[1,"
        assert len(archive.read("a.json")) == 1003
        with pytest.raises(ModelFormatError, match="more than the 497 left of this file's"):
            archive.read("w.bin")


def test_members_never_read_past_their_declared_size(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("w.bin", bytes(100_000))
    data = bytearray(path.read_bytes())
    for at in [i for i in range(len(data) - 4) if data[i:i + 4] == (100_000).to_bytes(4,
                                                                                       "little")]:
        data[at:at + 4] = (1000).to_bytes(4, "little")  # declare 1,000 bytes, hold 100,000
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="'w.bin' cannot be read"):
        read_archive(path, required=("w.bin",))


def test_only_regular_files_are_opened(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, kind in ((fifo, r"a FIFO \(named pipe\)"), (tmp_path, "a folder")):
        for read in (lambda p: read_archive(p, required=()), load_arrays,
                     lambda p: read_regular(p, 100)):
            with pytest.raises(ModelFormatError, match=f"is {kind}, not a regular file"):
                read(path)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "none", 100)
    (tmp_path / "f").write_bytes(b"12345")
    assert read_regular(tmp_path / "f", 5) == b"12345"
    with pytest.raises(ModelFormatError, match=r"is 5 bytes, larger than any file"):
        read_regular(tmp_path / "f", 4)


def test_weights_with_nan_or_inf_load_with_a_warning_naming_them():
    arrays = {"ok": np.ones(3, np.float32), "bad": np.array([1, np.nan, np.inf, np.nan]),
              "ints": np.arange(3)}
    with pytest.warns(NonFiniteWeightsWarning, match=r"mem: array\(s\) 'bad' \(2 NaN, 1 "
                                                     r"infinite of 4\) hold NaN"):
        back = decode_arrays(encode_arrays(arrays), "mem")
    np.testing.assert_array_equal(back["bad"], arrays["bad"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decode_arrays(encode_arrays({"ok": np.full(3, 3e38, np.float32)}), "mem")


# ---------------------------------------------------------------- temporaries

_WRITER = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from chainrule.io import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write(b"half a model")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _killed_writer(path) -> str:
    """Start a save of ``path`` in another process, kill it mid-write: the name of
    the temporary it leaves."""
    import signal
    import subprocess
    import sys

    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), src],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "writing\n"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    left = [n for n in os.listdir(path.parent) if n != path.name]
    assert left == [f".{path.name}.chainrule-tmp-{writer.pid}-{left[0][-8:]}"], left
    return left[0]


def test_a_killed_saves_temporary_is_recognisable_and_removed_once_stale(tmp_path):
    path = tmp_path / "model.keras"
    orphan = tmp_path / _killed_writer(path)
    alive = tmp_path / f".model.keras.chainrule-tmp-{os.getppid()}-0a1b2c3d"  # a live pid
    other = tmp_path / f".other.keras.chainrule-tmp-{orphan.name.split('-')[2]}-0a1b2c3d"
    for kept in (alive, other):
        kept.write_bytes(b"x")
    old = time.time() - STALE_SECONDS - 5
    for p in (alive, other):
        os.utime(p, (old, old))
    with atomic_write(path) as f:  # the orphan is recent: its writer may be slow, not dead
        f.write(b"1")
    assert orphan.exists()
    os.utime(orphan, (old, old))
    with atomic_write(path) as f:
        f.write(b"2")
    assert sorted(os.listdir(tmp_path)) == sorted([path.name, alive.name, other.name])
    assert path.read_bytes() == b"2"
