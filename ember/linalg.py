"""torch.linalg: linear algebra (the ops are in ember/ops/linalg_decomp.py and ember/ops/linalg.py).

The decompositions and solvers are ember/ops/linalg_decomp.py's; the names defined here are composites of them
and of ember's other ops (norms, lstsq, matrix_rank, multi_dot, vecdot, cross, diagonal).
"""
import math
from collections import namedtuple

import numpy as np

from .autograd.grad_mode import no_grad
from .ops._checks import check_tensor
from .ops.linalg import matmul
from .ops.linalg_decomp import (
    LinAlgError, _matrices, _pair, _tolerances, cholesky, cholesky_ex, cross_checked, det, eigh, eigvalsh, inv,
    inv_ex, matrix_exp, matrix_power, pinv, qr, slogdet, solve, solve_triangular, svd, svdvals,
)
from .ops.reduce import norm as _norm
from .ops.shape import diagonal as _diagonal

__all__ = [
    "LinAlgError", "cholesky", "cholesky_ex", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "inv_ex",
    "lstsq", "matmul", "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv",
    "qr", "slogdet", "solve", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm",
]

LstsqResult = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])
_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _float(x, op, dtype):
    check_tensor(x, op)
    if dtype is not None:
        x = x.to(dtype)
    if not x.is_floating_point():
        names = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{names.get(x._data.dtype.name, x._data.dtype.name)}")
    return x


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ord-norm of x's elements over dim (all of them when None): ``sum(|x|^ord)^(1/ord)``.

    ord = inf gives the largest |x|, -inf the smallest, 0 the number of nonzero elements.

    Args:
        x (Tensor): a floating-point tensor (or one converted by dtype).
        ord (float): the order. Default: 2.
        dim (int or tuple of ints, optional): the dimension(s) to reduce; all of them when None. Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        dtype (ember.dtype, optional): the dtype x is converted to first (keyword only). Default: None.

    Returns:
        Tensor: the norms.

    PyTorch:
        ``torch.linalg.vector_norm``; same semantics (no ``out=``).

    Example:
        >>> ember.linalg.vector_norm(ember.tensor([[3.0, 4.0], [0.0, 0.0]]))
        tensor(5.)
        >>> ember.linalg.vector_norm(ember.tensor([[3.0, -4.0]]), ord=1, dim=1)
        tensor([7.])
    """
    x = _float(x, "linalg.vector_norm", dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    return _norm(x, float(ord), dim, keepdim)


def _matrix_dims(A, dim, op):
    nd = A._data.ndim
    if nd < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {dim}")
    d0, d1 = (d % nd if -nd <= d < nd else None for d in dim)
    if d0 is None or d1 is None:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """A matrix norm of A (or of each matrix of a batch) over the two dimensions dim.

    ord: ``'fro'`` (Frobenius), ``'nuc'`` (nuclear: the sum of the singular values), 2 / -2 (the largest /
    smallest singular value), 1 / -1 (the largest / smallest column sum of |A|), inf / -inf (the largest /
    smallest row sum of |A|).

    Args:
        A (Tensor): floating-point, at least 2-D.
        ord (str or float): the norm. Default: ``'fro'``.
        dim (tuple of 2 ints): the dimensions of the matrices. Default: (-2, -1).
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        dtype (ember.dtype, optional): the dtype A is converted to first (keyword only). Default: None.

    Returns:
        Tensor: the norms.

    PyTorch:
        ``torch.linalg.matrix_norm``; same semantics (no ``out=``).

    Example:
        >>> A = ember.tensor([[1.0, -2.0], [3.0, 4.0]])
        >>> ember.linalg.matrix_norm(A, ord=1), ember.linalg.matrix_norm(A, ord=float("inf"))
        (tensor(6.), tensor(7.))
    """
    op = "linalg.matrix_norm"
    A = _float(A, op, dtype)
    d0, d1 = _matrix_dims(A, dim, op)
    if ord == "fro":
        return _norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        S = svdvals(A.movedim((d0, d1), (-2, -1)))
        r = S.sum(-1) if ord == "nuc" else (S.amax(-1) if ord == 2 else S.amin(-1))
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
        return r
    if ord in (1, -1, math.inf, -math.inf):
        rows, cols = (d0, d1) if ord in (1, -1) else (d1, d0)  # 1: sum down the columns, then over them
        sums = A.abs().sum(rows, keepdim=True)
        r = sums.amax(cols, keepdim=True) if ord > 0 else sums.amin(cols, keepdim=True)
        return r if keepdim else r.squeeze((d0, d1))
    raise RuntimeError(f"{op}: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector or matrix norm: ``vector_norm`` over one dimension (or all, when ord and dim are None),
    ``matrix_norm`` over two (or of a 2-D A given ord).

    Args:
        A (Tensor): floating-point.
        ord (str or float, optional): the order (see vector_norm and matrix_norm); None is 2 for vectors and
            ``'fro'`` for matrices. Default: None.
        dim (int or tuple of ints, optional): one dimension (a vector norm) or two (a matrix norm). Default: None.
        keepdim (bool): keep the reduced dimensions, with size 1. Default: False.
        dtype (ember.dtype, optional): the dtype A is converted to first (keyword only). Default: None.

    Returns:
        Tensor: the norms.

    PyTorch:
        ``torch.linalg.norm``; same semantics (no ``out=``).

    Example:
        >>> ember.linalg.norm(ember.tensor([[1.0, 2.0], [2.0, 4.0]]))
        tensor(5.)
        >>> ember.linalg.norm(ember.tensor([[1.0, 0.0], [0.0, 2.0]]), ord=2)
        tensor(2.)
    """
    op = "linalg.norm"
    A = _float(A, op, dtype)
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim)
        raise RuntimeError(f"{op}: If dim is specified, it must be of length 1 or 2. Got {list(dims)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim)
    nd = A._data.ndim
    if nd == 1:
        return vector_norm(A, ord, None, keepdim)
    if nd == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim)
    raise RuntimeError(f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. Got {nd}D.")


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The numerical rank of a matrix (or batch): how many singular values exceed ``max(atol, rtol * largest)``.

    Args:
        A (Tensor): float32 or float64, of shape (*, m, n).
        atol (float, optional): the absolute tolerance (keyword only). Default: None (0).
        rtol (float, optional): the relative tolerance (keyword only). Default: None (``eps * max(m, n)``, or 0
            when atol > 0 is given).
        hermitian (bool): A is symmetric: use the absolute eigenvalues (keyword only). Default: False.

    Returns:
        Tensor: int64, of shape (*).

    PyTorch:
        ``torch.linalg.matrix_rank``; same semantics, except that atol and rtol are numbers (not tensors) and the
        deprecated ``tol`` is not accepted. No ``out=``.

    Example:
        >>> ember.linalg.matrix_rank(ember.tensor([[1.0, 2.0], [2.0, 4.0]]))
        tensor(1)
    """
    _matrices(A, "linalg.matrix_rank", square=bool(hermitian))
    m, n = A._data.shape[-2:]
    atol, rtol = _tolerances(atol, rtol, m, n, A._data.dtype)
    with no_grad():
        S = eigvalsh(A).abs() if hermitian else svdvals(A)
        if S._data.shape[-1] == 0:
            return S.sum(-1).long()
        tol = (S.amax(-1, keepdim=True) * rtol).clamp(min=atol)
        return (S > tol).sum(-1)


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution X minimizing ``||A X - B||`` (the minimum-norm one when A is rank-deficient).

    The solution is ``pinv(A) @ B`` (with rtol = rcond), differentiable in A and B as PyTorch's. The other fields
    follow what PyTorch's CPU drivers return: ``'gelsy'`` (the default) gives the rank and empty residuals and
    singular_values; ``'gelsd'`` and ``'gelss'`` also give the singular values, and the squared residuals of each
    column when m > n and A has full rank; ``'gels'`` gives the residuals (when m > n) and an empty rank.

    Args:
        A (Tensor): float32 or float64, of shape (*, m, n).
        B (Tensor): of A's dtype, of shape (*, m, k) or (*, m).
        rcond (float, optional): singular values at most rcond times the largest count as zero. Default: None
            (``eps * max(m, n)``).
        driver (str, optional): ``'gels'``, ``'gelsy'``, ``'gelsd'`` or ``'gelss'`` (keyword only). Default:
            None (``'gelsy'``).

    Returns:
        lstsq: the named tuple ``(solution, residuals, rank, singular_values)``.

    PyTorch:
        ``torch.linalg.lstsq``; same fields for the CPU drivers; the solution is computed through the SVD
        whatever the driver (equal up to rounding for a full-rank A).

    Example:
        >>> A = ember.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
        >>> ember.linalg.lstsq(A, ember.tensor([1.0, 3.0, 5.0])).solution
        tensor([1.0000, 2.0000])
    """
    op = "torch.linalg.lstsq"
    _matrices(A, op, square=False)
    _pair(A, B, op)
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError(f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    vector = B._data.ndim == A._data.ndim - 1
    if vector:
        B = B.unsqueeze(-1)
    if B._data.ndim < 2 or A._data.shape[-2] != B._data.shape[-2]:
        raise RuntimeError(f"{op}: input.size(-2) should match other.size(-2)")
    m, n = A._data.shape[-2:]
    rtol = np.finfo(A._data.dtype).eps * max(m, n) if rcond is None or rcond < 0 else float(rcond)
    X = matmul(pinv(A, rtol=rtol), B)
    empty = A.new_zeros(0)
    with no_grad():
        rank = matrix_rank(A, rtol=rtol) if driver != "gels" else A.new_zeros(0).long()
        S = svdvals(A) if driver in ("gelsd", "gelss") else empty
        residuals = empty
        if m > n and driver != "gelsy" and (driver == "gels" or bool((rank == n).all())):
            residuals = ((matmul(A, X) - B) ** 2).sum(-2)
    return LstsqResult(X.squeeze(-1) if vector else X, residuals, rank, S)


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along dim (of size 3 in both), the other dimensions broadcasting.

    Args:
        input (Tensor): the first operand.
        other (Tensor): the second operand, of input's dtype and number of dimensions.
        dim (int): the dimension holding the vectors (keyword only). Default: -1.

    Returns:
        Tensor: of the broadcast shape.

    PyTorch:
        ``torch.linalg.cross``; same semantics (no ``out=``).

    Example:
        >>> ember.linalg.cross(ember.tensor([0.0, 1.0, 0.0]), ember.tensor([0.0, 0.0, 1.0]))
        tensor([1., 0., 0.])
    """
    return cross_checked(input, other, dim, "linalg.cross")


def multi_dot(tensors):
    """The product of a chain of matrices; the first may be a row vector (1-D) and the last a column vector.

    Args:
        tensors (sequence of Tensor): at least two; 2-D except possibly the first and the last (1-D).

    Returns:
        Tensor: the product; 1-D or 0-d where the first or last operand is 1-D.

    PyTorch:
        ``torch.linalg.multi_dot``; same semantics, but the products are taken left to right (PyTorch picks the
        cheapest order); equal up to rounding. No ``out=``.

    Example:
        >>> ember.linalg.multi_dot([ember.ones(3), ember.ones(3, 4), ember.ones(4)])
        tensor(12.)
    """
    op = "multi_dot()"
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"{op}: expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        check_tensor(t, "multi_dot", f"tensors[{i}]")
        nd = t._data.ndim
        if i == 0 and nd not in (1, 2):
            raise RuntimeError(f"{op}: the first tensor must be 1D or 2D but got {nd}D")
        if i == len(tensors) - 1 and i and nd not in (1, 2):
            raise RuntimeError(f"{op}: the last tensor must be 1D or 2D but got {nd}D")
        if 0 < i < len(tensors) - 1 and nd != 2:
            raise RuntimeError(f"{op}: tensor {i} must be 2D but got {nd}D")
        if t._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError(f"{op}: all tensors must have be the same dtype but tensor 0 is {tensors[0].dtype} "
                               f"and tensor {i} is {t.dtype}")
    for i in range(len(tensors) - 1):
        sa, sb = tuple(tensors[i].shape), tuple(tensors[i + 1].shape)
        if sa[-1] != sb[0]:
            raise RuntimeError(f"{op}: tensors {i} and {i + 1} with shapes {list(sa)} and {list(sb)} cannot be "
                               "multiplied")
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def vecdot(x, y, *, dim=-1):
    """The dot product of the vectors along dim: ``(x * y).sum(dim)``, the other dimensions broadcasting.

    Args:
        x (Tensor): the first operand.
        y (Tensor): the second operand, broadcastable with x.
        dim (int): the dimension holding the vectors (keyword only). Default: -1.

    Returns:
        Tensor: of the broadcast shape without dim.

    PyTorch:
        ``torch.linalg.vecdot``; same semantics for real tensors (no ``out=``).

    Example:
        >>> ember.linalg.vecdot(ember.tensor([[1.0, 2.0], [3.0, 4.0]]), ember.tensor([1.0, 1.0]))
        tensor([3., 7.])
    """
    check_tensor(x, "linalg.vecdot", "x")
    check_tensor(y, "linalg.vecdot", "y", 2)
    return (x * y).sum(dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of the matrices of A (a view): ``ember.diagonal`` with the last two dimensions by default.

    Args:
        A (Tensor): at least 2-D.
        offset (int): which diagonal: 0 the main one, > 0 above it, < 0 below (keyword only). Default: 0.
        dim1 (int): the first dimension of the matrices (keyword only). Default: -2.
        dim2 (int): the second dimension of the matrices (keyword only). Default: -1.

    Returns:
        Tensor: the diagonals, in a last dimension.

    PyTorch:
        ``torch.linalg.diagonal``; same semantics.

    Example:
        >>> ember.linalg.diagonal(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor([1., 4.])
    """
    return _diagonal(A, offset, dim1, dim2)

