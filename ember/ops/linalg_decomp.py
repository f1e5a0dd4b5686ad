"""Matrix decompositions and solvers (torch.linalg's and torch's det, inv, solve, cholesky, qr, svd, eigh...).

Each decomposition is one node whose forward calls ``xp.linalg`` on the whole batch (NumPy's, or CuPy's on a GPU)
and whose backward is PyTorch's formula (torch/csrc/autograd/FunctionsManual.cpp, real case) written with ember
ops, reading the node's outputs as tensors of the graph, so that second derivatives work. The ``ember.linalg``
names that are composites (norms, lstsq, multi_dot, ...) are in ember/linalg.py.
"""
import math
from collections import namedtuple

import numpy as np

from ..autograd import Node
from ..autograd.graph import apply
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor, as_tensor
from ._checks import check_tensor, same_device
from .creation import eye, ones_like, zeros
from .join import cat, stack
from .linalg import matmul
from .meta import TensorMeta
from .registry import export, register
from .ternary import where

SlogdetResult = namedtuple("slogdet", ["sign", "logabsdet"])
QRResult = namedtuple("qr", ["Q", "R"])
SVDResult = namedtuple("svd", ["U", "S", "Vh"])
SVDLegacyResult = namedtuple("svd", ["U", "S", "V"])
EighResult = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
InvExResult = namedtuple("inv_ex", ["inverse", "info"])
CholeskyExResult = namedtuple("cholesky_ex", ["L", "info"])


class LinAlgError(RuntimeError):
    """Raised when a linear-algebra routine fails on its input (a singular matrix, one not positive-definite).

    PyTorch:
        ``torch.linalg.LinAlgError``; also a RuntimeError.
    """


# --- checks and helpers ---------------------------------------------------------------------------------------

_TORCH_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
                "float16": "Half", "bfloat16": "BFloat16"}


def _matrices(A, op, name="A", square=True):
    """A, which must be a float32/float64 tensor of at least 2 dimensions (batches of square matrices)."""
    check_tensor(A, op, name)
    d = A._data.dtype
    if d.kind not in "fV":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{_TORCH_NAMES.get(d.name, d.name)}")
    if d.name not in ("float32", "float64"):
        raise RuntimeError(f"{op}: Low precision dtypes not supported. Got {_TORCH_NAMES.get(d.name, d.name)}")
    shape = A._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")
    if square and shape[-1] != shape[-2]:
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are {shape[-2]} by "
                           f"{shape[-1]} matrices")
    return A


def _pair(A, B, op):
    """The checks of a solver's two operands: one dtype, one device."""
    check_tensor(B, op, "B")
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"{op}: Expected A and B to have the same dtype, but found A of type "
                           f"{_torch_name(A)} and B of type {_torch_name(B)} instead")
    same_device(A, B, op)


def _torch_name(t):
    return {"float32": "Float", "float64": "Double"}.get(t._data.dtype.name, _TORCH_NAMES.get(t._data.dtype.name))


def _batch(shape_a, shape_b, op, what):
    """The broadcast batch shape of two operands (their dimensions before the last two)."""
    try:
        return tuple(np.broadcast_shapes(shape_a, shape_b))
    except ValueError:
        raise RuntimeError(f"{op}: the batch dimensions of {what} {shape_a} and {shape_b} cannot be "
                           "broadcast") from None


def _mT(t):
    return t.transpose(-2, -1)


def _diag(v):
    """The matrices with v's last dimension on their diagonals."""
    return v.diag_embed()


def _saved(node, arrays, i):
    """Output i of node (its array kept in forward) as a tensor of the graph, so a backward through it is
    differentiable again."""
    t = Tensor._wrap(arrays[i])
    if is_grad_enabled():
        t.requires_grad, t.grad_fn, t._out_index = True, node, i
    return t


def _first_failure(a, fails):
    """(flat batch index, 2-D matrix) of the first matrix of the batch a for which fails(matrix) is true."""
    flat = a.reshape((-1,) + a.shape[-2:])
    for i in range(flat.shape[0]):
        if fails(flat[i]):
            return i, flat[i]
    return 0, flat[0]


def _raises(fn):
    def fails(m):
        try:
            fn(m)
        except np.linalg.LinAlgError:
            return True
        return False
    return fails


def _zero_pivot(m):
    """The 1-based index of the first zero pivot of an LU factorization with partial pivoting of matrix m (what
    LAPACK's getrf reports), or its order when none is exactly zero."""
    a = np.array(m, copy=True)
    n = a.shape[0]
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        if a[p, k] == 0:
            return k + 1
        a[[k, p]] = a[[p, k]]
        a[k + 1:, k] /= a[k, k]
        a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
    return n


def _batch_prefix(a, i):
    return f"(Batch element {i}): " if a.ndim > 2 else ""


def _to_cpu(a):
    return a if isinstance(a, np.ndarray) else a.get()


def _singular_error(xp, a, op, solver):
    """PyTorch's LinAlgError for a singular matrix in the batch a."""
    a = _to_cpu(a)
    i, m = _first_failure(a, _raises(np.linalg.inv))
    if solver:
        return LinAlgError(f"{op}: {_batch_prefix(a, i)}The solver failed because the input matrix is singular.")
    return LinAlgError(f"{op}: {_batch_prefix(a, i)}The diagonal element {_zero_pivot(m)} is zero, the inversion "
                       "could not be completed because the input matrix is singular.")


def _not_finite(xp, x):
    """Whether a CuPy result holds nan (CuPy's solvers do not raise on failure); NumPy's raise."""
    return xp is not np and not bool(xp.isfinite(x).all())


def _inv_arrays(xp, a, op="linalg.inv"):
    try:
        out = xp.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _singular_error(xp, a, op, False) from None
    if _not_finite(xp, out):
        raise _singular_error(xp, a, op, False)
    return out


# --- det, slogdet, inv ----------------------------------------------------------------------------------------

@register
class Det(Node):
    """det(A) of a batch of square matrices."""

    saves = (0,)
    saves_output = True

    def infer(self, a):
        return TensorMeta(a.shape[:-2], a.dtype)

    def forward(self, xp, a):
        self.out = xp.asarray(xp.linalg.det(a)).astype(a.dtype, copy=False)
        return self.out

    def backward(self, g):
        # d det(A) = det(A) tr(A^{-1} dA): gA = g det(A) A^{-T}
        a = self.inputs[0]
        d = self.saved_output()
        return ((g * d)[..., None, None] * _mT(_inverse(a)),)


@register
class SlogDet(Node):
    """(sign, log|det|) of a batch of square matrices."""

    saves = (0,)
    n_outputs = 2

    def infer(self, a):
        m = TensorMeta(a.shape[:-2], a.dtype)
        return m, m

    def forward(self, xp, a):
        sign, lad = xp.linalg.slogdet(a)
        return xp.asarray(sign).astype(a.dtype, copy=False), xp.asarray(lad).astype(a.dtype, copy=False)

    def backward(self, gsign, glad):
        if glad is None:
            return (None,)
        return (glad[..., None, None] * _mT(_inverse(self.inputs[0])),)


@register
class Inverse(Node):
    """A^{-1} of a batch of square matrices."""

    saves = ()
    saves_output = True

    def infer(self, a):
        return TensorMeta(a.shape, a.dtype)

    def forward(self, xp, a):
        self.out = _inv_arrays(xp, a)
        return self.out

    def backward(self, g):
        inv = _mT(self.saved_output())
        return (-matmul(matmul(inv, g), inv),)


def _inverse(a):
    return apply(Inverse(), a)


@export(Det, methods=("det",))
def det(A):
    """The determinant of a square matrix, or of each matrix of a batch.

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n).

    Returns:
        Tensor: of shape (*).

    PyTorch:
        ``torch.linalg.det``, ``torch.det`` and ``Tensor.det``; same semantics (no ``out=``). The gradient uses
        A's inverse, so it is not defined at a singular matrix (PyTorch's is, through an SVD).

    Example:
        >>> ember.linalg.det(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor(-2.)
    """
    _matrices(A, "linalg.det")
    return apply(Det(), A)


@export(SlogDet, methods=("slogdet",))
def slogdet(A):
    """The sign and the log of the absolute value of the determinant of a square matrix (or of a batch).

    ``sign * exp(logabsdet)`` is the determinant, without the overflow or underflow of ``det``. A singular matrix
    gives sign 0 and logabsdet -inf.

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n).

    Returns:
        slogdet: the named tuple ``(sign, logabsdet)``, each of shape (*).

    PyTorch:
        ``torch.linalg.slogdet``, ``torch.slogdet`` and ``Tensor.slogdet``; same semantics (no ``out=``).

    Example:
        >>> ember.linalg.slogdet(ember.tensor([[-2.0, 0.0], [0.0, 3.0]]))
        slogdet(sign=tensor(-1.), logabsdet=tensor(1.7918))
    """
    _matrices(A, "linalg.slogdet")
    return SlogdetResult(*apply(SlogDet(), A))


@export(SlogDet, methods=("logdet",))
def logdet(input):
    """The log of the determinant of a square matrix (or of a batch): nan where it is negative, -inf where 0.

    Args:
        input (Tensor): float32 or float64, of shape (*, n, n).

    Returns:
        Tensor: of shape (*).

    PyTorch:
        ``torch.logdet`` and ``Tensor.logdet``; same semantics.

    Example:
        >>> ember.logdet(ember.tensor([[2.0, 0.0], [0.0, 3.0]]))
        tensor(1.7918)
    """
    sign, lad = slogdet(input)
    return where(sign < 0, math.nan, lad)


def inv(A):
    """The inverse of a square matrix, or of each matrix of a batch.

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n), invertible.

    Returns:
        Tensor: of shape (*, n, n).

    Raises:
        LinAlgError: when a matrix is singular (naming its batch element and the zero pivot).

    PyTorch:
        ``torch.linalg.inv``; same semantics and errors (no ``out=``).

    Example:
        >>> ember.linalg.inv(ember.tensor([[2.0, 0.0], [0.0, 4.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.2500]])
    """
    _matrices(A, "linalg.inv")
    return _inverse(A)


def inv_ex(A, *, check_errors=False):
    """The inverse of a square matrix (or batch) and an int32 ``info`` that is nonzero where a matrix is singular.

    Without check_errors a singular matrix raises no error: its info is the index of the zero pivot and its
    inverse is left as nan.

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n).
        check_errors (bool): raise LinAlgError for a singular matrix, as ``inv`` does. Default: False.

    Returns:
        inv_ex: the named tuple ``(inverse, info)``; info of shape (*).

    PyTorch:
        ``torch.linalg.inv_ex``; same semantics, except that a singular matrix's inverse is nan (PyTorch's holds
        whatever LAPACK left).

    Example:
        >>> ember.linalg.inv_ex(ember.zeros(2, 2)).info
        tensor(1, dtype=ember.int32)
    """
    _matrices(A, "linalg.inv_ex")
    a = A._data
    info = np.zeros(a.shape[:-2], dtype=np.int32)
    flat = _to_cpu(a).reshape((-1,) + a.shape[-2:])
    bad = False
    for i in range(flat.shape[0]):
        if _raises(np.linalg.inv)(flat[i]):
            info.reshape(-1)[i] = _zero_pivot(flat[i])
            bad = True
    if not bad:
        return InvExResult(_inverse(A), _like(A, info))
    if check_errors:
        raise _singular_error(np, a, "linalg.inv_ex", False)
    ok = _like(A, info == 0)
    safe = where(ok[..., None, None], A, eye(a.shape[-1], dtype=A.dtype, device=A.device))
    return InvExResult(where(ok[..., None, None], _inverse(safe), math.nan), _like(A, info))


def _like(A, array):
    """A NumPy array as a tensor on A's device."""
    return as_tensor(array, device=A.device)


@export(Inverse, methods=("inverse",))
def inverse(input):
    """The inverse of a square matrix, or of each matrix of a batch: ``ember.linalg.inv``.

    Args:
        input (Tensor): float32 or float64, of shape (*, n, n), invertible.

    Returns:
        Tensor: of shape (*, n, n).

    PyTorch:
        ``torch.inverse`` and ``Tensor.inverse``; same semantics (no ``out=``).

    Example:
        >>> ember.tensor([[1.0, 1.0], [0.0, 1.0]]).inverse()
        tensor([[ 1., -1.],
                [ 0.,  1.]])
    """
    return inv(input)


# --- solve, solve_triangular ----------------------------------------------------------------------------------

@register
class Solve(Node):
    """X with A X = B for batches of square A and matrices B (their batch dimensions broadcast)."""

    saves = (0,)
    saves_output = True

    def infer(self, a, b):
        return TensorMeta(tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])) + b.shape[-2:], a.dtype)

    def forward(self, xp, a, b):
        try:
            out = xp.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            raise _singular_error(xp, a, "torch.linalg.solve", True) from None
        if _not_finite(xp, out) and xp.isfinite(b).all():
            raise _singular_error(xp, a, "torch.linalg.solve", True)
        self.out = out
        return out

    def backward(self, g):
        a = self.inputs[0]
        gb = apply(Solve(), _mT(a), g)
        ga = -matmul(gb, _mT(self.saved_output())) if self.needs_input_grad[0] else None
        return ga, gb if self.needs_input_grad[1] else None


def _vector_rhs(A, B):
    """PyTorch's rule: B is a (batch of) vector(s) when 1-D, or when its shape is A's without the last dimension."""
    sa, sb = A._data.shape, B._data.shape
    return len(sb) == 1 or (len(sb) == len(sa) - 1 and sb == sa[:-1])


def solve(A, B, *, left=True):
    """The solution X of ``A X = B`` (or of ``X A = B`` with left=False) for a square, invertible A.

    The batch dimensions of A and B broadcast; B may be a vector (of shape (*, n)) and then so is X.

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n).
        B (Tensor): of A's dtype, of shape (*, n, k) or (*, n) (left=False: (*, k, n)).
        left (bool): solve ``A X = B`` when True, ``X A = B`` when False (keyword only). Default: True.

    Returns:
        Tensor: X, of B's shape (with the broadcast batch dimensions).

    Raises:
        LinAlgError: when a matrix A is singular.

    PyTorch:
        ``torch.linalg.solve``; same semantics and errors (no ``out=``).

    Example:
        >>> A = ember.tensor([[3.0, 1.0], [1.0, 2.0]])
        >>> ember.linalg.solve(A, ember.tensor([9.0, 8.0]))
        tensor([2., 3.])
    """
    op = "linalg.solve"
    _matrices(A, op)
    _pair(A, B, op)
    vector = _vector_rhs(A, B)
    if vector:
        B = B.unsqueeze(-1)
    elif B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 1 dimensions.")
    if not left:
        A, B = _mT(A), _mT(B)
    sa, sb = A._data.shape, B._data.shape
    if sa[-1] != sb[-2]:
        shown_b = sb if left else sb[:-2] + sb[:-3:-1]
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {'AX = B' if left else 'XA = B'} "
                           f"({sa[-2]}x{sa[-1]} and {shown_b[-2]}x{shown_b[-1]})")
    _batch(sa[:-2], sb[:-2], op, "A and B of shapes")
    X = apply(Solve(), A, B)
    if not left:
        X = _mT(X)
    return X.squeeze(-1) if vector else X


def _triangle(xp, a, upper, unit):
    t = xp.triu(a) if upper else xp.tril(a)
    if unit:
        t = t.copy()
        i = xp.arange(a.shape[-1])
        t[..., i, i] = 1
    return t


@register
class SolveTriangular(Node):
    """X with A X = B for batches of triangular A (the other triangle is not read) and matrices B."""

    saves = (0,)
    saves_output = True

    def __init__(self, upper, unitriangular):
        self.upper, self.unitriangular = upper, unitriangular

    def infer(self, a, b):
        return TensorMeta(tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])) + b.shape[-2:], a.dtype)

    def forward(self, xp, a, b):
        t = _triangle(xp, a, self.upper, self.unitriangular)
        try:
            self.out = xp.linalg.solve(t, b)
        except np.linalg.LinAlgError:  # a zero on the diagonal: substitution gives PyTorch's inf and nan
            self.out = _substitute(xp, t, b, self.upper)
        return self.out

    def backward(self, g):
        a = self.inputs[0]
        up, unit = self.upper, self.unitriangular
        gb = apply(SolveTriangular(not up, unit), _mT(a), g)
        ga = None
        if self.needs_input_grad[0]:
            ga = -matmul(gb, _mT(self.saved_output()))
            ga = ga.triu(1 if unit else 0) if up else ga.tril(-1 if unit else 0)
        return ga, gb if self.needs_input_grad[1] else None


def _substitute(xp, t, b, upper):
    """Forward or back substitution, row by row (only for matrices with a zero on the diagonal)."""
    batch = np.broadcast_shapes(t.shape[:-2], b.shape[:-2])
    t, b = xp.broadcast_to(t, batch + t.shape[-2:]), xp.broadcast_to(b, batch + b.shape[-2:])
    x = xp.zeros(b.shape, dtype=b.dtype)
    n = t.shape[-1]
    with np.errstate(all="ignore"):
        for i in (range(n - 1, -1, -1) if upper else range(n)):
            r = b[..., i, :] - (t[..., i:i + 1, :] @ x)[..., 0, :]
            x[..., i, :] = r / t[..., i, i][..., None]
    return x


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """The solution X of ``A X = B`` (or ``X A = B``) for a triangular A, reading only its upper or lower triangle.

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n).
        B (Tensor): of A's dtype, of shape (*, n, k) (left=False: (*, k, n)); the batch dimensions broadcast.
        upper (bool): whether A is upper (True) or lower (False) triangular (keyword only, required).
        left (bool): solve ``A X = B`` when True, ``X A = B`` when False (keyword only). Default: True.
        unitriangular (bool): take A's diagonal as ones (keyword only). Default: False.

    Returns:
        Tensor: X, of shape (*, n, k) (left=False: (*, k, n)).

    PyTorch:
        ``torch.linalg.solve_triangular``; same semantics (a zero on the diagonal gives inf and nan, no error).

    Example:
        >>> U = ember.tensor([[2.0, 1.0], [0.0, 4.0]])
        >>> ember.linalg.solve_triangular(U, ember.tensor([[4.0], [8.0]]), upper=True)
        tensor([[1.],
                [2.]])
    """
    op = "linalg.solve_triangular"
    _matrices(A, op)
    _pair(A, B, op)
    if B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if not left:
        A, B, upper = _mT(A), _mT(B), not upper
    sa, sb = A._data.shape, B._data.shape
    if sa[-1] != sb[-2]:
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {'AX = B' if left else 'XA = B'} "
                           f"({sa[-2]}x{sa[-1]} and {sb[-2]}x{sb[-1]})")
    _batch(sa[:-2], sb[:-2], op, "A and B of shapes")
    X = apply(SolveTriangular(bool(upper), bool(unitriangular)), A, B)
    return X if left else _mT(X)


# --- cholesky -------------------------------------------------------------------------------------------------

def _cholesky_error(a, op):
    """PyTorch's LinAlgError naming the batch element and the leading minor that is not positive-definite."""
    a = _to_cpu(a)
    i, m = _first_failure(a, _raises(np.linalg.cholesky))
    order = next((k for k in range(1, m.shape[0] + 1) if _raises(np.linalg.cholesky)(m[:k, :k])), m.shape[0])
    return LinAlgError(f"{op}: {_batch_prefix(a, i)}The factorization could not be completed because the input is "
                       f"not positive-definite (the leading minor of order {order} is not positive-definite).")


@register
class Cholesky(Node):
    """The lower (or upper) Cholesky factor of batches of symmetric positive-definite matrices (A's lower triangle
    is read)."""

    saves = ()
    saves_output = True

    def __init__(self, upper, op="linalg.cholesky"):
        self.upper, self.op = upper, op

    def infer(self, a):
        return TensorMeta(a.shape, a.dtype)

    def forward(self, xp, a):
        try:
            out = xp.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise _cholesky_error(a, self.op) from None
        if _not_finite(xp, out):
            raise _cholesky_error(a, self.op)
        self.out = out.swapaxes(-1, -2).copy() if self.upper else out
        return self.out

    def backward(self, gL):
        # Murray (2016): gA = L^{-T} Phi(L^T gL) L^{-1}, Phi taking the lower triangle with the diagonal halved,
        # symmetrized
        L = self.saved_output()
        if self.upper:
            L, gL = _mT(L), _mT(gL)
        gA = matmul(_mT(L), gL).tril()
        gA = 0.5 * (gA + _mT(gA.tril(-1)))
        gA = apply(SolveTriangular(True, False), _mT(L), gA)
        gA = _mT(apply(SolveTriangular(True, False), _mT(L), _mT(gA)))
        return (gA,)


def cholesky(A, *, upper=False):
    """The Cholesky factor L of a symmetric positive-definite matrix: ``A = L L^T`` with L lower triangular.

    Only A's lower triangle is read (as PyTorch's, without checking symmetry).

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n), symmetric positive-definite.
        upper (bool): return the upper factor ``U = L^T`` (``A = U^T U``) instead (keyword only). Default: False.

    Returns:
        Tensor: of shape (*, n, n).

    Raises:
        LinAlgError: when a matrix is not positive-definite (naming the leading minor that is not).

    PyTorch:
        ``torch.linalg.cholesky``; same semantics and errors (no ``out=``).

    Example:
        >>> ember.linalg.cholesky(ember.tensor([[4.0, 2.0], [2.0, 5.0]]))
        tensor([[2., 0.],
                [1., 2.]])
    """
    _matrices(A, "linalg.cholesky")
    return apply(Cholesky(bool(upper)), A)


def cholesky_ex(A, *, upper=False, check_errors=False):
    """The Cholesky factor (as ``cholesky``) and an int32 ``info``: the order of the first leading minor that is
    not positive-definite, 0 where the factorization succeeded.

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n).
        upper (bool): return the upper factor instead (keyword only). Default: False.
        check_errors (bool): raise LinAlgError on a failure, as ``cholesky`` does (keyword only). Default: False.

    Returns:
        cholesky_ex: the named tuple ``(L, info)``; info of shape (*).

    PyTorch:
        ``torch.linalg.cholesky_ex``; same semantics, except that a failed factor is nan (PyTorch's holds
        whatever LAPACK left).

    Example:
        >>> ember.linalg.cholesky_ex(ember.tensor([[1.0, 2.0], [2.0, 1.0]])).info
        tensor(2, dtype=ember.int32)
    """
    op = "linalg.cholesky_ex"
    _matrices(A, op)
    a = A._data
    info = np.zeros(a.shape[:-2], dtype=np.int32)
    flat = _to_cpu(a).reshape((-1,) + a.shape[-2:])
    fails = _raises(np.linalg.cholesky)
    for i in range(flat.shape[0]):
        if fails(flat[i]):
            info.reshape(-1)[i] = next(k for k in range(1, a.shape[-1] + 1) if fails(flat[i][:k, :k]))
    if not info.any():
        return CholeskyExResult(apply(Cholesky(bool(upper)), A), _like(A, info))
    if check_errors:
        raise _cholesky_error(a, op)
    ok = _like(A, info == 0)[..., None, None]
    safe = where(ok, A, eye(a.shape[-1], dtype=A.dtype, device=A.device))
    return CholeskyExResult(where(ok, apply(Cholesky(bool(upper)), safe), math.nan), _like(A, info))


@export(Cholesky, ember="cholesky", methods=("cholesky",))
def cholesky_legacy(input, upper=False):
    """The Cholesky factor of a symmetric positive-definite matrix (or batch): ``ember.linalg.cholesky``.

    Args:
        input (Tensor): float32 or float64, of shape (*, n, n), symmetric positive-definite.
        upper (bool): return the upper factor ``U`` with ``A = U^T U`` instead. Default: False.

    Returns:
        Tensor: of shape (*, n, n).

    PyTorch:
        ``torch.cholesky`` and ``Tensor.cholesky`` (deprecated there for ``torch.linalg.cholesky``); same
        semantics.

    Example:
        >>> ember.cholesky(ember.tensor([[4.0, 2.0], [2.0, 5.0]]), upper=True)
        tensor([[2., 1.],
                [0., 2.]])
    """
    _matrices(input, "cholesky")
    return apply(Cholesky(bool(upper), "cholesky"), input)


@register
class CholeskySolve(Node):
    """X with A X = B given A's Cholesky factor L (A = L L^T, or U^T U when upper); batch dimensions broadcast."""

    saves = (1,)
    saves_output = True

    def __init__(self, upper):
        self.upper = upper

    def infer(self, b, l):
        return TensorMeta(tuple(np.broadcast_shapes(b.shape[:-2], l.shape[:-2])) + b.shape[-2:], b.dtype)

    def forward(self, xp, b, l):
        first, second = (_mT_array(l), l) if self.upper else (l, _mT_array(l))
        y = xp.linalg.solve(xp.tril(first), b)
        self.out = xp.linalg.solve(xp.triu(second), y)
        return self.out

    def backward(self, g):
        # PyTorch's cholesky_solve_backward: gB = A^{-1} g; gL = -(gB X^T + X gB^T) L (or U (...) when upper)
        L = self.inputs[1]
        gB = apply(CholeskySolve(self.upper), g, L)
        gL = None
        if self.needs_input_grad[1]:
            X = self.saved_output()
            common = matmul(gB, _mT(X))
            common = common + _mT(common)
            gL = -matmul(L, common) if self.upper else -matmul(common, L)
        return gB if self.needs_input_grad[0] else None, gL


def _mT_array(a):
    return a.swapaxes(-1, -2)


@export(CholeskySolve, methods=("cholesky_solve",))
def cholesky_solve(B, L, upper=False):
    """The solution X of ``A X = B`` given the Cholesky factor L of A (``A = L L^T``, or ``U^T U`` when upper).

    Args:
        B (Tensor): of shape (*, n, k); the batch dimensions broadcast with L's.
        L (Tensor): float32 or float64, of shape (*, n, n), lower triangular (upper when upper=True); only that
            triangle is read.
        upper (bool): whether L is the upper factor. Default: False.

    Returns:
        Tensor: of shape (*, n, k).

    PyTorch:
        ``torch.cholesky_solve`` and ``Tensor.cholesky_solve``; same semantics and gradients (no ``out=``).

    Example:
        >>> L = ember.linalg.cholesky(ember.tensor([[4.0, 2.0], [2.0, 5.0]]))
        >>> ember.cholesky_solve(ember.tensor([[6.0], [7.0]]), L)
        tensor([[1.],
                [1.]])
    """
    op = "cholesky_solve"
    _matrices(L, op, "L")
    _pair(L, B, op)
    if B._data.ndim < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B._data.ndim} dimensions instead")
    if B._data.shape[-2] != L._data.shape[-1]:
        raise RuntimeError(f"{op}: Incompatible matrix sizes for cholesky_solve: each A matrix is "
                           f"{L._data.shape[-1]} by {L._data.shape[-1]} but each b matrix is {B._data.shape[-2]} by "
                           f"{B._data.shape[-1]}")
    _batch(B._data.shape[:-2], L._data.shape[:-2], op, "B and L of shapes")
    return apply(CholeskySolve(bool(upper)), B, L)


@export(CholeskySolve, methods=("cholesky_inverse",))
def cholesky_inverse(L, upper=False):
    """The inverse of A given its Cholesky factor L (``A = L L^T``, or ``U^T U`` when upper).

    Args:
        L (Tensor): float32 or float64, of shape (*, n, n), lower triangular (upper when upper=True).
        upper (bool): whether L is the upper factor. Default: False.

    Returns:
        Tensor: A's inverse, of shape (*, n, n).

    PyTorch:
        ``torch.cholesky_inverse`` and ``Tensor.cholesky_inverse``; same semantics (no ``out=``).

    Example:
        >>> ember.cholesky_inverse(ember.tensor([[2.0, 0.0], [0.0, 0.5]]))
        tensor([[0.2500, 0.0000],
                [0.0000, 4.0000]])
    """
    _matrices(L, "cholesky_inverse", "L")
    n = L._data.shape[-1]
    I = eye(n, dtype=L.dtype, device=L.device).expand(*L._data.shape[:-2], n, n)  # noqa: E741
    return cholesky_solve(I, L, upper)


# --- qr -------------------------------------------------------------------------------------------------------

@register
class Qr(Node):
    """(Q, R) of batches of matrices, mode 'reduced', 'complete' or 'r' (Q empty)."""

    saves = ()
    n_outputs = 2

    def __init__(self, mode):
        self.mode = mode

    def infer(self, a):
        m, n = a.shape[-2:]
        k = m if self.mode == "complete" else min(m, n)
        q = TensorMeta((0,), a.dtype) if self.mode == "r" else TensorMeta(a.shape[:-2] + (m, k), a.dtype)
        return q, TensorMeta(a.shape[:-2] + (k, n), a.dtype)

    def forward(self, xp, a):
        if self.mode == "r":
            r = xp.linalg.qr(a, mode="r")
            self.arrays = (None, r)
            return xp.zeros((0,), dtype=a.dtype), r
        self.arrays = xp.linalg.qr(a, mode=self.mode)
        return tuple(self.arrays)

    def backward(self, gQ, gR):
        if self.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                               "linalg.qr.")
        m, n = self.arrays[0].shape[-2], self.arrays[1].shape[-1]
        if self.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        Q, R = _saved(self, self.arrays, 0), _saved(self, self.arrays, 1)
        if m >= n:
            return (_qr_backward_tall(Q, R, gQ, gR),)
        # A = [X | Y] with X = Q R1 square and Y = Q R2: Y's gradient is Q gR2, and R2 = Q^T Y feeds Q's
        R1, R2 = R[..., :m], R[..., m:]
        gR1 = gR2 = None
        if gR is not None:
            gR1, gR2 = gR[..., :m], gR[..., m:]
            gQ = matmul(matmul(Q, R2), _mT(gR2)) + (0 if gQ is None else gQ)
        gX = _qr_backward_tall(Q, R1, gQ, gR1)
        gY = matmul(Q, gR2) if gR2 is not None else zeros(R2.shape, dtype=R.dtype, device=R.device)
        return (cat([gX, gY], -1),)


def _qr_backward_tall(Q, R, gQ, gR):
    """The gradient of A = Q R for m >= n: gA = [gQ + Q copyltu(M)] R^{-T}, M = R gR^T - gQ^T Q, where
    copyltu(M) = tril(M) + tril(M, -1)^T (PyTorch's linalg_qr_backward)."""
    if gQ is None:
        M = matmul(R, _mT(gR))
    elif gR is None:
        M = -matmul(_mT(gQ), Q)
    else:
        M = matmul(R, _mT(gR)) - matmul(_mT(gQ), Q)
    gA = matmul(Q, M.tril() + _mT(M.tril(-1)))
    if gQ is not None:
        gA = gA + gQ
    return _mT(apply(SolveTriangular(True, False), R, _mT(gA)))  # gA R^{-T}


def _qr(A, mode, op):
    _matrices(A, op, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           "or 'complete'")
    return QRResult(*apply(Qr(mode), A))


def qr(A, mode="reduced"):
    """The QR decomposition ``A = Q R``: Q with orthonormal columns, R upper triangular.

    Args:
        A (Tensor): float32 or float64, of shape (*, m, n).
        mode (str): ``'reduced'`` (Q (*, m, k), R (*, k, n), k = min(m, n)), ``'complete'`` (Q (*, m, m), R
            (*, m, n)) or ``'r'`` (R only; Q is empty). Default: ``'reduced'``.

    Returns:
        qr: the named tuple ``(Q, R)``.

    PyTorch:
        ``torch.linalg.qr``; same semantics (no ``out=``). The signs of Q's columns and R's rows are LAPACK's, as
        PyTorch's on the CPU; not differentiable with mode 'r', nor with 'complete' when m > n.

    Example:
        >>> Q, R = ember.linalg.qr(ember.tensor([[3.0, 1.0], [4.0, 2.0]]))
        >>> (Q @ R).allclose(ember.tensor([[3.0, 1.0], [4.0, 2.0]]))
        True
    """
    return _qr(A, mode, "linalg.qr")


@export(Qr, ember="qr", methods=("qr",))
def qr_legacy(input, some=True):
    """The QR decomposition ``A = Q R`` (reduced, or complete with some=False): ``ember.linalg.qr``.

    Args:
        input (Tensor): float32 or float64, of shape (*, m, n).
        some (bool): the reduced decomposition when True, the complete one when False. Default: True.

    Returns:
        qr: the named tuple ``(Q, R)``.

    PyTorch:
        ``torch.qr`` and ``Tensor.qr`` (deprecated there for ``torch.linalg.qr``); same semantics.

    Example:
        >>> ember.qr(ember.ones(3, 2)).Q.shape
        ember.Size([3, 2])
    """
    return _qr(input, "reduced" if some else "complete", "qr")


# --- svd ------------------------------------------------------------------------------------------------------

@register
class Svd(Node):
    """(U, S, Vh) of batches of matrices (U and Vh None when compute_uv is False)."""

    saves = ()
    n_outputs = 3

    def __init__(self, full_matrices, compute_uv=True):
        self.full_matrices, self.compute_uv = full_matrices, compute_uv

    def infer(self, a):
        b, (m, n) = a.shape[:-2], a.shape[-2:]
        k = min(m, n)
        s = TensorMeta(b + (k,), a.dtype)
        if not self.compute_uv:
            return None, s, None
        return (TensorMeta(b + (m, m if self.full_matrices else k), a.dtype), s,
                TensorMeta(b + (n if self.full_matrices else k, n), a.dtype))

    def forward(self, xp, a):
        if not self.compute_uv:
            return None, xp.linalg.svd(a, compute_uv=False), None
        self.arrays = tuple(xp.linalg.svd(a, full_matrices=self.full_matrices))
        return self.arrays

    def backward(self, gU, gS, gVh):
        U, S, Vh = (_saved(self, self.arrays, i) for i in range(3))
        k = S._data.shape[-1]
        if self.full_matrices:
            U, Vh = U[..., :k], Vh[..., :k, :]
            gU = None if gU is None else gU[..., :k]
            gVh = None if gVh is None else gVh[..., :k, :]
        return (_svd_backward(gU, gS, gVh, U, S, Vh),)


def _svd_backward(gU, gS, gVh, U, S, Vh):
    """PyTorch's svd_backward (real case) for the reduced SVD A = U diag(S) Vh."""
    m, n = U._data.shape[-2], Vh._data.shape[-1]
    if gU is None and gVh is None:
        return matmul(U * gS.unsqueeze(-2), Vh) if m >= n else matmul(U, gS.unsqueeze(-1) * Vh)
    V, gV = _mT(Vh), None if gVh is None else _mT(gVh)
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1)
    E = E + _diag(ones_like(S2))  # any nonzero on the diagonal: it divides zeros
    if gU is not None:
        UhgU = matmul(_mT(U), gU)
        skU = UhgU - _mT(UhgU)
    if gV is not None:
        VhgV = matmul(_mT(V), gV)
        skV = VhgV - _mT(VhgV)
    if gU is not None and gV is not None:
        gA = (skU * S.unsqueeze(-2) + S.unsqueeze(-1) * skV) / E
    elif gU is not None:
        gA = (skU / E) * S.unsqueeze(-2)
    else:
        gA = S.unsqueeze(-1) * (skV / E)
    if gS is not None:
        gA = gA + _diag(gS)
    if m > n and gU is not None:
        gA = matmul(U, gA)
        gUSinv = gU / S.unsqueeze(-2)
        gA = gA + gUSinv - matmul(U, matmul(_mT(U), gUSinv))
        return matmul(gA, Vh)
    if m < n and gV is not None:
        gA = matmul(gA, Vh)
        SinvgVh = _mT(gV) / S.unsqueeze(-1)
        gA = gA + SinvgVh - matmul(matmul(SinvgVh, V), Vh)
        return matmul(U, gA)
    return matmul(U, matmul(gA, Vh))


def svd(A, full_matrices=True):
    """The singular value decomposition ``A = U diag(S) Vh``, singular values in descending order.

    Args:
        A (Tensor): float32 or float64, of shape (*, m, n).
        full_matrices (bool): U (*, m, m) and Vh (*, n, n) when True; (*, m, k) and (*, k, n), k = min(m, n),
            when False. Default: True.

    Returns:
        svd: the named tuple ``(U, S, Vh)``, S of shape (*, k).

    PyTorch:
        ``torch.linalg.svd``; same semantics (no ``driver=`` or ``out=``). The signs of the singular vectors are
        LAPACK's; the gradient is defined for distinct nonzero singular values, and for losses that do not depend on
        those signs (as PyTorch's).

    Example:
        >>> U, S, Vh = ember.linalg.svd(ember.tensor([[3.0, 0.0], [0.0, -2.0]]))
        >>> S
        tensor([3., 2.])
    """
    _matrices(A, "linalg.svd", square=False)
    return SVDResult(*apply(Svd(bool(full_matrices)), A))


def svdvals(A):
    """The singular values of a matrix (or batch), in descending order.

    Args:
        A (Tensor): float32 or float64, of shape (*, m, n).

    Returns:
        Tensor: of shape (*, min(m, n)).

    PyTorch:
        ``torch.linalg.svdvals``; same semantics (no ``driver=`` or ``out=``).

    Example:
        >>> ember.linalg.svdvals(ember.tensor([[0.0, 2.0], [1.0, 0.0]]))
        tensor([2., 1.])
    """
    _matrices(A, "linalg.svd", square=False)
    if A.requires_grad and is_grad_enabled():  # the gradient needs U and V
        return apply(Svd(False), A)[1]
    return apply(Svd(False, compute_uv=False), A)[1]


@export(Svd, ember="svd", methods=("svd",))
def svd_legacy(input, some=True, compute_uv=True):
    """The singular value decomposition ``A = U diag(S) V^T`` in ``torch.svd``'s convention: V, not Vh.

    Args:
        input (Tensor): float32 or float64, of shape (*, m, n).
        some (bool): the reduced decomposition (U (*, m, k), V (*, n, k)) when True, the full one otherwise.
            Default: True.
        compute_uv (bool): when False, U and V are zero matrices (of the full shapes) and only S is computed.
            Default: True.

    Returns:
        svd: the named tuple ``(U, S, V)``.

    PyTorch:
        ``torch.svd`` and ``Tensor.svd`` (deprecated there for ``torch.linalg.svd``); same semantics.

    Example:
        >>> U, S, V = ember.svd(ember.tensor([[3.0, 0.0], [0.0, -2.0]]))
        >>> (U @ ember.diag(S) @ V.mT).round()
        tensor([[ 3.,  0.],
                [ 0., -2.]])
    """
    _matrices(input, "svd", square=False)
    if not compute_uv:
        m, n = input._data.shape[-2:]
        b = input._data.shape[:-2]
        S = svdvals(input)
        return SVDLegacyResult(zeros(*b, m, m, dtype=input.dtype, device=input.device), S,
                               zeros(*b, n, n, dtype=input.dtype, device=input.device))
    U, S, Vh = svd(input, full_matrices=not some)
    return SVDLegacyResult(U, S, _mT(Vh))


# --- eigh -----------------------------------------------------------------------------------------------------

@register
class Eigh(Node):
    """(eigenvalues ascending, eigenvectors) of batches of symmetric matrices, reading the triangle UPLO."""

    saves = ()
    n_outputs = 2

    def __init__(self, uplo, compute_v=True):
        self.uplo, self.compute_v = uplo, compute_v

    def infer(self, a):
        w = TensorMeta(a.shape[:-1], a.dtype)
        return (w, TensorMeta(a.shape, a.dtype)) if self.compute_v else (w, None)

    def forward(self, xp, a):
        if not self.compute_v:
            return xp.linalg.eigvalsh(a, UPLO=self.uplo), None
        self.arrays = tuple(xp.linalg.eigh(a, UPLO=self.uplo))
        return self.arrays

    def backward(self, gL, gV):
        L, V = _saved(self, self.arrays, 0), _saved(self, self.arrays, 1)
        if gV is None:
            return (matmul(V * gL.unsqueeze(-2), _mT(V)),)
        # PyTorch's linalg_eig_backward, hermitian case: V (diag(gL) + skew(V^T gV) / 2E) V^T, E_ij = L_j - L_i
        VhgV = matmul(_mT(V), gV)
        VhgV = 0.5 * (VhgV - _mT(VhgV))
        E = L.unsqueeze(-2) - L.unsqueeze(-1)
        E = E + _diag(ones_like(L))
        gA = VhgV / E
        if gL is not None:
            gA = gA + _diag(gL)
        return (matmul(V, matmul(gA, _mT(V))),)


def _uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO


def eigh(A, UPLO="L"):
    """The eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix (or batch).

    Only the triangle UPLO of A is read.

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n).
        UPLO (str): ``'L'`` to read the lower triangle, ``'U'`` the upper one. Default: ``'L'``.

    Returns:
        eigh: the named tuple ``(eigenvalues, eigenvectors)``, of shapes (*, n) and (*, n, n); column i of
        eigenvectors belongs to eigenvalue i.

    PyTorch:
        ``torch.linalg.eigh``; same semantics (no ``out=``). The eigenvectors' signs are LAPACK's; the gradient is
        defined for distinct eigenvalues and losses that do not depend on those signs (as PyTorch's).

    Example:
        >>> ember.linalg.eigh(ember.tensor([[2.0, 1.0], [1.0, 2.0]])).eigenvalues
        tensor([1., 3.])
    """
    _matrices(A, "linalg.eigh")
    return EighResult(*apply(Eigh(_uplo(UPLO)), A))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues of a symmetric matrix (or batch), ascending.

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n); only the triangle UPLO is read.
        UPLO (str): ``'L'`` to read the lower triangle, ``'U'`` the upper one. Default: ``'L'``.

    Returns:
        Tensor: of shape (*, n).

    PyTorch:
        ``torch.linalg.eigvalsh``; same semantics (no ``out=``).

    Example:
        >>> ember.linalg.eigvalsh(ember.tensor([[2.0, 0.0], [0.0, -1.0]]))
        tensor([-1.,  2.])
    """
    _matrices(A, "linalg.eigvalsh")
    if A.requires_grad and is_grad_enabled():
        return apply(Eigh(_uplo(UPLO)), A)[0]
    return apply(Eigh(_uplo(UPLO), compute_v=False), A)[0]


# --- pinv -----------------------------------------------------------------------------------------------------

def _tolerances(atol, rtol, m, n, dtype):
    """PyTorch's rule: rtol defaults to eps * max(m, n) unless atol > 0 is given (then 0)."""
    if rtol is None:
        rtol = np.finfo(dtype).eps * max(m, n) if atol is None or atol <= 0 else 0.0
    return (0.0 if atol is None else float(atol)), float(rtol)


@register
class Pinv(Node):
    """The Moore-Penrose pseudo-inverse of batches of matrices: singular values (or |eigenvalues|, hermitian)
    at most max(atol, rtol * largest) count as zero."""

    saves = (0,)
    saves_output = True

    def __init__(self, atol, rtol, hermitian):
        self.atol, self.rtol, self.hermitian = atol, rtol, hermitian

    def infer(self, a):
        return TensorMeta(a.shape[:-2] + (a.shape[-1], a.shape[-2]), a.dtype)

    def forward(self, xp, a):
        m, n = a.shape[-2:]
        if m == 0 or n == 0:
            self.out = xp.zeros(a.shape[:-2] + (n, m), dtype=a.dtype)
            return self.out
        if self.hermitian:
            w, V = xp.linalg.eigh(a)
            s, U, Vh = xp.abs(w), V * xp.sign(w)[..., None, :], V.swapaxes(-1, -2)
        else:
            U, s, Vh = xp.linalg.svd(a, full_matrices=False)
        tol = xp.maximum(self.atol, self.rtol * s.max(axis=-1, keepdims=True))
        with np.errstate(divide="ignore"):
            sinv = xp.where(s > tol, 1 / xp.where(s > tol, s, 1), 0).astype(a.dtype)
        self.out = xp.matmul(Vh.swapaxes(-1, -2) * sinv[..., None, :], U.swapaxes(-1, -2))
        return self.out

    def backward(self, g):
        # PyTorch's pinv_backward
        A, P = self.inputs[0], self.saved_output()
        m, n = A._data.shape[-2:]
        Ph, gh = _mT(P), _mT(g)
        if m <= n:
            K = matmul(gh, P)
            KPh = matmul(K, Ph)
            return (-_mT(matmul(P, K)) + KPh - matmul(matmul(A, P), KPh) + matmul(matmul(Ph, P), gh - matmul(K, A)),)
        K = matmul(P, gh)
        PhK = matmul(Ph, K)
        return (-_mT(matmul(K, P)) + matmul(matmul(gh - matmul(A, K), P), Ph) + PhK - matmul(matmul(PhK, P), A),)


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse of a matrix (or batch), through its SVD (its eigendecomposition when
    hermitian).

    Singular values at most ``max(atol, rtol * largest)`` are taken as zero.

    Args:
        A (Tensor): float32 or float64, of shape (*, m, n).
        atol (float, optional): the absolute tolerance (keyword only). Default: None (0).
        rtol (float, optional): the relative tolerance (keyword only). Default: None (``eps * max(m, n)``, or 0
            when atol > 0 is given).
        hermitian (bool): A is symmetric; only its lower triangle is read (keyword only). Default: False.

    Returns:
        Tensor: of shape (*, n, m).

    PyTorch:
        ``torch.linalg.pinv``; same semantics, except that atol and rtol are numbers (not tensors). No ``out=``.

    Example:
        >>> ember.linalg.pinv(ember.tensor([[2.0, 0.0], [0.0, 0.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.0000]])
    """
    op = "linalg.pinv"
    _matrices(A, op, square=bool(hermitian))
    m, n = A._data.shape[-2:]
    atol, rtol = _tolerances(atol, rtol, m, n, A._data.dtype)
    return apply(Pinv(atol, rtol, bool(hermitian)), A)


@export(Pinv, methods=("pinverse",))
def pinverse(input, rcond=1e-15):
    """The Moore-Penrose pseudo-inverse: ``ember.linalg.pinv(input, rtol=rcond)``.

    Args:
        input (Tensor): float32 or float64, of shape (*, m, n).
        rcond (float): singular values at most rcond times the largest are taken as zero. Default: 1e-15.

    Returns:
        Tensor: of shape (*, n, m).

    PyTorch:
        ``torch.pinverse`` and ``Tensor.pinverse``; same semantics.

    Example:
        >>> ember.pinverse(ember.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]))
        tensor([[1.0000, 0.0000, 0.0000],
                [0.0000, 0.5000, 0.0000]])
    """
    return pinv(input, rtol=rcond)


# --- matrix_exp, matrix_power ---------------------------------------------------------------------------------

_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800., 129060195264000.,
           10559470521600., 670442572800., 33522128640., 1323241920., 40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def _expm(xp, a):
    """exp of a batch of square matrices: Higham's (2005) scaling and squaring with the [13/13] Padé approximant,
    in float64."""
    dtype = a.dtype
    a = a.astype(np.float64)
    n = a.shape[-1]
    if a.size == 0:
        return a.astype(dtype)
    norm = float(xp.abs(a).sum(axis=-2).max())
    s = max(0, int(math.ceil(math.log2(norm / _THETA13)))) if norm > 0 else 0
    a = a / 2.0 ** s
    b = _PADE13
    ident = xp.broadcast_to(xp.eye(n), a.shape)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * ident
    r = xp.linalg.solve(v - u, v + u)
    for _ in range(s):
        r = r @ r
    return r.astype(dtype)


@register
class MatrixExp(Node):
    """The matrix exponential of batches of square matrices."""

    saves = (0,)

    def infer(self, a):
        return TensorMeta(a.shape, a.dtype)

    def forward(self, xp, a):
        return _expm(xp, a)

    def backward(self, g):
        # the Fréchet derivative in direction g at A^T: exp([[A^T, g], [0, A^T]]) holds it in its upper-right block
        At = _mT(self.inputs[0])
        n = At._data.shape[-1]
        block = cat([cat([At, g], -1), cat([zeros(At.shape, dtype=At.dtype, device=At.device), At], -1)], -2)
        return (apply(MatrixExp(), block)[..., :n, n:],)


@export(MatrixExp, methods=("matrix_exp",))
def matrix_exp(A):
    """The matrix exponential ``sum_k A^k / k!`` of a square matrix (or batch).

    Args:
        A (Tensor): float32 or float64, of shape (*, n, n).

    Returns:
        Tensor: of shape (*, n, n).

    PyTorch:
        ``torch.linalg.matrix_exp``, ``torch.matrix_exp`` and ``Tensor.matrix_exp``; same semantics (ember
        computes it with a [13/13] Padé approximant in float64).

    Example:
        >>> ember.linalg.matrix_exp(ember.tensor([[0.0, 1.0], [0.0, 0.0]]))
        tensor([[1., 1.],
                [0., 1.]])
    """
    _matrices(A, "linalg.matrix_exp")
    return apply(MatrixExp(), A)


@export(Inverse, methods=("matrix_power",))
def matrix_power(A, n):
    """A square matrix (or batch) to the integer power n: the identity for 0, powers of A's inverse for n < 0.

    Args:
        A (Tensor): of shape (*, m, m); floating-point when n < 0.
        n (int): the exponent.

    Returns:
        Tensor: of shape (*, m, m).

    PyTorch:
        ``torch.linalg.matrix_power``, ``torch.matrix_power`` and ``Tensor.matrix_power``; same semantics (products
        by repeated squaring).

    Example:
        >>> ember.linalg.matrix_power(ember.tensor([[1.0, 1.0], [0.0, 1.0]]), 3)
        tensor([[1., 3.],
                [0., 1.]])
    """
    op = "linalg.matrix_power"
    check_tensor(A, op, "A")
    shape = A._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if shape[-1] != shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {shape[-2]} by {shape[-1]} "
                           "matrices")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{op}: n must be an int, not {type(n).__name__}")
    n = int(n)
    if n == 0:
        I = eye(shape[-1], dtype=A.dtype, device=A.device)  # noqa: E741
        return I.expand(*shape).clone()
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while True:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if not n:
            return result if result is not A else A.clone()
        base = matmul(base, base)


# --- cross ----------------------------------------------------------------------------------------------------

def _cross3(a, b, dim):
    """The cross product of a and b along dim (of size 3), with broadcasting; dim already checked."""
    a1, a2, a3 = (a.select(dim, i) for i in range(3))
    b1, b2, b3 = (b.select(dim, i) for i in range(3))
    return stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], dim)


@export(methods=("cross",))
def cross(input, other, dim=None):
    """The cross product of 3-vectors along dim: the first dimension of size 3 when dim is None.

    Args:
        input (Tensor): the first operand.
        other (Tensor): the second operand, of input's dtype and number of dimensions (the sizes broadcast).
        dim (int, optional): the dimension holding the vectors, of size 3. Default: None (the first of size 3).

    Returns:
        Tensor: of the broadcast shape.

    PyTorch:
        ``torch.cross`` and ``Tensor.cross``; same semantics (PyTorch warns that dim=None is deprecated; ember does
        not). ``ember.linalg.cross`` takes dim=-1 by default.

    Example:
        >>> ember.cross(ember.tensor([1.0, 0.0, 0.0]), ember.tensor([0.0, 1.0, 0.0]))
        tensor([0., 0., 1.])
    """
    check_tensor(input, "cross")
    check_tensor(other, "cross", "other", 2)
    if dim is None:
        shape = np.broadcast_shapes(input._data.shape, other._data.shape)
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return cross_checked(input, other, dim, "linalg.cross")


def cross_checked(a, b, dim, op):
    """The cross product with PyTorch's checks: one dtype and number of dimensions, size 3 along dim."""
    check_tensor(a, op)
    check_tensor(b, op, "other", 2)
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"{op}: expected input and other to have the same dtype, but got {a.dtype} and {b.dtype}")
    if a._data.ndim != b._data.ndim:
        raise RuntimeError(f"{op}: inputs must have the same number of dimensions.")
    same_device(a, b, op)
    nd = a._data.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    sa, sb = a._data.shape[dim], b._data.shape[dim]
    if sa != 3 or sb != 3:
        raise RuntimeError(f"{op}: inputs dimension {dim} must have length 3. Got {sa} and {sb}")
    try:
        np.broadcast_shapes(a._data.shape, b._data.shape)
    except ValueError:
        raise RuntimeError(f"{op}: the shapes {tuple(a._data.shape)} and {tuple(b._data.shape)} cannot be "
                           "broadcast") from None
    return _cross3(a, b, dim % nd)

