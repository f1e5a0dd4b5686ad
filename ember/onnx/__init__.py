"""ONNX export (issue 10): not built yet. The module exists so that programs importing ember.onnx at the top run;
calling export says what is missing."""

__all__ = ["export", "is_in_onnx_export"]


def export(model, args=(), f=None, *rest, **kwargs):
    """torch.onnx.export: not built yet (issue 10)."""
    raise NotImplementedError("ember.onnx.export: ONNX export is not built yet")


def is_in_onnx_export():
    """False: no ONNX export runs (torch.onnx.is_in_onnx_export)."""
    return False
