"""Reverse-mode automatic differentiation (PyTorch's torch.autograd), one concern per module:

- ``grad_mode``: whether operations are recorded (no_grad, enable_grad, set_grad_enabled, inference_mode);
- ``graph``: graph nodes, ``apply`` (run an op and record it), ``record``, version counters;
- ``engine``: ``backward`` and ``grad``;
- ``function``: ``Function``, ops written in Python with their own gradient rule;
- ``gradcheck``: gradients against finite differences;
- ``functional``: jacobian, hessian and the vector products of Python functions;
- ``anomaly_mode``: detect_anomaly (the engine names the node whose gradient holds a NaN);
- ``variable``: the deprecated Variable.
"""
from .grad_mode import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled,
)
from .graph import Node  # noqa: F401
from .engine import backward, grad  # noqa: F401
from .function import Function, FunctionCtx  # noqa: F401
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from .anomaly_mode import (  # noqa: F401
    detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly,
)
from .variable import Variable  # noqa: F401
from . import graph, functional  # noqa: F401

__all__ = [
    "Node", "Function", "FunctionCtx", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
    "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "gradcheck", "gradgradcheck",
    "GradcheckError", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
    "Variable",
]
