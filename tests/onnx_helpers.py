"""Checking an ONNX export: onnxruntime's outputs against ``model.predict`` (import it
after ``pytest.importorskip("onnxruntime")``)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

import chainrule as cr

TOLERANCE = 1e-5  # float32: onnxruntime and predict agree to this, absolute and relative
LARGEST: dict[str, float] = {}  # model -> the largest difference seen (printed by the tests)


def randomize(model, seed: int = 0, scale: float = 0.5) -> None:
    """Give every weight and buffer random values (positive moving variances), so no
    zero bias or unit statistic can hide a wrongly mapped weight."""
    rng = np.random.default_rng(seed)
    for name, p in [*model.named_parameters(), *model.named_buffers()]:
        values = rng.normal(0.0, scale, p.shape)
        if name.endswith("moving_variance"):
            values = rng.uniform(0.5, 2.0, p.shape)
        p.data[...] = values.astype(p.dtype)


def run_onnx(path, inputs) -> list[np.ndarray]:
    """onnxruntime's outputs for ``inputs`` (an array, or a list in input order)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    arrays = inputs if isinstance(inputs, list) else [inputs]
    return session.run(None, {i.name: a for i, a in zip(session.get_inputs(), arrays)})


def _rows(inputs, n: int):
    return [a[:n] for a in inputs] if isinstance(inputs, list) else inputs[:n]


def check_export(model, inputs, tmp_path, label: str, sample_input=None) -> float:
    """Export ``model``, check the file with onnx.checker, and compare onnxruntime with
    ``model.predict`` at batch sizes 1 and 7 (``inputs`` has at least 7 rows); returns
    the largest absolute difference and records it under ``label``."""
    path = tmp_path / f"{label}.onnx"
    cr.onnx.export(model, path, sample_input=sample_input)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    largest = 0.0
    for n in (1, 7):
        rows = _rows(inputs, n)
        want = model.predict(rows, batch_size=n)
        wants = want if isinstance(want, list) else [want]
        got = run_onnx(path, rows)
        assert len(got) == len(wants), (label, len(got), len(wants))
        for g, w in zip(got, wants):
            assert g.shape == w.shape and g.dtype == np.float32, (label, g.shape, w.shape)
            np.testing.assert_allclose(g, w, rtol=TOLERANCE, atol=TOLERANCE, err_msg=label)
            largest = max(largest, float(np.max(np.abs(g - w))))
    LARGEST[label] = max(LARGEST.get(label, 0.0), largest)
    print(f"ONNX {label}: largest |onnxruntime - predict| = {largest:.3g}")
    return largest
