"""ONNX export (issue 10): not built yet. The module exists so that programs importing ember.onnx at the top run;
calling export says what is missing."""

__all__ = ["export", "is_in_onnx_export", "load", "UnsupportedOnnxOp"]

from ._registry import UnsupportedOnnxOp


def export(model, args=(), f=None, *rest, **kwargs):
    """torch.onnx.export: not built yet (issue 10)."""
    raise NotImplementedError("ember.onnx.export: ONNX export is not built yet")


def is_in_onnx_export():
    """False: no ONNX export runs (torch.onnx.is_in_onnx_export)."""
    return False


def load(f):
    """Import an ONNX model (path, file object, bytes or onnx.ModelProto) as an nn.Module whose parameters are the
    model's initializers and whose forward runs the graph with ember ops; needs the onnx package (ember[onnx])."""
    try:
        from .loader import load as _load  # onnx is optional: imported on first use
    except ModuleNotFoundError as e:
        if e.name != "onnx":
            raise
        raise ImportError("ember.onnx.load needs the onnx package: pip install 'ember[onnx]'") from e
    return _load(f)


def __getattr__(name):
    if name == "backend":  # ember.onnx.backend needs onnx: imported on first access
        import importlib
        return importlib.import_module(".backend", __name__)
    raise AttributeError(f"module 'ember.onnx' has no attribute {name!r}")
