"""Hostile files against every public loader (issue 10, points 1-6 and 9).

Each case runs in its own process (forked by ``hostile_runner.py`` from one child
that imports chainrule once) under a 1 GiB address-space limit and a 10 s alarm,
and must end in the reader's documented error (``ModelFormatError`` for model and
weights files, ``ValueError`` for data sets), or return where the file is valid,
within 1 s and 200 MB of peak resident memory, with a message that names the file
and says what is wrong. The bombs are real: without the guards they inflate to
hundreds of MiB.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hostile_files import (
    MIB,
    bzip2_bomb,
    deflate_bomb_within_ratio,
    gzip_idx_bomb,
    stored,
    zip_bytes,
)

import chainrule as cr
from chainrule.layers import LSTM, Conv2D, Dense, Flatten
from chainrule.models import Sequential
from chainrule.unsupervised import DBN, RBM

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE.parent / "src"
MAX_SECONDS, MAX_RSS_MB = 1.0, 200.0
BZIP2, LZMA = zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA
WEIGHTS, UNSUPERVISED = "model.weights.safetensors", "weights.safetensors"


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(path, members: dict[str, bytes], *replace: tuple) -> pathlib.Path:
    """``members`` stored, but those named in ``replace``: hand-made (name, method,
    data, declared size, declared crc) entries."""
    made = {entry[0]: entry for entry in replace}
    path.write_bytes(zip_bytes([made.get(name) or stored(name, data)
                                for name, data in members.items()]))
    return path


def _with_config(path, members: dict[str, bytes], change) -> pathlib.Path:
    config = json.loads(members["config.json"])
    change(config)
    return _zip(path, {**members, "config.json": json.dumps(config).encode()})


class Sources:
    """Valid files of every kind, and the bombs, that the hostile files are made from."""

    def __init__(self, tmp: pathlib.Path):
        self.tmp = tmp
        cr.manual_seed(0)
        dense = Sequential([Dense(8, activation="relu", input_dim=4),
                            Dense(1, activation="sigmoid")])
        dense.compile(optimizer="adam", loss="binary_crossentropy")
        dense.fit(np.ones((8, 4)), np.ones(8), epochs=1, verbose=0)
        dense.save(tmp / "model.keras")
        self.weights_file = tmp / "model.safetensors"
        dense.save_weights(self.weights_file)
        conv = Sequential([Conv2D(4, 3), Flatten(), Dense(1)])
        conv.build((None, 8, 8, 1))
        conv.save(tmp / "conv.keras")
        lstm = Sequential([LSTM(4), Dense(1)])
        lstm.build((None, 5, 3))
        lstm.save(tmp / "lstm.keras")
        RBM(6, 3).save(tmp / "rbm.zip")
        DBN([6, 3, 2]).save(tmp / "dbn.zip")
        self.model, self.conv, self.lstm, self.rbm, self.dbn = (
            _members(tmp / name) for name in ("model.keras", "conv.keras", "lstm.keras",
                                              "rbm.zip", "dbn.zip"))
        self.weights = self.model[WEIGHTS]
        self.bzip2 = bzip2_bomb()  # 512 MiB of zeros in about 4 KB
        self.deflated = deflate_bomb_within_ratio()  # 256 MiB in 2 MB: 128:1

    def path(self, name: str) -> pathlib.Path:
        return self.tmp / name

    def bz2_member(self, name: str, honest: bytes) -> tuple:
        """A BZIP2 bomb that declares the size of ``honest``."""
        return name, BZIP2, self.bzip2, len(honest), 0

    def deflate_member(self, name: str, declared: int | None = None) -> tuple:
        data, size, crc = self.deflated
        return name, zipfile.ZIP_DEFLATED, data, size if declared is None else declared, crc

    def lzma_model(self, path: pathlib.Path) -> pathlib.Path:
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in self.model.items():
                zf.writestr(name, data, compress_type=LZMA if name == WEIGHTS else None)
        return path

    def fifo(self, name: str = "fifo") -> pathlib.Path:
        path = self.tmp / name
        if not path.exists():
            os.mkfifo(path)
        return path

    def fifo_in_cache(self) -> pathlib.Path:
        (self.tmp / "cache" / "datasets").mkdir(parents=True, exist_ok=True)
        return self.fifo("cache/datasets/weights.safetensors")

    def sparse_zeros(self, mib: int) -> pathlib.Path:
        path = self.tmp / "zeros.safetensors"
        with open(path, "wb") as f:
            f.truncate(mib * MIB)  # no disk space taken
        return path

    def write(self, name: str, data: bytes) -> pathlib.Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path


def _build_input(shape):
    return lambda config: config["build_config"].update(input_shape=shape)


def _first_dense(units, inputs):
    return lambda config: config["config"]["layers"][0]["config"].update(
        units=units, input_shape=[inputs])


def _idx(dims, body: bytes) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + body


def _kind_config(kind: str, config: dict) -> bytes:
    return json.dumps({"kind": kind, "config": config}).encode()


MFE, VE = "ModelFormatError", "ValueError"
DECLARES_256_MIB = "declares 268,435,456 bytes"
FIFO_WORDS = ("FIFO", "not a regular file")
# (name, loader, make(sources) -> path, expected error or None, words of the message)
CASES = [
    # 1. compression methods other than stored and deflate, sizes that lie
    ("BZIP2 bomb as model weights", "load_model", lambda s: _zip(
        s.path("bz.keras"), s.model, s.bz2_member(WEIGHTS, s.weights)), MFE, ["BZIP2"]),
    ("BZIP2 bomb as weights", "load_weights", lambda s: _zip(
        s.path("bz_w.keras"), {WEIGHTS: s.weights}, s.bz2_member(WEIGHTS, s.weights)),
     MFE, ["BZIP2"]),
    ("BZIP2 bomb as RBM weights", "RBM.load", lambda s: _zip(
        s.path("bz_rbm.zip"), s.rbm, s.bz2_member(UNSUPERVISED, s.rbm[UNSUPERVISED])),
     MFE, ["BZIP2"]),
    ("BZIP2 bomb as DBN weights", "DBN.load", lambda s: _zip(
        s.path("bz_dbn.zip"), s.dbn, s.bz2_member(UNSUPERVISED, s.dbn[UNSUPERVISED])),
     MFE, ["BZIP2"]),
    ("LZMA model weights (valid)", "load_model", lambda s: s.lzma_model(s.path("lz.keras")),
     MFE, ["LZMA", "only stored or deflated"]),
    # 2. a deflate bomb inside the 200:1 ratio, refused for what the config needs
    ("256 MiB deflate bomb as model weights", "load_model", lambda s: _zip(
        s.path("df.keras"), s.model, s.deflate_member(WEIGHTS)),
     MFE, [DECLARES_256_MIB, "the architecture in config.json needs at most"]),
    ("256 MiB deflate bomb as weights", "load_weights", lambda s: _zip(
        s.path("df_w.keras"), {WEIGHTS: s.weights}, s.deflate_member(WEIGHTS)),
     MFE, [DECLARES_256_MIB, "Sequential's weights take at most"]),
    ("256 MiB deflate bomb as RBM weights", "RBM.load", lambda s: _zip(
        s.path("df_rbm.zip"), s.rbm, s.deflate_member(UNSUPERVISED)),
     MFE, [DECLARES_256_MIB, "the RBM its config describes"]),
    ("256 MiB deflate bomb as DBN weights", "DBN.load", lambda s: _zip(
        s.path("df_dbn.zip"), s.dbn, s.deflate_member(UNSUPERVISED)),
     MFE, [DECLARES_256_MIB, "the DBN its config describes"]),
    ("deflate member declaring 1 KB, inflating 256 MiB", "load_model", lambda s: _zip(
        s.path("liar.keras"), s.model, s.deflate_member(WEIGHTS, len(s.weights))),
     MFE, ["safetensors"]),
    # 3. a tiny config demanding huge work
    ("Conv2D on a 2048x2048 build input", "load_model", lambda s: _with_config(
        s.path("c2048.keras"), s.conv, _build_input([None, 2048, 2048, 1])),
     MFE, ["build_config.input_shape", "1048576 values"]),
    ("Conv2D on a 1024x1024 build input", "load_model", lambda s: _with_config(
        s.path("c1024.keras"), s.conv, _build_input([None, 1024, 1024, 1])),
     MFE, ["up to 37,748,736 values per sample"]),
    ("LSTM over a million steps", "load_model", lambda s: _with_config(
        s.path("lstm_1m.keras"), s.lstm, _build_input([None, 1_000_000, 1])),
     MFE, ["a recurrent layer over 1,000,000 time steps"]),
    ("Dense of 10**9 units", "load_model", lambda s: _with_config(
        s.path("units.keras"), s.model, _first_dense(10**9, 10**6)),
     MFE, ["a layer of width 1,000,000,000"]),
    ("Dense of 50,000 x 50,000 weights", "load_model", lambda s: _with_config(
        s.path("wide.keras"), s.model, _first_dense(50_000, 50_000)),
     MFE, ["more weight values than model.weights.safetensors can hold"]),
    # 4. RBM and DBN configs far larger than their arrays
    *((f"RBM config {n:,} wide with 6 x 3 weights", "RBM.load", lambda s, n=n: _zip(
        s.path(f"rbm{n}.zip"), {**s.rbm, "config.json": _kind_config(
            "RBM", {"n_visible": n, "n_hidden": n})}),
       MFE, [f"'W' of shape ({n}, {n}); found shape (6, 3)"]) for n in (15_000, 10**6)),
    ("DBN config 15,000 wide with small weights", "DBN.load", lambda s: _zip(
        s.path("dbn_big.zip"), {**s.dbn, "config.json": _kind_config(
            "DBN", {"layer_sizes": [15_000] * 3})}),
     MFE, ["'0.W' of shape (15000, 15000); found shape (6, 3)"]),
    # 5. files read by their size (not by a 4 GiB read); big ones refused unread
    ("a valid weights file", "load_arrays", lambda s: s.weights_file, None, []),
    ("a valid weights file into a model", "load_weights", lambda s: s.weights_file, None, []),
    ("300 MB of zeros as weights", "load_weights", lambda s: s.sparse_zeros(300),
     MFE, ["314,572,800 bytes"]),
    ("300 MB of zeros as a safetensors file", "load_arrays", lambda s: s.sparse_zeros(300),
     MFE, ["header is not valid JSON"]),
    # 6. FIFOs: a reader that opened one would wait forever
    *((f"a FIFO to {loader}", loader, Sources.fifo, error, list(FIFO_WORDS))
      for loader, error in (("load_model", MFE), ("load_weights", MFE), ("RBM.load", MFE),
                            ("DBN.load", MFE), ("load_arrays", MFE), ("load_mnist", VE),
                            ("load_churn", VE), ("sha256_of", VE))),
    ("a FIFO in get_file's cache (replaced, never read)", "get_file",
     Sources.fifo_in_cache, None, []),
    # 9. truncated and lying files, in words
    ("a weights file cut inside its header", "load_arrays", lambda s: s.write(
        "cut.safetensors", s.weights_file.read_bytes()[:40]),
     MFE, ["truncated: its header says it is"]),
    ("a weights file cut inside its data", "load_weights", lambda s: s.write(
        "cut_data.safetensors", s.weights_file.read_bytes()[:-20]), MFE, ["truncated: array"]),
    ("a text file as weights", "load_arrays", lambda s: s.write(
        "text.safetensors", b"This is not a weights file at all."),
     MFE, ["not safetensors data: its first 8 bytes give a header length"]),
    ("IDX declaring 2^31 x 2^31 x 4", "load_mnist", lambda s: s.write(
        "absurd-images-idx3-ubyte", _idx((2**31, 2**31, 4), bytes(100))),
     VE, ["declares an array of shape (2147483648, 2147483648, 4)", "holds 100 bytes"]),
    ("gzipped IDX declaring 10 images, inflating 512 MiB", "load_mnist", lambda s: s.write(
        "small-images-idx3-ubyte.gz", gzip_idx_bomb((10, 28, 28))),
     VE, ["holds more of data", "(10, 28, 28)"]),
    ("gzipped IDX declaring 512 MiB in 0.5 MB", "load_mnist", lambda s: s.write(
        "huge-images-idx3-ubyte.gz", gzip_idx_bomb((65536, 8192))),
     VE, ["cannot hold that much"]),
]


def _arguments(loader: str, path: pathlib.Path, sources: Sources) -> tuple[list, dict]:
    if loader == "get_file":
        return [path.name, sources.weights_file.as_uri()], {
            "cache_dir": str(sources.tmp / "cache"), "progress": False}
    return [str(path)], {}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    """Every case built here, then run by hostile_runner.py in one child process."""
    sources = Sources(tmp_path_factory.mktemp("hostile"))
    cases = []
    for name, loader, make, _, _ in CASES:
        args, kwargs = _arguments(loader, make(sources), sources)
        cases.append({"name": name, "loader": loader, "args": args, "kwargs": kwargs})
    (sources.tmp / "cases.json").write_text(json.dumps(cases))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [
               os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, str(HERE / "hostile_runner.py"),
                           str(sources.tmp / "cases.json")], env=env, capture_output=True,
                          text=True, timeout=20 * len(cases))
    assert done.returncode == 0, done.stderr
    found = {r["name"]: r for r in map(json.loads, done.stdout.splitlines())}
    return {case["name"]: {**found[case["name"]], "path": case["args"][0]} for case in cases}


@pytest.mark.parametrize("name,loader,error,words",
                         [(c[0], c[1], c[3], c[4]) for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_file(reports, name, loader, error, words):
    report = reports[name]
    if error is None:
        assert report["error"] is None, f"{report['error']}: {report['message']}"
    else:
        assert error in report["bases"], f"{report['error']}: {report['message']}"
        assert os.path.basename(report["path"]) in report["message"], report["message"]
        for phrase in words:
            assert phrase in report["message"], report["message"]
    assert report["seconds"] < MAX_SECONDS, f"took {report['seconds']:.2f} s"
    assert report["max_rss_mb"] < MAX_RSS_MB, f"peak RSS {report['max_rss_mb']:.0f} MB"
