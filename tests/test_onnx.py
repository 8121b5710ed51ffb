"""ONNX export (issue 12): for one model per layer family and for the tutorials' models,
onnxruntime's outputs equal ``model.predict`` to 1e-5 at batch sizes 1 and 7 and
``onnx.checker`` passes; layers that cannot be exported raise an error naming them.
Run with ``-s`` to see the largest difference per model."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnx  # noqa: E402
from onnx_helpers import check_export, randomize, run_onnx  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import layers as L  # noqa: E402
from chainrule import no_grad  # noqa: E402
from chainrule.models import Sequential  # noqa: E402
from chainrule.onnx import OnnxExportError  # noqa: E402
from chainrule.onnx.graph import OnnxGraph, Value, apply  # noqa: E402
from chainrule.tutorials.char_transformer import char_lstm, char_windows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def floats(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def ids(*shape, high=20, seed=0):
    return np.random.default_rng(seed).integers(0, high, shape).astype(np.int64)


# one model per layer family: (layers, inputs)
FAMILIES = {
    "dense_activations": (lambda: [
        L.GaussianNoise(0.1), L.Dense(8, activation="sigmoid"), L.Dense(8, activation="tanh"),
        L.Activation("relu"), L.Dense(8, activation="leaky_relu"),
        L.Dense(8, activation="elu"), L.Dropout(0.5), L.Dense(8, activation="gelu"),
        L.Dense(8, activation="linear"), L.Dense(4, activation="softmax")], floats(7, 5)),
    "flatten_reshape": (lambda: [
        L.Reshape((3, 4)), L.Dense(5, activation="relu"), L.Flatten(), L.Reshape((-1, 5)),
        L.Dense(2)], floats(7, 12)),
    "conv2d_pooling": (lambda: [
        L.RandomFlip(), L.RandomTranslation(0.1, 0.1),
        L.Conv2D(6, 3, strides=2, padding="same", activation="relu"),
        L.Conv2D(5, (3, 2), dilation_rate=2), L.MaxPooling2D(2, padding="same"),
        L.AveragePooling2D((2, 3), strides=1, padding="same"), L.MaxPooling2D((2, 1)),
        L.BatchNormalization(), L.GlobalAveragePooling2D()], floats(7, 17, 16, 3)),
    "conv1d_pooling": (lambda: [
        L.Conv1D(6, 5, padding="same", activation="tanh"), L.Conv1D(4, 3, strides=2),
        L.MaxPooling1D(3, strides=2, padding="same"), L.AveragePooling1D(2, padding="same"),
        L.AveragePooling1D(2), L.UpSampling1D(3), L.ZeroPadding1D((2, 1)),
        L.Cropping1D((1, 3)), L.GlobalMaxPooling1D(keepdims=True), L.Flatten()],
        floats(7, 23, 2)),
    "conv_transpose_upsampling": (lambda: [
        L.Conv2DTranspose(4, 3, strides=2, padding="same"),
        L.Conv2DTranspose(3, 2, strides=3, activation="sigmoid"),
        L.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1),
        L.Conv2DTranspose(2, 4, strides=2, padding="same", dilation_rate=1),
        L.UpSampling2D((2, 1)), L.UpSampling2D(2, interpolation="bilinear"),
        L.ZeroPadding2D(((1, 0), (2, 1))), L.Cropping2D(((0, 1), (2, 0))),
        L.GlobalMaxPooling2D()], floats(7, 3, 2, 2)),
    "normalization": (lambda: [
        L.BatchNormalization(axis=1), L.LayerNormalization(), L.BatchNormalization(axis=2),
        L.LayerNormalization(center=False, scale=False), L.Dense(3)], floats(7, 4, 6)),
    "global_pooling_1d": (lambda: [
        L.GlobalAveragePooling1D(keepdims=True), L.Flatten(), L.Dense(2)], floats(7, 5, 3)),
    "embedding": (lambda: [
        L.Embedding(20, 6, input_length=5), L.Flatten(), L.Dense(3, activation="softmax")],
        ids(7, 5)),
    "time_distributed": (lambda: [
        L.TimeDistributed(L.Dense(4, activation="relu")),
        L.TimeDistributed(L.Reshape((2, 2))), L.TimeDistributed(L.Flatten()),
        L.GlobalAveragePooling1D()], floats(7, 5, 3)),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_layer_family_matches_predict(family, tmp_path):
    make, x = FAMILIES[family]
    cr.manual_seed(0)
    model = Sequential(make())
    model.build((None, *x.shape[1:]), dtype=x.dtype)
    randomize(model)
    check_export(model, x, tmp_path, family, sample_input=x[:2])


RECURRENT = {
    "simple_rnn_relu": lambda **kw: L.SimpleRNN(5, activation="relu", **kw),
    "simple_rnn_linear": lambda **kw: L.SimpleRNN(5, activation="linear", **kw),
    "lstm": lambda **kw: L.LSTM(5, **kw),
    "lstm_no_bias": lambda **kw: L.LSTM(5, use_bias=False, **kw),
    "gru_reset_after": lambda **kw: L.GRU(5, **kw),
    "gru_reset_before": lambda **kw: L.GRU(5, reset_after=False, **kw),
}


@pytest.mark.parametrize("return_sequences,go_backwards",
                         [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_recurrent_layers_match_predict(kind, return_sequences, go_backwards, tmp_path):
    cr.manual_seed(0)
    rnn = RECURRENT[kind](return_sequences=return_sequences, go_backwards=go_backwards)
    model = Sequential([rnn, L.Flatten()])
    x = floats(7, 6, 4)
    model.build((None, 6, 4))
    randomize(model)
    label = f"{kind}{'_sequences' * return_sequences}{'_backwards' * go_backwards}"
    check_export(model, x, tmp_path, label, sample_input=x[:2])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_bidirectional_matches_predict(cell, merge_mode, tmp_path):
    cr.manual_seed(0)
    model = Sequential([L.Bidirectional(getattr(L, cell)(4, return_sequences=True),
                                        merge_mode=merge_mode),
                        L.Bidirectional(L.SimpleRNN(3), merge_mode=merge_mode)])
    model.build((None, 6, 3))
    randomize(model)
    check_export(model, floats(7, 6, 3), tmp_path, f"bidirectional_{cell}_{merge_mode}")


class SelfAttention(cr.models.Model):
    """A subclassed model, traced: attention(x, x), then a norm and a head."""

    def __init__(self, causal: bool):
        super().__init__()
        self.causal = causal
        self.attention = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5,
                                              output_shape=6)
        self.norm = L.LayerNormalization()
        self.head = L.Dense(4, activation="softmax")

    def forward(self, x):
        return self.head(self.norm(self.attention(x, x, use_causal_mask=self.causal)))


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_predict(causal, tmp_path):
    cr.manual_seed(0)
    model = SelfAttention(causal)
    x = floats(7, 5, 8)
    model.build((None, 5, 8))
    randomize(model)
    check_export(model, x, tmp_path, f"multi_head_attention{'_causal' * causal}",
                 sample_input=x[:2])


def export_call(layer, inputs: list, tmp_path, **options) -> list:
    """One layer call with several inputs or outputs (what a functional model hands a
    converter) as an ONNX file of its own; returns (onnxruntime's, chainrule's) outputs
    for the inputs' first 7 rows and first row."""
    g = OnnxGraph()
    values = [Value(g.reserve(f"in_{i}"), x[:2]) for i, x in enumerate(inputs)]
    with no_grad():
        out = apply(g, layer, *values, **options)
    outs = out if isinstance(out, list) else [out]
    names = [f"out_{i}" for i in range(len(outs))]
    for v, name in zip(outs, names):
        g.rename_output(v.name, g.reserve(name))
    proto = g.model([(v.name, v.data) for v in values],
                    [(n, v.data) for n, v in zip(names, outs)], producer="test")
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(tmp_path / "call.onnx"))
    pairs = []
    for n in (1, 7):
        got = run_onnx(tmp_path / "call.onnx", [x[:n] for x in inputs])
        with no_grad():
            want = layer(*[x[:n] for x in inputs], **options)
        want = want if isinstance(want, list | tuple) else [want]
        pairs += list(zip(got, [w.numpy() for w in want]))
    return pairs


@pytest.mark.parametrize("layer,shapes,options", [
    (L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True), merge_mode=None),
     [(6, 4)], {}),
    (L.Bidirectional(L.GRU(3, return_state=True)), [(6, 4)], {}),
    (L.LSTM(3, return_state=True, go_backwards=True), [(6, 4)], {}),
    (L.MultiHeadAttention(2, 3, value_dim=4), [(5, 6), (4, 7), (4, 8)],
     {"return_attention_scores": True}),
    (L.MultiHeadAttention(3, 2, use_bias=False), [(5, 6), (5, 6)],
     {"use_causal_mask": True, "return_attention_scores": True}),
])
def test_calls_with_several_inputs_or_outputs(layer, shapes, options, tmp_path):
    cr.manual_seed(0)
    inputs = [floats(7, *shape, seed=i) for i, shape in enumerate(shapes)]
    layer(*[x[:2] for x in inputs], **options)  # build
    randomize(layer)
    pairs = export_call(layer, inputs, tmp_path, **options)
    assert len(pairs) > 2
    for got, want in pairs:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ the tutorials' models

def test_churn_classifier_matches_predict(tmp_path):
    """The seed tutorial's network, trained for two epochs on the shipped churn data."""
    x, y, _ = cr.datasets.load_churn()
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    cr.manual_seed(0)
    model = Sequential([
        L.Dense(units=6, kernel_initializer="uniform", activation="relu", input_dim=11),
        L.Dense(units=6, kernel_initializer="uniform", activation="relu"),
        L.Dense(units=1, kernel_initializer="uniform", activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, batch_size=10, epochs=2, verbose=0)
    check_export(model, x[:7].astype(np.float32), tmp_path, "churn")


def test_mnist_cnn_matches_predict(tmp_path):
    """chainrule.tutorials.mnist_cnn's CNN (with its RandomTranslation), one epoch on
    1,000 shipped MNIST images."""
    from chainrule.tutorials.mnist_cnn import build_cnn

    images, labels = cr.datasets.load_mnist()
    x = (images[:1000, ..., None] / 255).astype(np.float32)
    cr.manual_seed(0)
    model = build_cnn(augment=True)
    model.fit(x, labels[:1000].astype(np.int64), batch_size=64, epochs=1, verbose=0)
    check_export(model, x[-7:], tmp_path, "mnist_cnn")


def test_character_lstm_matches_predict(tmp_path):
    """The character-level LSTM of examples/sequences.py and the char_transformer
    walkthrough (Embedding, LSTM(128), Dense softmax), one epoch on its text."""
    text = " ".join(cr.datasets.chain_rule_text().lower().split())
    chars, x, y = char_windows(text)
    cr.manual_seed(0)
    model = char_lstm(len(chars))
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    check_export(model, x[:7], tmp_path, "char_lstm", sample_input=x[:2])


# ------------------------------------------------------------------ the file itself

def test_file_has_names_dynamic_batch_and_opset(tmp_path):
    cr.manual_seed(0)
    model = Sequential([L.Embedding(20, 4, input_length=5), L.Flatten(), L.Dense(2)])
    proto = cr.onnx.export(model, tmp_path / "m.onnx")
    assert proto == onnx.load(str(tmp_path / "m.onnx"))
    assert [o.version for o in proto.opset_import] == [17]
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("input", "output")
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = [(d.dim_param, d.dim_value) for d in inp.type.tensor_type.shape.dim]
    assert dims == [("batch", 0), ("", 5)]
    assert out.type.tensor_type.shape.dim[0].dim_param == "batch"
    x = ids(3, 5)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x)[0], model.predict(x),
                               rtol=1e-5, atol=1e-5)
    as_floats = cr.onnx.export(model, tmp_path / "f.onnx", sample_input=x.astype(np.float64))
    assert as_floats.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64


def test_model_export_is_cr_onnx_export(tmp_path):
    cr.manual_seed(0)
    model = Sequential([L.Dense(3, input_dim=4, activation="tanh")])
    proto = model.export(tmp_path / "a.onnx", format="onnx")
    cr.onnx.export(model, tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert proto.SerializeToString() == (tmp_path / "a.onnx").read_bytes()
    with pytest.raises(ValueError, match="Unknown export format 'tflite'.*onnx"):
        model.export(tmp_path / "c.tflite", format="tflite")


def test_inference_mode_whatever_the_training_flag(tmp_path):
    """Exported in training mode: still BatchNormalization's moving statistics and no
    dropout, and the model's flags are left as they were."""
    cr.manual_seed(0)
    model = Sequential([L.Dense(6, input_dim=4), L.BatchNormalization(), L.Dropout(0.5),
                        L.Dense(2)])
    model.build((None, 4))
    randomize(model)
    model.train()
    moving = model.state_dict()["1.moving_mean"].copy()
    check_export(model, floats(7, 4), tmp_path, "training_flag")
    assert all(m.training for m in model.modules())
    np.testing.assert_array_equal(model.state_dict()["1.moving_mean"], moving)


class Chain(cr.models.Model):
    def __init__(self):
        super().__init__()
        self.hidden = L.Dense(5, activation="relu", name="hidden")
        self.out = L.Dense(2, name="out")

    def forward(self, x):
        return self.out(self.hidden(x))


class Residual(Chain):
    def forward(self, x):
        return self.out(self.hidden(x) + x)


def test_subclassed_chain_is_traced_and_a_branch_is_refused(tmp_path):
    cr.manual_seed(0)
    chain = Chain()
    chain.build((None, 5))
    check_export(chain, floats(7, 5), tmp_path, "subclassed_chain")
    residual = Residual()
    residual.build((None, 5))
    with pytest.raises(OnnxExportError, match=r"'residual.*\(Residual\).*cannot be traced as a "
                                              r"chain.*'out' is not called on the output"):
        cr.onnx.export(residual, tmp_path / "r.onnx")


# ------------------------------------------------------------------ what cannot be exported

def double(x):
    return x * 2


class Scale(L.Layer):
    def forward(self, x):
        return x * 3


@pytest.mark.parametrize("layer,pattern", [
    (L.LSTM(3, activation=double, name="custom_lstm"),
     r"layer 'custom_lstm' \(LSTM\).*activations are not all built-in"),
    (L.GRU(3, recurrent_activation=double, name="custom_gru"),
     r"layer 'custom_gru' \(GRU\).*activations are not all built-in"),
    (L.Dense(3, activation=double, name="custom_dense"),
     r"layer 'custom_dense' \(Dense\).*activation 'double' is not one of chainrule's"),
    (Scale(name="scale"), r"layer 'scale' \(Scale\).*no ONNX converter for .*Scale"),
])
def test_unsupported_layers_raise_naming_the_layer(layer, pattern, tmp_path):
    model = Sequential([layer])
    model.build((None, 4, 3))
    with pytest.raises(OnnxExportError, match=pattern):
        cr.onnx.export(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


class MaskedAttention(SelfAttention):
    def forward(self, x):
        mask = np.ones((x.shape[0], x.shape[1], x.shape[1]), dtype=bool)
        return self.attention(x, x, attention_mask=mask)


def test_attention_masks_from_data_are_refused(tmp_path):
    model = MaskedAttention(causal=False)
    model.build((None, 5, 8))
    with pytest.raises(OnnxExportError, match="tensor as a keyword argument"):
        cr.onnx.export(model, tmp_path / "m.onnx")


def test_unknown_input_shape_and_float64_are_refused(tmp_path):
    with pytest.raises(OnnxExportError, match="input shape is not known.*sample_input="):
        cr.onnx.export(Sequential([L.Dense(2)]), tmp_path / "m.onnx")
    cr.set_default_dtype(np.float64)
    with pytest.raises(OnnxExportError, match=r"float32 models.*\['float64'\] weights"):
        cr.onnx.export(Sequential([L.Dense(2, input_dim=3)]), tmp_path / "m.onnx")


def test_import_chainrule_does_not_import_onnx():
    code = "import sys, chainrule as cr; cr.onnx.export; print(sorted(m for m in sys.modules " \
           "if m.split('.')[0] in ('onnx', 'onnxruntime')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
