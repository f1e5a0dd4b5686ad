"""Printing tensors the way PyTorch does: tensor([...], dtype=..., requires_grad=True).

A port of the rules in torch/_tensor_str.py: one width for all elements (so columns align and a minus sign gets
its own column), integer-valued floats as ``1.``, scientific notation when the magnitudes span more than 1e3 or
reach 1e8 (or, for non-integers, drop below 1e-4), and ``...`` summaries for tensors over 1000 elements.
"""
import math

import numpy as np

from . import dtypes as _dt
from ._sparse import SparseCOO

__all__ = ["set_printoptions", "get_printoptions"]


class _PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = _PrintOptions()

_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Set how tensors print, like torch.set_printoptions (profile: 'default', 'short' or 'full')."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r} (expected one of {sorted(_PROFILES)})")
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth) = _PROFILES[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    """The current print options as a dict."""
    return {k: getattr(PRINT_OPTS, k) for k in ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")}


class _Formatter:
    """Chooses one format (integer, fixed or scientific) and one width for all the elements of a tensor."""

    def __init__(self, arr):
        self.floating = arr.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        p = PRINT_OPTS.precision
        flat = arr.reshape(-1)
        if not self.floating:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(f"{value}"))
        else:
            vals = flat[np.isfinite(flat) & (flat != 0)]
            if vals.size:
                absvals = np.abs(vals.astype(np.float64))
                lo, hi = float(absvals.min()), float(absvals.max())
                self.int_mode = bool(np.all(vals == np.ceil(vals)))
                values = vals.tolist()
                if self.int_mode:
                    if hi / lo > 1000.0 or hi > 1.0e8:
                        self.sci_mode = True
                        widths = [len(f"{v:.{p}e}") for v in values]
                    else:
                        widths = [len(f"{v:.0f}") + 1 for v in values]
                elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
                    self.sci_mode = True
                    widths = [len(f"{v:.{p}e}") for v in values]
                else:
                    widths = [len(f"{v:.{p}f}") for v in values]
                self.max_width = max([self.max_width] + widths)
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def width(self):
        return self.max_width

    def format(self, value):
        p = PRINT_OPTS.precision
        if self.floating:
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{p}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{p}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _summarized(arr):
    """The elements that a summarised print shows (edgeitems from each end of every dimension)."""
    e = PRINT_OPTS.edgeitems
    if arr.ndim == 0:
        return arr
    if arr.ndim == 1:
        return np.concatenate((arr[:e], arr[-e:])) if arr.shape[0] > 2 * e else arr
    if not e:
        return arr[(slice(0, 0),) * arr.ndim]
    rows = list(range(e)) + list(range(arr.shape[0] - e, arr.shape[0])) if arr.shape[0] > 2 * e \
        else range(arr.shape[0])
    return np.stack([_summarized(arr[i]) for i in rows])


def _vector_str(arr, indent, summarize, formatter):
    element_length = formatter.width() + 2
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / element_length)))
    e = PRINT_OPTS.edgeitems
    if summarize and not e:
        data = ["..."]
    elif summarize and arr.shape[0] > 2 * e:
        data = [formatter.format(v) for v in arr[:e].tolist()] + [" ..."] + \
               [formatter.format(v) for v in arr[-e:].tolist()]
    else:
        data = [formatter.format(v) for v in arr.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str(arr, indent, summarize, formatter):
    if arr.ndim == 0:
        return formatter.format(arr.item())
    if arr.ndim == 1:
        return _vector_str(arr, indent, summarize, formatter)
    e = PRINT_OPTS.edgeitems
    n = arr.shape[0]
    if summarize and n > 2 * e:
        slices = [_tensor_str(arr[i], indent + 1, summarize, formatter) for i in range(e)] + ["..."] + \
                 [_tensor_str(arr[i], indent + 1, summarize, formatter) for i in range(n - e, n)]
    else:
        slices = [_tensor_str(arr[i], indent + 1, summarize, formatter) for i in range(n)]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _add_suffixes(text, suffixes, indent, force_newline=False):
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if force_newline or last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
            force_newline = False
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _printable(arr):
    """arr as a NumPy array that prints (16-bit floats widened to float32, as PyTorch prints them)."""
    arr = np.asarray(arr.get() if hasattr(arr, "get") else arr)
    if arr.dtype == np.float16 or (_dt.bfloat16 is not None and arr.dtype == _dt.bfloat16.np):
        arr = arr.astype(np.float32)
    return arr


def host_array(t):
    """A tensor's data as a NumPy array that prints (16-bit floats widened to float32, as PyTorch prints them)."""
    return _printable(t._data)


def _array_str(arr, indent):
    """The body of an array's print (no ``tensor(``): what PyTorch shows of a sparse tensor's indices and values."""
    if arr.size == 0:
        return f"[], size={tuple(arr.shape)}"
    summarize = arr.size > PRINT_OPTS.threshold
    return _tensor_str(arr, indent, summarize, _Formatter(_summarized(arr) if summarize else arr))


def _grad_suffix(t):
    if t.grad_fn is not None:
        return [f"grad_fn={t.grad_fn!r}"]
    return ["requires_grad=True"] if t.requires_grad else []


def _sparse_repr(t, prefix):
    """PyTorch's repr of a sparse COO tensor: its indices and values, then size, nnz, dtype and layout."""
    data = t._data
    indent = len(prefix)
    suffixes = [f"size={tuple(data.shape)}", f"nnz={data.nnz}"]
    if t.dtype not in (_dt.get_default_dtype(), _dt.int64, _dt.bool):
        suffixes.append(f"dtype={t.dtype!r}")
    suffixes.append("layout=ember.sparse_coo")
    body = (f"indices=tensor({_array_str(data.indices, indent + 15)}),\n{' ' * indent}"
            f"values=tensor({_array_str(_printable(data.values), indent + 14)})")
    return _add_suffixes(prefix + body, suffixes + _grad_suffix(t), indent, force_newline=True)


def tensor_repr(t, prefix="tensor("):
    """PyTorch's repr of a tensor."""
    if t._data.__class__ is SparseCOO:
        return _sparse_repr(t, prefix)
    arr = host_array(t)
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    d = t.dtype
    default = _dt.get_default_dtype()
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if d is not default:
            suffixes.append(f"dtype={d!r}")
        body = "[]"
    else:
        if d not in (default, _dt.int64, _dt.bool):
            suffixes.append(f"dtype={d!r}")
        summarize = arr.size > PRINT_OPTS.threshold
        formatter = _Formatter(_summarized(arr) if summarize else arr)
        body = _tensor_str(arr, indent, summarize, formatter)
    return _add_suffixes(prefix + body, suffixes + _grad_suffix(t), indent)
