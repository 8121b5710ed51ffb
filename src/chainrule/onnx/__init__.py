"""ONNX export: ``cr.onnx.export(model, "model.onnx")`` (or ``model.export(path,
format="onnx")``) writes a model as an ONNX graph that onnxruntime and other runtimes
run. Needs the ``onnx`` package (``pip install "chainrule[onnx]"``), which is imported
when a model is exported, never by ``import chainrule``. See docs/onnx.md.
"""

from ..models.model import EXPORT_FORMATS
from .export import build, export
from .graph import OPSET, OnnxExportError

EXPORT_FORMATS.add(export, "onnx")  # as Sequential registers itself with load_model

__all__ = ["OPSET", "OnnxExportError", "build", "export"]
