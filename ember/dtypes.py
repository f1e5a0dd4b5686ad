"""dtype objects, the default float dtype, and PyTorch's type-promotion rules."""
import builtins as _builtins
import contextlib

import numpy as np

_py_float, _py_int, _py_bool = _builtins.float, _builtins.int, _builtins.bool

try:  # bfloat16 on the CPU comes from ml_dtypes, an optional package
    import ml_dtypes as _ml_dtypes
except ImportError:  # pragma: no cover - depends on the environment
    _ml_dtypes = None

__all__ = [
    "dtype", "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
    "half", "float", "double", "short", "int", "long", "get_default_dtype", "set_default_dtype", "promote_types",
    "result_type", "can_cast", "finfo", "iinfo",
]

_BOOL, _INT, _FLOAT = 0, 1, 2


class dtype:
    """A tensor element type, such as ``ember.float32`` or ``ember.int64``.

    Each wraps a NumPy dtype (``.np``) and knows its size in bytes (``.itemsize``), whether it is a floating-point
    type (``.is_floating_point``) or signed (``.is_signed``), and its promotion category (bool < integer < float).
    Use the module's dtypes (``ember.bool``, ``uint8``, ``int8``, ``int16``, ``int32``, ``int64``, ``float16``,
    ``bfloat16``, ``float32``, ``float64`` and the aliases ``half``, ``float``, ``double``, ``short``, ``int``,
    ``long``) rather than building new ones.

    Args:
        name (str): the dtype's name, e.g. "float32".
        np_dtype (numpy dtype or type): the NumPy dtype that holds the elements.
        category (int): the promotion category: 0 bool, 1 integer, 2 floating point.

    PyTorch:
        ``torch.dtype``; the same dtype objects and attributes (``is_floating_point``, ``is_signed``, ``itemsize``)
        for the types ember has (no complex, unsigned 16-64 bit or float8 types); ``.np`` is ember's own.

    Example:
        >>> ember.float32.is_floating_point, ember.int64.itemsize
        (True, 8)
        >>> ember.tensor([1, 2]).dtype
        ember.int64
    """

    __slots__ = ("name", "np", "category", "itemsize")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize

    @property
    def is_floating_point(self):
        return self.category == _FLOAT

    @property
    def is_signed(self):
        return self.name not in ("bool", "uint8")

    def __repr__(self):
        return "ember." + self.name

    def __reduce__(self):
        return (_from_name, (self.name,))


def _from_name(name):
    return _BY_NAME[name]


bool = dtype("bool", np.bool_, _BOOL)
uint8 = dtype("uint8", np.uint8, _INT)
int8 = dtype("int8", np.int8, _INT)
int16 = dtype("int16", np.int16, _INT)
int32 = dtype("int32", np.int32, _INT)
int64 = dtype("int64", np.int64, _INT)
float16 = dtype("float16", np.float16, _FLOAT)
float32 = dtype("float32", np.float32, _FLOAT)
float64 = dtype("float64", np.float64, _FLOAT)
bfloat16 = dtype("bfloat16", _ml_dtypes.bfloat16, _FLOAT) if _ml_dtypes is not None else None
half, float, double, short, int, long = float16, float32, float64, int16, int32, int64

_ALL = [d for d in (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64) if d is not None]
_BY_NAME = {d.name: d for d in _ALL}
_BY_NP = {d.np: d for d in _ALL}

_default_float = float32


def from_numpy_dtype(np_dtype):
    """The ember dtype for a NumPy dtype, or TypeError for one ember does not support."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        pass
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"ember does not support the NumPy dtype {np_dtype}") from None


def to_dtype(d):
    """Accept an ember dtype, a NumPy dtype, a Python type or a name, and return the ember dtype."""
    if d.__class__ is dtype:
        return d
    if d is None:
        return None
    if d is _py_float:
        return _default_float
    if d is _py_int:
        return int64
    if d is _py_bool:
        return bool
    if isinstance(d, str):
        if d in _BY_NAME:
            return _BY_NAME[d]
        raise TypeError(f"unknown dtype name {d!r}")
    return from_numpy_dtype(d)


def get_default_dtype():
    """Return the default floating-point dtype.

    It is the dtype of tensors made from Python floats and of the float factories (``zeros``, ``rand``...) when no
    dtype is given.

    Returns:
        ember.dtype: float32 unless ``set_default_dtype`` changed it.

    PyTorch:
        ``torch.get_default_dtype``; same semantics.

    Example:
        >>> ember.get_default_dtype()
        ember.float32
    """
    return _default_float


def set_default_dtype(d) -> None:
    """Set the default floating-point dtype (float16, bfloat16, float32 or float64).

    Args:
        d (ember.dtype or str): the new default; a dtype name or a NumPy float dtype works too. A non-float
            dtype raises TypeError.

    PyTorch:
        ``torch.set_default_dtype``; same semantics, but it also accepts names and NumPy dtypes (PyTorch only
        ``torch.dtype`` objects).

    Example:
        >>> ember.set_default_dtype(ember.float64)
        >>> ember.tensor([1.5]).dtype
        ember.float64
        >>> ember.set_default_dtype(ember.float32)
    """
    global _default_float
    d = to_dtype(d)
    if d.category != _FLOAT:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _default_float = d


@contextlib.contextmanager
def default_dtype(d):
    """Context manager that sets the default float dtype and restores the previous one."""
    old = _default_float
    set_default_dtype(d)
    try:
        yield
    finally:
        set_default_dtype(old)


def promote_types(a, b):
    """Return the smallest dtype to which both dtypes can be cast, by PyTorch's promotion table.

    A higher category wins (bool < integer < float); within a category the wider type wins (uint8 with int8 gives
    int16; bfloat16 with float16 gives float32).

    Args:
        a (ember.dtype): the first dtype.
        b (ember.dtype): the second dtype.

    Returns:
        ember.dtype: the promoted dtype.

    PyTorch:
        ``torch.promote_types``; same semantics.

    Example:
        >>> ember.promote_types(ember.int32, ember.float16)
        ember.float16
        >>> ember.promote_types(ember.uint8, ember.int8)
        ember.int16
    """
    if a is b:
        return a
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        return hi  # a higher category always wins: bool < int < float
    if a.category == _FLOAT and bfloat16 is not None and (a is bfloat16 or b is bfloat16):
        other = b if a is bfloat16 else a
        return float32 if other is float16 else other if other.itemsize > 2 else bfloat16
    return _BY_NP[np.promote_types(a.np, b.np)]


def _combine(higher, lower):
    # PyTorch's combine_categories: a lower-priority operand only matters when its category is higher.
    if higher is None:
        return lower
    if lower is None or higher.category == _FLOAT:
        return higher
    if higher.category == _BOOL or lower.category == _FLOAT:
        return promote_types(higher, lower)
    return higher


def _scalar_dtype(x):
    if isinstance(x, _py_bool):
        return bool
    if isinstance(x, _py_int):
        return int64
    if isinstance(x, _py_float):
        return _default_float
    raise TypeError(f"unsupported scalar type {type(x).__name__}")


def result_type(*operands):
    """Return the dtype an op gives for these tensors and Python numbers, by PyTorch's rules.

    Tensors with dimensions outrank zero-dimensional tensors, which outrank Python numbers; a lower-ranked operand
    changes the result only when its category (bool < integer < float) is higher.

    Args:
        *operands (Tensor or number): the operands, any number of them.

    Returns:
        ember.dtype: the result's dtype.

    PyTorch:
        ``torch.result_type``; same rules, but it takes any number of operands (PyTorch exactly two).

    Example:
        >>> ember.result_type(ember.tensor([1, 2]), 2.5)
        ember.float32
        >>> ember.result_type(ember.tensor([1.0]), ember.tensor(2.0, dtype=ember.float64))
        ember.float32
    """
    dim = zero = wrapped = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if d is None:
            s = _scalar_dtype(x)
            wrapped = s if wrapped is None else promote_types(wrapped, s)
        elif x._data.ndim:
            dim = d if dim is None else promote_types(dim, d)
        else:
            zero = d if zero is None else promote_types(zero, d)
    return _combine(dim, _combine(zero, wrapped))


def can_cast(from_, to):
    """Return whether PyTorch's casting rules allow an in-place op to write ``from_`` values into ``to``.

    A cast is allowed unless it lowers the category (float to integer, integer to bool...).

    Args:
        from_ (ember.dtype): the dtype of the values.
        to (ember.dtype): the dtype of the destination.

    Returns:
        bool: True when the cast is allowed.

    PyTorch:
        ``torch.can_cast``; same semantics.

    Example:
        >>> ember.can_cast(ember.float64, ember.float32), ember.can_cast(ember.float32, ember.int32)
        (True, False)
    """
    return from_.category <= to.category


class finfo:
    """The machine limits of a floating-point dtype.

    Attributes: ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (and its alias ``smallest_normal``), ``resolution``
    and ``dtype``, as Python numbers.

    Args:
        d (ember.dtype, optional): a floating-point dtype; the default dtype when None. Default: None.

    PyTorch:
        ``torch.finfo``; same attributes and values, but ``dtype`` is the ember dtype (a string in PyTorch).

    Example:
        >>> ember.finfo(ember.float16).max
        65504.0
        >>> ember.finfo(ember.float32).eps
        1.1920928955078125e-07
    """

    def __init__(self, d=None):
        d = to_dtype(d) if d is not None else _default_float
        info = (_ml_dtypes.finfo if (_ml_dtypes is not None and d is bfloat16) else np.finfo)(d.np)
        self.dtype, self.bits = d, d.itemsize * 8
        self.eps, self.max, self.min = _py_float(info.eps), _py_float(info.max), _py_float(info.min)
        self.tiny = _py_float(info.tiny)
        self.smallest_normal = self.tiny
        self.resolution = 10.0 ** -info.precision  # 1e-06 for float32, as PyTorch (NumPy rounds it to float32)


class iinfo:
    """The limits of an integer dtype.

    Attributes: ``bits``, ``max``, ``min`` and ``dtype``, as Python ints (and the dtype).

    Args:
        d (ember.dtype): an integer dtype.

    PyTorch:
        ``torch.iinfo``; same attributes, but ``dtype`` is the ember dtype (a string in PyTorch).

    Example:
        >>> ember.iinfo(ember.int8).min, ember.iinfo(ember.int8).max
        (-128, 127)
    """

    def __init__(self, d):
        d = to_dtype(d)
        info = np.iinfo(d.np)
        self.dtype, self.bits, self.max, self.min = d, d.itemsize * 8, _py_int(info.max), _py_int(info.min)
