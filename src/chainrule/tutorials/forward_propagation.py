"""Forward propagation, the quick guide's way: multiply, add, activate, layer by layer.

Network 1: input [-1, 2]; hidden node 0 has weights [3, 3], node 1 has [1, 5];
the output node has weights [2, -1]. With ReLU hidden units

    hidden = relu([3·(-1) + 3·2, 1·(-1) + 5·2]) = [3, 9],   output = 2·3 - 1·9 = -3,

and with tanh hidden units output = 2·tanh(3) - tanh(9) ≈ 0.990.

Network 2 (two hidden layers, ReLU): input [3, 5]; layer 1 weights [2, 4] and
[4, -5]; layer 2 weights [-1, 1] and [2, 2]; output weights [2, 7]:

    layer 1 = relu([26, -13]) = [26, 0],  layer 2 = relu([-26, 52]) = [0, 52],
    output = 2·0 + 7·52 = 364   (without the ReLU the same weights give 104).

Each pass is done by hand in NumPy, as the guide writes it, and with chainrule
``Dense`` layers (no bias) whose kernels hold the same weights: a Keras kernel is
(inputs, units), so node j's weights are column j.

    python examples/forward_propagation.py
"""

from __future__ import annotations

import os

import numpy as np

import chainrule as cr
from chainrule.layers import Dense

from .expected import at_most, equal, near, printed
from .progress import bar, say_if

INPUT_1 = np.array([-1.0, 2.0])
WEIGHTS_1 = {"node_0": np.array([3.0, 3.0]), "node_1": np.array([1.0, 5.0]),
             "output": np.array([2.0, -1.0])}
INPUT_2 = np.array([3.0, 5.0])
WEIGHTS_2 = {"node_0_0": np.array([2.0, 4.0]), "node_0_1": np.array([4.0, -5.0]),
             "node_1_0": np.array([-1.0, 1.0]), "node_1_1": np.array([2.0, 2.0]),
             "output": np.array([2.0, 7.0])}

KEY_NUMBERS = {k: k for k in ("relu_output", "tanh_output", "deep_output")}
EXPECTED = (
    equal("relu_hidden", [3, 9], quote="[3, 9]"), equal("relu_output", -3, quote="**−3**"),
    near("tanh_output", 2 * np.tanh(3) - np.tanh(9), 1e-15), printed("tanh_output", "0.990"),
    equal("deep_hidden_0", [26, 0], quote="[26, 0]"),
    equal("deep_hidden_1", [0, 52], quote="[0, 52]"),
    equal("deep_output", 364, quote="**364**"), equal("deep_output_without_relu", 104,
                                                      quote="104"),
    equal("dense_relu_output", -3), equal("dense_deep_output", 364),
    at_most("max_abs_difference", 1e-12),
)


def relu(x: float) -> float:
    """The guide's ReLU: max(x, 0)."""
    return max(x, 0.0)


def predict_by_hand(input_data: np.ndarray, weights: dict, activation=relu) -> dict:
    """Network 1 as the guide writes it: one line per node."""
    node_0 = activation((input_data * weights["node_0"]).sum())
    node_1 = activation((input_data * weights["node_1"]).sum())
    hidden = np.array([node_0, node_1])
    return {"hidden": hidden, "output": float((hidden * weights["output"]).sum())}


def predict_with_network(input_data: np.ndarray, weights: dict, activation=relu) -> dict:
    """Network 2 as the guide writes it: two ReLU hidden layers, a linear output."""
    node_0_0 = activation((input_data * weights["node_0_0"]).sum())
    node_0_1 = activation((input_data * weights["node_0_1"]).sum())
    hidden_0 = np.array([node_0_0, node_0_1])
    node_1_0 = activation((hidden_0 * weights["node_1_0"]).sum())
    node_1_1 = activation((hidden_0 * weights["node_1_1"]).sum())
    hidden_1 = np.array([node_1_0, node_1_1])
    return {"hidden_0": hidden_0, "hidden_1": hidden_1,
            "output": float((hidden_1 * weights["output"]).sum())}


def dense_with(node_weights: list[np.ndarray], activation: str | None) -> Dense:
    """A bias-free Dense layer whose node j has weights ``node_weights[j]`` (column j)."""
    layer = Dense(len(node_weights), activation=activation, use_bias=False,
                  input_dim=len(node_weights[0]))
    layer.kernel.data = np.stack(node_weights, axis=1).astype(layer.kernel.dtype)
    return layer


def forward_with_layers(input_data: np.ndarray, layers: list[Dense]) -> list[np.ndarray]:
    """Every layer's output for one sample (batch of one), as NumPy vectors."""
    x, outputs = cr.tensor(input_data[None, :]), []
    for layer in layers:
        x = layer(x)
        outputs.append(x.numpy()[0])
    return outputs


def main(out_dir: str | os.PathLike | None = None, quick: bool = False,
         verbose: bool = False) -> dict:
    """Run both networks by hand and with Dense layers; return every node's value."""
    say = say_if(verbose)
    progress = bar(2, "forward_propagation: by hand, with Dense", verbose)
    previous = cr.get_default_dtype()
    cr.set_default_dtype(np.float64)
    try:
        by_hand = {"relu": predict_by_hand(INPUT_1, WEIGHTS_1),
                   "tanh": predict_by_hand(INPUT_1, WEIGHTS_1, activation=np.tanh)}
        deep = predict_with_network(INPUT_2, WEIGHTS_2)
        progress.update()
        layered = {}
        for act in ("relu", "tanh"):
            hidden, out = forward_with_layers(INPUT_1, [
                dense_with([WEIGHTS_1["node_0"], WEIGHTS_1["node_1"]], act),
                dense_with([WEIGHTS_1["output"]], None)])
            layered[act] = {"hidden": hidden, "output": float(out[0])}
        h0, h1, out = forward_with_layers(INPUT_2, [
            dense_with([WEIGHTS_2["node_0_0"], WEIGHTS_2["node_0_1"]], "relu"),
            dense_with([WEIGHTS_2["node_1_0"], WEIGHTS_2["node_1_1"]], "relu"),
            dense_with([WEIGHTS_2["output"]], None)])
        progress.update()
    finally:
        cr.set_default_dtype(previous)
        progress.close()
    result = {
        "relu_hidden": by_hand["relu"]["hidden"].tolist(),
        "relu_output": by_hand["relu"]["output"],
        "tanh_output": by_hand["tanh"]["output"],
        "deep_hidden_0": deep["hidden_0"].tolist(),
        "deep_hidden_1": deep["hidden_1"].tolist(),
        "deep_output": deep["output"],
        "deep_output_without_relu": predict_with_network(INPUT_2, WEIGHTS_2,
                                                         activation=float)["output"],
        "dense_relu_output": layered["relu"]["output"],
        "dense_tanh_output": layered["tanh"]["output"],
        "dense_deep_output": float(out[0]),
        "plots": {},
    }
    result["max_abs_difference"] = max(
        abs(result["dense_relu_output"] - result["relu_output"]),
        abs(result["dense_tanh_output"] - result["tanh_output"]),
        abs(result["dense_deep_output"] - result["deep_output"]),
        float(np.abs(layered["relu"]["hidden"] - by_hand["relu"]["hidden"]).max()),
        float(np.abs(h0 - deep["hidden_0"]).max()), float(np.abs(h1 - deep["hidden_1"]).max()))
    say(f"network 1, ReLU: hidden = {result['relu_hidden']}, output = "
        f"{result['relu_output']:g} (Dense layers: {result['dense_relu_output']:g})")
    say(f"network 1, tanh: output = {result['tanh_output']:.3f} "
        f"(Dense layers: {result['dense_tanh_output']:.3f})")
    say(f"network 2, ReLU: layer 1 = {result['deep_hidden_0']}, layer 2 = "
        f"{result['deep_hidden_1']}, output = {result['deep_output']:g} "
        f"(Dense layers: {result['dense_deep_output']:g}; without the ReLU: "
        f"{result['deep_output_without_relu']:g})")
    say(f"largest difference, by hand vs Dense layers: {result['max_abs_difference']:.1e}")
    return result

