"""Hostile files against every public loader (issue 10, points 1-6 and 9), and large
legitimate models that must load from shapes alone (point 3).

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
from zero_batch_model import ZeroBatchNet

import chainrule as cr
from chainrule.layers import (
    LSTM,
    Conv2D,
    Dense,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
from chainrule.models import Model, Sequential
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
        x = cr.Input((3,), name="x")
        Model(x, Dense(1, name="y")(Dense(2, name="h")(x))).save(tmp / "graph.keras")
        self.model, self.conv, self.lstm, self.rbm, self.dbn, self.graph = (
            _members(tmp / name) for name in ("model.keras", "conv.keras", "lstm.keras",
                                              "rbm.zip", "dbn.zip", "graph.keras"))
        self.weights = self.model[WEIGHTS]
        self.bzip2 = bzip2_bomb()  # 512 MiB of zeros in about 4 KB
        self.deflated = deflate_bomb_within_ratio()  # 256 MiB in 2 MB: 128:1

    def path(self, name: str) -> pathlib.Path:
        return self.tmp / name

    def saved(self, name: str, model, input_shape: tuple) -> pathlib.Path:
        """``model`` built for ``input_shape`` and saved by chainrule."""
        cr.manual_seed(0)
        model.build(input_shape)
        model.save(self.tmp / name)
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


def _graph_node(layer: str, refers_to: str):
    """Make the functional graph's layer ``layer`` read ``refers_to``'s output."""
    def change(config):
        entry = next(e for e in config["config"]["layers"] if e["name"] == layer)
        entry["inbound_nodes"][0]["args"][0]["keras_history"] = [refers_to, 0, 0]
    return change


def _graph_layers(n: int):
    return lambda config: config["config"]["layers"].extend(
        {"name": f"l{i}", "class_name": "Dense", "config": {"units": 1, "name": f"l{i}"}}
        for i in range(n))


def _graph_units(units: int):
    return lambda config: next(e for e in config["config"]["layers"] if e["name"] == "h")[
        "config"].update(units=units)


def _idx(dims, body: bytes) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + body


def _kind_config(kind: str, config: dict) -> bytes:
    return json.dumps({"kind": kind, "config": config}).encode()


MFE, VE = "ModelFormatError", "ValueError"
MORE_WEIGHTS = "more weight values than model.weights.safetensors can hold"
ZERO_BATCH_LOADER = "load_model with ZeroBatchNet"
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
    # 3. a tiny config demanding huge work: layers build from shapes (no data runs), so
    # a large input costs only the weights it implies, which the weights member bounds
    ("Conv2D + Flatten + Dense rebuilt for 2048x2048 input", "load_model",
     lambda s: _with_config(s.path("c2048.keras"), s.conv, _build_input(
         [None, 2048, 2048, 1])), MFE, [MORE_WEIGHTS]),
    ("Conv2D + Flatten + Dense rebuilt for 1024x1024 input", "load_model",
     lambda s: _with_config(s.path("c1024.keras"), s.conv, _build_input(
         [None, 1024, 1024, 1])), MFE, [MORE_WEIGHTS]),
    ("LSTM saved for 5 steps, rebuilt for a million (loads)", "load_model",
     lambda s: _with_config(s.path("lstm_1m.keras"), s.lstm, _build_input(
         [None, 1_000_000, 3])), None, []),
    ("Dense of 10**9 units", "load_model", lambda s: _with_config(
        s.path("units.keras"), s.model, _first_dense(10**9, 10**6)), MFE, [MORE_WEIGHTS]),
    ("Dense of 50,000 x 50,000 weights", "load_model", lambda s: _with_config(
        s.path("wide.keras"), s.model, _first_dense(50_000, 50_000)), MFE, [MORE_WEIGHTS]),
    ("absurd build input, 2**31 x 2**31 values a sample", "load_model",
     lambda s: _with_config(s.path("absurd.keras"), s.conv, _build_input(
         [None, 2**31, 2**31, 1])),
     MFE, ["build_config.input_shape", "at most 4,294,967,296 values a sample"]),
    ("functional graph with a cycle", "load_model", lambda s: _with_config(
        s.path("cycle.keras"), s.graph, _graph_node("h", "y")), MFE, ["never made"]),
    ("functional graph of 10,003 layers", "load_model", lambda s: _with_config(
        s.path("many.keras"), s.graph, _graph_layers(10_000)), MFE, ["at most 10000"]),
    ("functional graph with a Dense of 10**9 units", "load_model", lambda s: _with_config(
        s.path("graph_units.keras"), s.graph, _graph_units(10**9)), MFE, [MORE_WEIGHTS]),
    # ... and large legitimate models saved by chainrule load, from shapes alone
    ("224x224x3 CNN with 64 filters (loads)", "load_model", lambda s: s.saved(
        "cnn224.keras", Sequential([
            Conv2D(64, 3, padding="same", activation="relu"), MaxPooling2D(2),
            Conv2D(64, 3, padding="same", activation="relu"), GlobalAveragePooling2D(),
            Dense(10, activation="softmax")]), (None, 224, 224, 3)), None, []),
    ("Conv2D on 2048x2048x1 (loads)", "load_model", lambda s: s.saved(
        "conv2048.keras", Sequential([Conv2D(16, 3, activation="relu"), MaxPooling2D(4),
                                      Conv2D(16, 3), GlobalMaxPooling2D(), Dense(1)]),
        (None, 2048, 2048, 1)), None, []),
    ("LSTM of 64 units over 100,000 steps (loads)", "load_model", lambda s: s.saved(
        "lstm_long.keras", Sequential([LSTM(64), Dense(1)]), (None, 100_000, 8)), None, []),
    # a subclassed model that cannot say its shapes is built on a bounded zero batch
    ("subclassed model, a zero batch near the bound (loads)", ZERO_BATCH_LOADER,
     lambda s: s.saved("zb_ok.keras", ZeroBatchNet(Sequential([
         Conv2D(64, 3, padding="same"), GlobalAveragePooling2D(), Dense(1)])),
         (None, 160, 160, 1)), None, []),
    ("subclassed model, a zero batch of 2048x2048 through 64 filters", ZERO_BATCH_LOADER,
     lambda s: _with_config(s.path("zb_big.keras"), _members(s.saved(
         "zb_small.keras", ZeroBatchNet(Sequential([
             Conv2D(64, 3, padding="same"), GlobalAveragePooling2D(), Dense(1)])),
         (None, 16, 16, 1))), _build_input([None, 2048, 2048, 1])),
     MFE, ["ZeroBatchNet cannot be built from shapes alone",
           "up to 2,415,919,104 values per sample"]),
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
