"""ember.onnx: ONNX export (torch.onnx's API).

    ember.onnx.export(model, (x,), "model.onnx", input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})

The model is traced with the compiler's graph capture and each registry op becomes ONNX nodes through its ONNX
rule (``ember/onnx/symbolic``, one module per op family). The onnx package is needed only to export
(``pip install 'ember[onnx]'``).
"""
from . import symbolic  # noqa: F401  (fills the registry's onnx_rule slots)
from ._builder import OnnxExporterError, UnsupportedOperatorError
from ._exporter import export, exporting

__all__ = ["export", "is_in_onnx_export", "OnnxExporterError", "UnsupportedOperatorError"]


def is_in_onnx_export():
    """True while ember.onnx.export runs the model (torch.onnx.is_in_onnx_export).

    >>> ember.onnx.is_in_onnx_export()
    False
    """
    return exporting()
