"""Matrix helpers PyTorch keeps among its tensor functions: index factories (tril_indices, combinations,
cartesian_prod), block and diagonal matrices, products and differences (tensordot, inner, kron, diff, trace,
vander), statistics of matrices (cov, corrcoef, dist, renorm), hsplit/vsplit/dsplit, unravel_index and the
fused multiply-adds (addcmul, addcdiv, addr, addbmm). Composites of differentiable ops where they have
gradients."""
import itertools
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd import Node
from ..autograd.graph import apply
from ..autograd.inplace import inplace
from ..device import get_array_module
from ..tensor import Tensor
from ._checks import check_tensor
from ._util import wrap_dim
from .creation import zeros
from .index import index_put
from .join import cat, stack, tensor_split
from .meta import TensorMeta
from .reduce import one_dim
from .registry import export, register
from .search import _int, _wrap
from .ternary import where


# --- index factories, combinations, block and diagonal matrices ------------------------------------------------------

def _index_pairs(rows, cols, op, dtype, device):
    out = Tensor._wrap(np.stack([rows, cols]).astype(np.int64).reshape(2, -1))
    if dtype is not None and _dt.to_dtype(dtype) != _dt.int64:
        out = out.to(dtype)
    return out if device is None else out.to(device)


def _check_rc(row, col, offset, op):
    row, col, offset = _int(row, op, "row"), _int(col, op, "col"), _int(offset, op, "offset")
    if row < 0 or col < 0:
        raise RuntimeError(f"{op}: row must be non-negative, got {row}" if row < 0 else
                           f"{op}: col must be non-negative, got {col}")
    return row, col, offset


@export(ember=True)
def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (row, column) indices of the lower triangle of a row x col matrix, as a 2 x N tensor in row-major order.

    Args:
        row (int): the number of rows.
        col (int): the number of columns.
        offset (int): the diagonal that bounds the triangle: 0 the main one, > 0 above, < 0 below. Default: 0.
        dtype (ember.dtype, optional): the integer dtype of the result; int64 when None. Default: None.
        device (ember.device or str, optional): where the result lives. Default: None (the CPU).
        layout (optional): accepted for PyTorch's signature (always strided). Default: None.

    Returns:
        Tensor: of shape (2, N): the row indices, then the column indices.

    PyTorch:
        ``torch.tril_indices``; same semantics.

    Example:
        >>> ember.tril_indices(3, 3)
        tensor([[0, 1, 1, 2, 2, 2],
                [0, 0, 1, 0, 1, 2]])
    """
    row, col, offset = _check_rc(row, col, offset, "tril_indices")
    return _index_pairs(*np.tril_indices(row, offset, col), "tril_indices", dtype, device)


@export(ember=True)
def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (row, column) indices of the upper triangle of a row x col matrix, as a 2 x N tensor in row-major order.

    Args:
        row (int): the number of rows.
        col (int): the number of columns.
        offset (int): the diagonal that bounds the triangle: 0 the main one, > 0 above, < 0 below. Default: 0.
        dtype (ember.dtype, optional): the integer dtype of the result; int64 when None. Default: None.
        device (ember.device or str, optional): where the result lives. Default: None (the CPU).
        layout (optional): accepted for PyTorch's signature (always strided). Default: None.

    Returns:
        Tensor: of shape (2, N): the row indices, then the column indices.

    PyTorch:
        ``torch.triu_indices``; same semantics.

    Example:
        >>> ember.triu_indices(2, 3, 1)
        tensor([[0, 0, 1],
                [1, 2, 2]])
    """
    row, col, offset = _check_rc(row, col, offset, "triu_indices")
    return _index_pairs(*np.triu_indices(row, offset, col), "triu_indices", dtype, device)


@export(ember=True)
def combinations(input, r=2, with_replacement=False):
    """The length-r combinations of the elements of the 1-d input, as rows (like itertools.combinations).

    Args:
        input (Tensor): a 1-d tensor.
        r (int): the number of elements in a combination. Default: 2.
        with_replacement (bool): allow an element to repeat in a combination. Default: False.

    Returns:
        Tensor: of shape (number of combinations, r) (1-d and empty when r is 0); differentiable.

    PyTorch:
        ``torch.combinations``; same semantics.

    Example:
        >>> ember.combinations(ember.tensor([1, 2, 3]))
        tensor([[1, 2],
                [1, 3],
                [2, 3]])
    """
    check_tensor(input, "combinations")
    r = _int(r, "combinations", "r")
    if input._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input[Tensor._wrap(np.zeros(0, dtype=np.int64))]
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(pick(range(input._data.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return input[_wrap(idx, input)]


@export(ember=True)
def cartesian_prod(*tensors):
    """The cartesian product of 1-d tensors, one row per combination (like itertools.product).

    Args:
        tensors (Tensor): 1-d tensors, of one dtype.

    Returns:
        Tensor: of shape (product of the sizes, len(tensors)); the one tensor itself when only one is given.

    PyTorch:
        ``torch.cartesian_prod``; same semantics.

    Example:
        >>> ember.cartesian_prod(ember.tensor([1, 2]), ember.tensor([3, 4]))
        tensor([[1, 3],
                [1, 4],
                [2, 3],
                [2, 4]])
    """
    for t in tensors:
        check_tensor(t, "cartesian_prod", "tensors")
        if t._data.ndim != 1:
            raise RuntimeError("Expect a 1D vector, but got shape " + str(list(t.shape)))
    if len(tensors) == 0:
        raise RuntimeError("cartesian_prod expects at least one tensor")
    if len(tensors) == 1:
        return tensors[0]
    grids = np.indices([t._data.shape[0] for t in tensors]).reshape(len(tensors), -1)
    return stack([t[_wrap(g, t)] for t, g in zip(tensors, grids)], 1)


@export(ember=True)
def block_diag(*tensors):
    """The block-diagonal matrix with the given tensors (0-, 1- or 2-d, as 1 x n for 1-d) as its blocks.

    Args:
        tensors (Tensor): the blocks, of at most two dimensions; their dtypes promote.

    Returns:
        Tensor: a 2-d tensor of (sum of the rows) x (sum of the columns); zeros outside the blocks.

    PyTorch:
        ``torch.block_diag``; same semantics.

    Example:
        >>> ember.block_diag(ember.tensor([[1, 2]]), ember.tensor(3))
        tensor([[1, 2, 0],
                [0, 0, 3]])
    """
    blocks = []
    for i, t in enumerate(tensors):
        check_tensor(t, "block_diag", "tensors")
        if t._data.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t._data.ndim} dimensions")
        blocks.append(t.reshape(1, -1) if t._data.ndim < 2 else t)
    if not blocks:
        return Tensor._wrap(np.zeros((1, 0), dtype=_dt.get_default_dtype().np))
    dt = blocks[0].dtype
    for b in blocks[1:]:
        dt = _dt.promote_types(dt, b.dtype)
    width = sum(b._data.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        r, c = b._data.shape
        z = zeros(r, width, dtype=dt, device=b.device)
        rows.append(index_put(z, (None, _wrap(np.arange(left, left + c), b)), b.to(dt)) if c else z)
        left += c
    return cat(rows, 0)


@register
class DiagEmbed(Node):
    """Zeros with a's last dimension written on the offset diagonal of the new dimensions dim1, dim2 (of the output)."""

    saves = ()

    def __init__(self, offset, dim1, dim2):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def _shape(self, shape):
        n = shape[-1] + abs(self.offset)
        out = list(shape[:-1])
        for d in sorted((self.dim1, self.dim2)):
            out.insert(d, n)
        return tuple(out)

    def infer(self, a):
        return TensorMeta(self._shape(a.shape), a.dtype)

    def forward(self, xp, a):
        m, o = a.shape[-1], self.offset
        n = m + abs(o)
        out = xp.zeros(a.shape[:-1] + (n, n), dtype=a.dtype)
        i = xp.arange(m)
        out[..., i + max(-o, 0), i + max(o, 0)] = a
        return xp.moveaxis(out, (-2, -1), (self.dim1, self.dim2))

    def backward(self, g):
        return (g.diagonal(self.offset, self.dim1, self.dim2),)


@export(DiagEmbed, methods=("diag_embed",))
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices (in the dimensions dim1, dim2 of the result) whose offset diagonal holds input's last dimension.

    Args:
        input (Tensor): the diagonals, in its last dimension.
        offset (int): which diagonal: 0 the main one, > 0 above, < 0 below. Default: 0.
        dim1 (int): the row dimension of the result. Default: -2.
        dim2 (int): the column dimension of the result. Default: -1.

    Returns:
        Tensor: one more dimension than input; zeros off the diagonal.

    PyTorch:
        ``torch.diag_embed`` and ``Tensor.diag_embed``; same semantics.

    Example:
        >>> ember.diag_embed(ember.tensor([1, 2]), offset=1)
        tensor([[0, 1, 0],
                [0, 0, 2],
                [0, 0, 0]])
    """
    check_tensor(input, "diag_embed")
    nd = input._data.ndim + 1
    d1, d2 = wrap_dim(_int(dim1, "diag_embed", "dim1"), nd, "diag_embed"), wrap_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    if nd == 1:
        input = input.reshape(1)
    return apply(DiagEmbed(_int(offset, "diag_embed", "offset"), d1, d2), input)


@export(DiagEmbed, methods=("diagflat",))
def diagflat(input, offset=0):
    """The square matrix whose offset diagonal holds input's elements (flattened).

    Args:
        input (Tensor): the diagonal's elements (any shape).
        offset (int): which diagonal: 0 the main one, > 0 above, < 0 below. Default: 0.

    Returns:
        Tensor: 2-d, of size ``input.numel() + abs(offset)``.

    PyTorch:
        ``torch.diagflat`` and ``Tensor.diagflat``; same semantics.

    Example:
        >>> ember.diagflat(ember.tensor([[1, 2]]))
        tensor([[1, 0],
                [0, 2]])
    """
    check_tensor(input, "diagflat")
    return apply(DiagEmbed(_int(offset, "diagflat", "offset"), 0, 1), input.reshape(-1))


# --- products, differences, statistics of matrices -----------------------------------------------------------------

@export(ember=True)
def tensordot(a, b, dims=2):
    """The sum of products of a and b over the given dimensions (a generalised matrix product).

    Args:
        a (Tensor): the left tensor.
        b (Tensor): the right tensor.
        dims (int or pair of lists): an int n contracts the last n dimensions of a with the first n of b; a pair
            ``(dims_a, dims_b)`` names the dimensions to contract, pairwise. Default: 2.

    Returns:
        Tensor: a's remaining dimensions, then b's.

    PyTorch:
        ``torch.tensordot``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.tensordot(ember.ones(2, 3), ember.ones(3, 4), dims=1).shape
        ember.Size([2, 4])
    """
    check_tensor(a, "tensordot", "a")
    check_tensor(b, "tensordot", "b")
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(na, nb):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(na - dims, na)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    da = [wrap_dim(d, na, "tensordot") for d in da]
    db = [wrap_dim(d, nb, "tensordot") for d in db]
    for i, j in zip(da, db):
        if a._data.shape[i] != b._data.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a._data.shape[i]} in dim "
                               f"{i} and second has size {b._data.shape[j]} in dim {j}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {a.dtype.name.capitalize()} but found "
                           f"{b.dtype.name.capitalize()}")
    fa = [i for i in range(na) if i not in da]
    fb = [j for j in range(nb) if j not in db]
    k = math.prod(a._data.shape[i] for i in da)
    left = a.permute(*fa, *da).reshape(-1, k)
    right = b.permute(*db, *fb).reshape(k, -1)
    return (left @ right).reshape([a._data.shape[i] for i in fa] + [b._data.shape[j] for j in fb])


@export(methods=("inner",))
def inner(input, other):
    """The inner product over the last dimension of input and other (a product when one of them is 0-d).

    Args:
        input (Tensor): the left tensor.
        other (Tensor): the right tensor, of input's size in the last dimension.

    Returns:
        Tensor: input's leading dimensions, then other's.

    PyTorch:
        ``torch.inner`` and ``Tensor.inner``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.inner(ember.tensor([1.0, 2.0]), ember.tensor([[3.0, 4.0], [5.0, 6.0]]))
        tensor([11., 17.])
    """
    check_tensor(input, "inner")
    check_tensor(other, "inner", "other")
    if input._data.ndim == 0 or other._data.ndim == 0:
        return input * other
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


@export(methods=("kron",))
def kron(input, other):
    """The Kronecker product of input and other: every element of input times the whole of other, as blocks.

    Args:
        input (Tensor): the left tensor.
        other (Tensor): the right tensor (the one with fewer dimensions gets leading ones).

    Returns:
        Tensor: of shape ``input.shape[i] * other.shape[i]`` in each dimension.

    PyTorch:
        ``torch.kron`` and ``Tensor.kron``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.kron(ember.tensor([1, 10]), ember.tensor([1, 2, 3]))
        tensor([ 1,  2,  3, 10, 20, 30])
    """
    check_tensor(input, "kron")
    check_tensor(other, "kron", "other")
    n = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (n - input._data.ndim) + tuple(input._data.shape)
    sb = (1,) * (n - other._data.ndim) + tuple(other._data.shape)
    a = input.reshape([x for s in sa for x in (s, 1)])
    b = other.reshape([x for s in sb for x in (1, s)])
    return (a * b).reshape([x * y for x, y in zip(sa, sb)])


@export(methods=("diff",))
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference of input along dim: ``out[i] = input[i + 1] - input[i]``, n times.

    Args:
        input (Tensor): the input tensor, at least 1-d (bool inputs give ``!=``).
        n (int): how many times to take the difference. Default: 1.
        dim (int): the dimension. Default: -1.
        prepend (Tensor, optional): values put before input along dim first (same sizes in the other dimensions).
        append (Tensor, optional): values put after input along dim first.

    Returns:
        Tensor: input's shape with n fewer elements along dim (none left gives an empty dimension).

    PyTorch:
        ``torch.diff`` and ``Tensor.diff``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.diff(ember.tensor([1, 3, 6, 10]))
        tensor([2, 3, 4])
        >>> ember.diff(ember.tensor([1, 3, 6, 10]), n=2, prepend=ember.tensor([0]))
        tensor([1, 1, 1])
    """
    check_tensor(input, "diff")
    n = _int(n, "diff", "n")
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = one_dim(input, dim, "diff")
    if n == 0:  # PyTorch gives input as it is, without prepend and append
        return input
    parts = [t for t in (prepend, input, append) if t is not None]
    for t in parts:
        check_tensor(t, "diff", "prepend")
        if t._data.ndim != input._data.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        m = x._data.shape[d]
        if m == 0:
            break
        hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = hi != lo if x._data.dtype == np.bool_ else hi - lo
    return x


@export(methods=("trace",))
def trace(input):
    """The sum of the main diagonal of the 2-d input.

    Args:
        input (Tensor): a matrix.

    Returns:
        Tensor: 0-d; int64 for bool and integer inputs.

    PyTorch:
        ``torch.trace`` and ``Tensor.trace``; same semantics.

    Example:
        >>> ember.trace(ember.tensor([[1, 2], [3, 4]]))
        tensor(5)
    """
    check_tensor(input, "trace")
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return input.diagonal().sum()


@export(ember=True)
def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-d x: column j holds ``x ** (N - 1 - j)`` (``x ** j`` when increasing).

    Args:
        x (Tensor): a 1-d tensor.
        N (int, optional): the number of columns; len(x) when None.
        increasing (bool): powers increasing from the left instead of decreasing. Default: False.

    Returns:
        Tensor: of shape (len(x), N); int64 for bool and integer inputs.

    PyTorch:
        ``torch.vander``; same semantics.

    Example:
        >>> ember.vander(ember.tensor([1, 2, 3]))
        tensor([[1, 1, 1],
                [4, 2, 1],
                [9, 3, 1]])
    """
    check_tensor(x, "vander", "x")
    if x._data.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x._data.shape[0] if N is None else _int(N, "vander", "N")
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x._data.dtype.kind in "biu":
        x = x.to(_dt.int64)
    m = x._data.shape[0]
    if n == 0:
        return zeros(m, 0, dtype=x.dtype, device=x.device)
    cols = [Tensor._wrap(get_array_module(x._data).ones((m, 1), dtype=x._data.dtype))]
    if n > 1:
        cols.append(x.unsqueeze(1).expand(m, n - 1))
    out = cat(cols, 1).cumprod(1)
    return out if increasing else out.flip(1)


@export(methods=("cov",))
def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of input (observations in the columns).

    Args:
        input (Tensor): 1-d (one variable) or 2-d (variables x observations).
        correction (int): subtracted from the number of observations (or the sum of weights) in the divisor: 1 for
            the unbiased estimate, 0 for the maximum likelihood one. Default: 1.
        fweights (Tensor, optional): 1-d integer frequency weights, one per observation.
        aweights (Tensor, optional): 1-d float observation weights, one per observation.

    Returns:
        Tensor: the covariance matrix (0-d for one variable); floating point.

    PyTorch:
        ``torch.cov`` and ``Tensor.cov``; same semantics.

    Example:
        >>> ember.cov(ember.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
        tensor([[ 1., -1.],
                [-1.,  1.]])
    """
    check_tensor(input, "cov")
    if input._data.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input._data.ndim} dimensions")
    x = input.reshape(1, -1) if input._data.ndim < 2 else input
    if x._data.dtype.kind in "biu":
        x = x.to(_dt.get_default_dtype())
    nobs = x._data.shape[1]
    w = None
    for name, wt in (("fweights", fweights), ("aweights", aweights)):
        if wt is None:
            continue
        check_tensor(wt, "cov", name)
        if wt._data.ndim > 1:
            raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                               f"{wt._data.ndim} dimensions")
        if wt._data.size != nobs:
            raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in the "
                               f"input but got {wt._data.size} != {nobs}")
        if name == "fweights" and wt._data.dtype.kind not in "iu":
            raise RuntimeError("cov(): expected fweights to have integral dtype but got fweights with "
                               f"{wt.dtype.name.capitalize()} dtype")
        if name == "aweights" and wt._data.dtype.kind not in "fV":
            raise RuntimeError("cov(): expected aweights to have floating point dtype but got aweights with "
                               f"{wt.dtype.name.capitalize()} dtype")
        if wt._data.size and float(wt._data.min()) < 0:
            raise RuntimeError(f"cov(): {name} cannot be negative")
        w = wt if w is None else w * wt
    if w is None:
        avg, wsum = x.mean(1), float(nobs)
    else:
        w = w.to(x.dtype)
        wsum = w.sum()
        avg = (x * w).sum(1) / wsum
    if w is None:
        norm = wsum - correction
    elif correction == 0:
        norm = wsum
    elif aweights is None:
        norm = wsum - correction
    else:
        norm = wsum - correction * (w * aweights.to(x.dtype)).sum() / wsum
    if isinstance(norm, Tensor):
        norm = where(norm <= 0, 0.0, norm)
    else:
        norm = max(norm, 0.0)
    xm = x - avg.unsqueeze(1)
    c = ((xm if w is None else xm * w) @ xm.transpose(0, 1)) / norm
    return c.reshape(()) if c._data.shape == (1, 1) else c


@export(methods=("corrcoef",))
def corrcoef(input):
    """The Pearson correlation coefficients of the variables in the rows of input (observations in the columns).

    Args:
        input (Tensor): 1-d (one variable) or 2-d (variables x observations).

    Returns:
        Tensor: the correlation matrix, clipped to [-1, 1] (0-d for one variable).

    PyTorch:
        ``torch.corrcoef`` and ``Tensor.corrcoef``; same semantics.

    Example:
        >>> ember.corrcoef(ember.tensor([[0.0, 1.0, 2.0], [4.0, 2.0, 0.0]]))
        tensor([[ 1., -1.],
                [-1.,  1.]])
    """
    check_tensor(input, "corrcoef")
    if input._data.ndim > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got an input with "
                           f"{input._data.ndim} dimensions")
    c = cov(input)
    if c._data.ndim == 0:
        return c / c
    s = c.diagonal().sqrt()
    c = c / s.unsqueeze(1) / s.unsqueeze(0)
    return c.clamp(-1, 1)


@export(methods=("dist",))
def dist(input, other, p=2):
    """The p-norm of ``input - other`` (broadcast together).

    Args:
        input (Tensor): the left tensor.
        other (Tensor): the right tensor.
        p (float): the order of the norm (0, inf and -inf allowed). Default: 2.

    Returns:
        Tensor: 0-d.

    PyTorch:
        ``torch.dist`` and ``Tensor.dist``; same semantics.

    Example:
        >>> ember.dist(ember.tensor([1.0, 1.0]), ember.tensor([4.0, 5.0]))
        tensor(5.)
    """
    check_tensor(input, "dist")
    check_tensor(other, "dist", "other")
    return (input - other).norm(p)


@export(methods=("renorm",))
def renorm(input, p, dim, maxnorm):
    """input with each slice along dim (``input.select(dim, i)``) whose p-norm exceeds maxnorm scaled down to norm
    maxnorm.

    Args:
        input (Tensor): a floating-point tensor of at least one dimension.
        p (float): the order of the norm (> 0).
        dim (int): the dimension whose slices are normalised.
        maxnorm (float): the largest norm a slice keeps.

    Returns:
        Tensor: of input's shape.

    PyTorch:
        ``torch.renorm`` and ``Tensor.renorm``; same semantics (a slice above maxnorm is divided by
        ``norm + 1e-7``, as in PyTorch).

    Example:
        >>> ember.renorm(ember.tensor([[3.0, 4.0], [0.3, 0.4]]), 2, 0, 1.0)
        tensor([[0.6000, 0.8000],
                [0.3000, 0.4000]])
    """
    check_tensor(input, "renorm")
    if isinstance(p, Tensor) or p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported, got p={p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input._data.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input._data.ndim} dimensions")
    d = one_dim(input, dim, "renorm")
    others = tuple(i for i in range(input._data.ndim) if i != d)
    norm = input.norm(p, dim=others, keepdim=True)
    factor = where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)
    return input * factor


@export(ember=False, methods=("renorm_",))
def renorm_(self, p, dim, maxnorm):
    """Scale down, in place, each slice along dim whose p-norm exceeds maxnorm to norm maxnorm (``renorm``).

    Args:
        p (float): the order of the norm (> 0).
        dim (int): the dimension whose slices are normalised.
        maxnorm (float): the largest norm a slice keeps.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.renorm_``; same semantics.

    Example:
        >>> ember.tensor([[3.0, 4.0]]).renorm_(2, 0, 1.0)
        tensor([[0.6000, 0.8000]])
    """
    return inplace(self, "renorm_", lambda s: renorm(s, p, dim, maxnorm))


def _split(input, sections, dim, least, op):
    check_tensor(input, op)
    nd = input._data.ndim
    if nd < least:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {least} dimension"
                           f"{'s' if least > 1 else ''}, but got a tensor with {nd} dimensions!")
    if isinstance(sections, (int, np.integer)) and not isinstance(sections, bool):
        size = input._data.shape[dim]
        if sections == 0 or size % sections:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the size of the dimension "
                               f"{size} is not divisible by the split_size {sections}!")
    return tensor_split(input, sections, dim)


@export(methods=("hsplit",))
def hsplit(input, indices_or_sections):
    """Split input horizontally: along dimension 1 (dimension 0 for a 1-d input), as ``tensor_split``.

    Args:
        input (Tensor): a tensor of at least one dimension.
        indices_or_sections (int or list of int): the number of equal parts (which must divide the size), or the
            indices to split before.

    Returns:
        tuple of Tensor: views of input.

    PyTorch:
        ``torch.hsplit`` and ``Tensor.hsplit``; same semantics.

    Example:
        >>> [t.tolist() for t in ember.hsplit(ember.arange(4), 2)]
        [[0, 1], [2, 3]]
    """
    check_tensor(input, "hsplit")
    return _split(input, indices_or_sections, 0 if input._data.ndim == 1 else 1, 1, "hsplit")


@export(methods=("vsplit",))
def vsplit(input, indices_or_sections):
    """Split input vertically: along dimension 0, as ``tensor_split`` (input at least 2-d).

    Args:
        input (Tensor): a tensor of at least two dimensions.
        indices_or_sections (int or list of int): the number of equal parts (which must divide the size), or the
            indices to split before.

    Returns:
        tuple of Tensor: views of input.

    PyTorch:
        ``torch.vsplit`` and ``Tensor.vsplit``; same semantics.

    Example:
        >>> [t.shape for t in ember.vsplit(ember.zeros(4, 2), [1])]
        [ember.Size([1, 2]), ember.Size([3, 2])]
    """
    return _split(input, indices_or_sections, 0, 2, "vsplit")


@export(methods=("dsplit",))
def dsplit(input, indices_or_sections):
    """Split input depth-wise: along dimension 2, as ``tensor_split`` (input at least 3-d).

    Args:
        input (Tensor): a tensor of at least three dimensions.
        indices_or_sections (int or list of int): the number of equal parts (which must divide the size), or the
            indices to split before.

    Returns:
        tuple of Tensor: views of input.

    PyTorch:
        ``torch.dsplit`` and ``Tensor.dsplit``; same semantics.

    Example:
        >>> len(ember.dsplit(ember.zeros(1, 1, 6), 3))
        3
    """
    return _split(input, indices_or_sections, 2, 3, "dsplit")


@export(ember=True)
def unravel_index(indices, shape):
    """The coordinates, in a tensor of the given shape, of flat (row-major) indices.

    Args:
        indices (Tensor or int): flat indices, in ``[-numel, numel)`` (negative ones count from the end).
        shape (int or sequence of int): the shape to unravel into.

    Returns:
        tuple of Tensor: one int64 tensor of indices' shape per dimension of shape.

    PyTorch:
        ``torch.unravel_index``; same semantics.

    Example:
        >>> ember.unravel_index(ember.tensor([4, 5]), (2, 3))
        (tensor([1, 1]), tensor([1, 2]))
    """
    if isinstance(indices, Tensor):
        if indices._data.dtype.kind not in "iu":
            raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
        idx = np.asarray(indices._data) if isinstance(indices._data, np.ndarray) else indices._data.get()
    elif isinstance(indices, (int, np.integer)) and not isinstance(indices, bool):
        idx = np.asarray(indices)
    else:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {type(indices).__name__}")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError("'shape' cannot have negative values, but got " + str(tuple(shape)))
    n = math.prod(shape)
    if idx.size and (int(idx.max()) >= n or int(idx.min()) < -n):
        raise RuntimeError(f"unravel_index: index out of bounds for shape {tuple(shape)}")
    idx = np.where(idx < 0, idx + n, idx).astype(np.int64)
    coords = np.unravel_index(idx, shape) if shape else ()
    out = tuple(Tensor._wrap(np.asarray(c, dtype=np.int64)) for c in coords)
    return out if not isinstance(indices, Tensor) else tuple(_wrap(c._data, indices) for c in out)


# --- fused multiply-adds -------------------------------------------------------------------------------------------

@export(methods=("addcmul",))
def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``, broadcast together.

    Args:
        input (Tensor): the tensor added to.
        tensor1 (Tensor): the first factor.
        tensor2 (Tensor): the second factor.
        value (number): the multiplier of the product. Default: 1.

    Returns:
        Tensor: of the broadcast shape.

    PyTorch:
        ``torch.addcmul`` and ``Tensor.addcmul``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.addcmul(ember.ones(2), ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]), value=0.5)
        tensor([2.5000, 5.0000])
    """
    for name, t in (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)):
        check_tensor(t, "addcmul", name)
    prod = tensor1 * tensor2
    return input + (prod if value == 1 else prod * value)


@export(methods=("addcdiv",))
def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``, broadcast together.

    Args:
        input (Tensor): the tensor added to.
        tensor1 (Tensor): the numerator.
        tensor2 (Tensor): the denominator.
        value (number): the multiplier of the quotient. Default: 1.

    Returns:
        Tensor: of the broadcast shape.

    PyTorch:
        ``torch.addcdiv`` and ``Tensor.addcdiv``; same semantics (integer tensor1 and tensor2 are refused, as in
        PyTorch).

    Example:
        >>> ember.addcdiv(ember.zeros(2), ember.tensor([1.0, 2.0]), ember.tensor([4.0, 4.0]), value=2)
        tensor([0.5000, 1.0000])
    """
    for name, t in (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)):
        check_tensor(t, "addcdiv", name)
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future release addcdiv "
                           "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
                           "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
                           "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
                           "for all dtypes.")
    quot = tensor1 / tensor2
    return input + (quot if value == 1 else quot * value)


@export(ember=False, methods=("addcmul_",))
def addcmul_(self, tensor1, tensor2, *, value=1):
    """``self += value * tensor1 * tensor2``, in place.

    Args:
        tensor1 (Tensor): the first factor.
        tensor2 (Tensor): the second factor.
        value (number): the multiplier of the product. Default: 1.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.addcmul_``; same semantics.

    Example:
        >>> ember.zeros(2).addcmul_(ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]))
        tensor([3., 8.])
    """
    return inplace(self, "addcmul_", lambda s: addcmul(s, tensor1, tensor2, value=value))


@export(ember=False, methods=("addcdiv_",))
def addcdiv_(self, tensor1, tensor2, *, value=1):
    """``self += value * tensor1 / tensor2``, in place.

    Args:
        tensor1 (Tensor): the numerator.
        tensor2 (Tensor): the denominator.
        value (number): the multiplier of the quotient. Default: 1.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.addcdiv_``; same semantics.

    Example:
        >>> ember.ones(2).addcdiv_(ember.tensor([1.0, 2.0]), ember.tensor([2.0, 2.0]))
        tensor([1.5000, 2.0000])
    """
    return inplace(self, "addcdiv_", lambda s: addcdiv(s, tensor1, tensor2, value=value))


def _scaled_sum(input, product, beta, alpha):
    """beta * input + alpha * product; input is ignored (NaN included) when beta is 0, as in PyTorch."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        # zeros of input's shape that give input a zero gradient, as in PyTorch
        return product + input.masked_fill(_wrap(np.ones((), dtype=bool), input), 0)
    return (input if beta == 1 else input * beta) + product


@export(methods=("addr",))
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``.

    Args:
        input (Tensor): the matrix added to (broadcast to len(vec1) x len(vec2)).
        vec1 (Tensor): the 1-d left vector.
        vec2 (Tensor): the 1-d right vector.
        beta (number): the multiplier of input (0 ignores input, NaN included). Default: 1.
        alpha (number): the multiplier of the outer product. Default: 1.

    Returns:
        Tensor: of shape (len(vec1), len(vec2)).

    PyTorch:
        ``torch.addr`` and ``Tensor.addr``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.addr(ember.ones(2, 2), ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]), beta=2)
        tensor([[ 5.,  6.],
                [ 8., 10.]])
    """
    for name, t in (("input", input), ("vec1", vec1), ("vec2", vec2)):
        check_tensor(t, "addr", name)
    if vec1._data.ndim != 1 or vec2._data.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1, but got {vec1._data.ndim}-D" if vec1._data.ndim != 1
                           else f"addr: Expected 1-D argument vec2, but got {vec2._data.ndim}-D")
    out = _scaled_sum(input, vec1.outer(vec2), beta, alpha)
    shape = (vec1._data.shape[0], vec2._data.shape[0])
    return out if tuple(out.shape) == shape else out.expand(shape)


@export(ember=False, methods=("addr_",))
def addr_(self, vec1, vec2, *, beta=1, alpha=1):
    """``self = beta * self + alpha * outer(vec1, vec2)``, in place.

    Args:
        vec1 (Tensor): the 1-d left vector.
        vec2 (Tensor): the 1-d right vector.
        beta (number): the multiplier of self. Default: 1.
        alpha (number): the multiplier of the outer product. Default: 1.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.addr_``; same semantics.

    Example:
        >>> ember.zeros(2, 2).addr_(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 1.0]))
        tensor([[1., 1.],
                [2., 2.]])
    """
    return inplace(self, "addr_", lambda s: addr(s, vec1, vec2, beta=beta, alpha=alpha))


@export(methods=("addbmm",))
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_i(batch1[i] @ batch2[i])``: a sum of matrix products added to a matrix.

    Args:
        input (Tensor): the matrix added to (broadcast to n x p).
        batch1 (Tensor): b x n x m matrices.
        batch2 (Tensor): b x m x p matrices.
        beta (number): the multiplier of input (0 ignores input, NaN included). Default: 1.
        alpha (number): the multiplier of the summed products. Default: 1.

    Returns:
        Tensor: of shape (n, p).

    PyTorch:
        ``torch.addbmm`` and ``Tensor.addbmm``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.addbmm(ember.zeros(2, 2), ember.ones(3, 2, 1), ember.ones(3, 1, 2))
        tensor([[3., 3.],
                [3., 3.]])
    """
    for name, t in (("input", input), ("batch1", batch1), ("batch2", batch2)):
        check_tensor(t, "addbmm", name)
    if batch1._data.ndim != 3 or batch2._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if batch1._data.ndim != 3 else "batch2 must be a 3D tensor")
    out = _scaled_sum(input, (batch1 @ batch2).sum(0), beta, alpha)
    shape = (batch1._data.shape[1], batch2._data.shape[2])
    return out if tuple(out.shape) == shape else out.expand(shape)


@export(ember=False, methods=("addbmm_",))
def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
    """``self = beta * self + alpha * sum_i(batch1[i] @ batch2[i])``, in place.

    Args:
        batch1 (Tensor): b x n x m matrices.
        batch2 (Tensor): b x m x p matrices.
        beta (number): the multiplier of self. Default: 1.
        alpha (number): the multiplier of the summed products. Default: 1.

    Returns:
        Tensor: self.

    PyTorch:
        ``Tensor.addbmm_``; same semantics.

    Example:
        >>> ember.ones(1, 1).addbmm_(ember.ones(2, 1, 3), ember.ones(2, 3, 1))
        tensor([[7.]])
    """
    return inplace(self, "addbmm_", lambda s: addbmm(s, batch1, batch2, beta=beta, alpha=alpha))
