"""ember.onnx: ONNX export and import (torch.onnx's API for export).

    ember.onnx.export(model, (x,), "model.onnx", input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    module = ember.onnx.load("model.onnx")  # an nn.Module running the graph with ember ops

Export traces the model with the compiler's graph capture and each registry op becomes ONNX nodes through its ONNX
rule (``ember/onnx/symbolic``, one module per op family). Import maps each ONNX op to ember ops
(``ember/onnx/importers``, one module per family), so autograd flows through an imported model and its float
initializers are trainable parameters; ``ember.onnx.backend`` is onnx's Backend interface over it. The onnx
package is needed only to export or import (``pip install 'ember[onnx]'``).
"""
from . import symbolic  # noqa: F401  (fills the registry's onnx_rule slots)
from ._builder import OnnxExporterError, UnsupportedOperatorError
from ._exporter import export, exporting
from ._registry import UnsupportedOnnxOp

__all__ = ["export", "is_in_onnx_export", "load", "OnnxExporterError", "UnsupportedOperatorError",
           "UnsupportedOnnxOp"]


def is_in_onnx_export():
    """Whether ember.onnx.export is running the model now: a forward can check it to take an export-friendly path.

    Returns:
        bool: True inside ember.onnx.export's trace of the model, False otherwise.

    PyTorch:
        ``torch.onnx.is_in_onnx_export``; same semantics.

    Example:
        >>> ember.onnx.is_in_onnx_export()
        False
    """
    return exporting()


def load(f):
    """Import an ONNX model as an nn.Module whose forward runs the graph with ember ops.

    The model's float initializers become the module's parameters (trainable: autograd flows through the imported
    graph). An op ember does not implement raises UnsupportedOnnxOp. Needs the onnx package (``pip install
    'ember[onnx]'``; ImportError without it).

    Args:
        f (str, PathLike, file object, bytes or onnx.ModelProto): the model: a path, a binary file object, its
            serialized bytes, or the loaded proto.

    Returns:
        Module: the imported model; its forward takes the graph's inputs in order and returns its output (a tuple
        of them when there are several).

    PyTorch:
        No PyTorch counterpart: PyTorch exports ONNX but does not import it (``onnx2torch`` is the nearest).

    Example:
        >>> import onnx  # ember.onnx.load needs the onnx package
        >>> ember.onnx.export(nn.Linear(3, 2), ember.zeros(1, 3), "linear.onnx")
        >>> model = ember.onnx.load("linear.onnx")
        >>> model(ember.ones(1, 3)).shape
        ember.Size([1, 2])
    """
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
