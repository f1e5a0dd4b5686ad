"""Printing tensors the way PyTorch does: tensor([...], dtype=..., requires_grad=True)."""
import numpy as np

from . import dtypes as _dt


def tensor_repr(t):
    arr = np.asarray(t.data.get() if hasattr(t.data, "get") else t.data)
    if _dt.bfloat16 is not None and arr.dtype == _dt.bfloat16.np:
        arr = arr.astype(np.float32)
    body = _format_array(arr)
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    default = _dt.get_default_dtype()
    if arr.size == 0 and arr.ndim > 1:
        extras.append(f"size={tuple(arr.shape)}")
    d = t.dtype
    if not (d is default or d is _dt.int64 or d is _dt.bool) or (arr.size == 0 and d is not default):
        extras.append(f"dtype={d!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn={t.grad_fn!r}")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"


def _format_array(arr):
    if arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        integral = finite.size == 0 or bool(np.all(finite == np.round(finite)))
        big = finite.size and (np.abs(finite).max() >= 1e8 or
                               (np.abs(finite[finite != 0]).min() < 1e-4 if (finite != 0).any() else False) or
                               (np.abs(finite).max() / max(np.abs(finite[finite != 0]).min(), 1e-300) > 1e3
                                if (finite != 0).any() else False))
        if big and not integral:
            fmt = {"float_kind": lambda x: f"{x:.4e}"}
        elif integral and not (finite.size and np.abs(finite).max() >= 1e8):
            fmt = {"float_kind": lambda x: f"{x:.0f}." if np.isfinite(x) else str(x)}
        else:
            fmt = {"float_kind": lambda x: f"{x:.4f}" if np.isfinite(x) else str(x)}
        return np.array2string(arr, separator=", ", formatter=fmt, prefix="tensor(", threshold=1000,
                               edgeitems=3, max_line_width=80)
    if arr.dtype.kind == "b":
        return np.array2string(arr, separator=", ", prefix="tensor(", threshold=1000,
                               formatter={"bool": lambda x: "True" if x else "False"})
    return np.array2string(arr, separator=", ", prefix="tensor(", threshold=1000, edgeitems=3, max_line_width=80)
