"""Linear algebra: matmul/@, mm, bmm, mv, dot, vdot, outer, addmm/addmv/baddbmm, einsum.

Every product is one ``Matmul`` node whose forward is a single ``xp.matmul``. ``MatmulT`` multiplies with the last two
dimensions of one or both operands transposed (a free view on arrays): backward uses it so that a gradient costs two
matmul nodes and no transpose nodes. ``einsum`` is one ``Einsum`` node whose backward is an einsum per input.
A product with a sparse operand (matmul, mm, mv) is ops/sparse.py's.
"""
import functools

import numpy as np

from ..autograd import Node
from ..device import get_array_module
from ..autograd.graph import apply
from .._sparse import SparseCOO
from ..tensor import Tensor, _ndarray
from . import _autocast
from ._broadcast import broadcast_to, sum_to
from ._checks import check_tensor, same_device
from .arith import mul
from .meta import TensorMeta
from .registry import export, register
from .sparse import SparseMM, sparse_product


# --- matmul ---------------------------------------------------------------------------------------------------

def _matmul_arrays(xp, a, b):
    """xp.matmul, with a batch of matrices times one matrix folded into a single 2-D product when that is a view."""
    if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous:
        out = xp.matmul(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[1:])
    else:
        out = xp.matmul(a, b)
    if out.dtype != a.dtype:  # ml_dtypes' bfloat16 multiplies into float32
        out = out.astype(a.dtype)
    return out


def _matmul_shape(sa, sb):
    """The shape of a @ b for operands of shapes sa and sb (checked before): a 1-D first operand is a row, a 1-D
    second one a column, each dropped from the result; the batch dimensions broadcast."""
    if len(sa) == 1 and len(sb) == 1:
        return ()
    if len(sa) == 1:
        return tuple(sb[:-2]) + tuple(sb[-1:])
    if len(sb) == 1:
        return tuple(sa[:-1])
    return tuple(np.broadcast_shapes(sa[:-2], sb[:-2])) + (sa[-2], sb[-1])


@register
class Matmul(Node):
    """input @ other with NumPy/PyTorch semantics (1-D operands, broadcast batch dimensions)."""

    ta = tb = False  # MatmulT: transpose the last two dims of the first / second operand

    @property
    def saves(self):  # a is read only for b's gradient, and b only for a's
        na, nb = self.needs_input_grad
        return (1,) * na + (0,) * nb

    def infer(self, a, b):
        return TensorMeta(_matmul_shape(a.shape, b.shape), a.dtype)

    def forward(self, xp, a, b):
        self.sa, self.sb = a.shape, b.shape
        return _matmul_arrays(xp, a, b)

    def backward(self, g):
        a, b = self.inputs  # only the ones the other's gradient needs (see saves)
        na, nb = self.needs_input_grad
        sa, sb = self.sa, self.sb
        if len(sa) < 2 or len(sb) < 2:
            return _vector_grads(g, a, b, sa, sb, na, nb)
        return _matrix_grads(g, a, b, sa, sb, self.ta, self.tb, na, nb)


@register
class MatmulT(Matmul):
    """op(a) @ op(b) where op transposes the last two dimensions when its flag is set (operands at least 2-D)."""

    def __init__(self, ta, tb):
        self.ta, self.tb = ta, tb

    def infer(self, a, b):
        sa, sb = a.shape, b.shape
        if self.ta:
            sa = sa[:-2] + sa[:-3:-1]
        if self.tb:
            sb = sb[:-2] + sb[:-3:-1]
        return TensorMeta(_matmul_shape(sa, sb), a.dtype)

    def forward(self, xp, a, b):
        self.sa, self.sb = a.shape, b.shape
        return _matmul_arrays(xp, a.swapaxes(-1, -2) if self.ta else a, b.swapaxes(-1, -2) if self.tb else b)


def _mm(a, b, ta=False, tb=False):
    """op(a) @ op(b) without validation (used by backward)."""
    return apply(MatmulT(ta, tb) if ta or tb else Matmul(), a, b)


def _matrix_grads(g, a, b, sa, sb, ta, tb, na, nb):
    """Gradients of op(a) @ op(b) for operands of shapes sa, sb (at least 2-D), summed over broadcast batch
    dimensions. a is read only for b's gradient and b only for a's (the other may be None)."""
    ga = gb = None
    if na:
        ga = _mm(b, g, tb, True) if ta else _mm(g, b, False, not tb)
        if ga._data.shape != sa:
            ga = sum_to(ga, sa)
    if nb:
        if len(sa) > 2 and len(sb) == 2 and not ta:
            # one weight matrix for a whole batch: fold the batch into rows, one 2-D product instead of a sum
            a2, g2 = a.reshape(-1, sa[-1]), g.reshape(-1, g._data.shape[-1])
            gb = _mm(g2, a2, True, False) if tb else _mm(a2, g2, True, False)
        else:
            gb = _mm(g, a, True, ta) if tb else _mm(a, g, not ta, False)
            if gb._data.shape != sb:
                gb = sum_to(gb, sb)
    return ga, gb


def _vector_grads(g, a, b, sa, sb, na, nb):
    """Gradients when an operand is 1-D: view it as a row (first) or column (second) matrix, as matmul does."""
    shape = list(g._data.shape)
    ma, mb = sa, sb
    if len(sb) == 1:
        mb = (sb[0], 1)
        b = b.reshape(mb) if b is not None else None
        shape.append(1)
    if len(sa) == 1:
        ma = (1, sa[0])
        a = a.reshape(ma) if a is not None else None
        shape.insert(len(shape) - 1, 1)
    ga, gb = _matrix_grads(g.reshape(shape), a, b, ma, mb, False, False, na, nb)
    return (ga.reshape(sa) if na else None, gb.reshape(sb) if nb else None)


def _check_pair(a, b, op):
    """The checks every product makes: tensors, one dtype (no promotion, as in PyTorch), one device, not bool."""
    check_tensor(a, op, "input", 1)
    check_tensor(b, op, "other", 2)
    da, db = a._data.dtype, b._data.dtype
    if da != db:
        raise RuntimeError(f"{op}: expected both operands to have the same dtype, but got {a.dtype.name} and "
                           f"{b.dtype.name} (shapes {tuple(a._data.shape)} and {tuple(b._data.shape)})")
    if da.kind == "b":
        raise NotImplementedError(f"{op}: not implemented for 'Bool' (shapes {tuple(a._data.shape)} and "
                                  f"{tuple(b._data.shape)})")
    same_device(a, b, op)


def _check_inner(sa, sb, op):
    """The contracted sizes must agree: a's last dim and b's second-last (or only) dim."""
    ka, kb = sa[-1], sb[-2] if len(sb) > 1 else sb[0]
    if ka != kb:
        raise RuntimeError(f"{op}: shapes {sa} and {sb} cannot be multiplied ({ka} != {kb})")


def _check_matmul(a, b, op="matmul"):
    _check_pair(a, b, op)
    sa, sb = tuple(a._data.shape), tuple(b._data.shape)
    if not sa or not sb:
        raise RuntimeError(f"{op}: both arguments to matmul need to be at least 1D, but they are {len(sa)}D and "
                           f"{len(sb)}D")
    _check_inner(sa, sb, op)
    ba, bb = sa[:-2], sb[:-2]
    for i in range(1, min(len(ba), len(bb)) + 1):
        x, y = ba[-i], bb[-i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"{op}: batch dimensions of shapes {sa} and {sb} cannot be broadcast: the size of "
                               f"tensor a ({x}) must match the size of tensor b ({y}) at non-singleton dimension "
                               f"{max(len(ba), len(bb)) - i}")


@export(Matmul, SparseMM, methods=("matmul", "__matmul__"))
def matmul(input, other):
    """The matrix product of input and other, with vectors and broadcast batches as in PyTorch.

    1-D operands are vectors (a 1-D input is a row, a 1-D other a column; the added dimension is removed from the
    result); dimensions before the last two are batch dimensions, which broadcast. Both operands must have the
    same dtype (no promotion, as in PyTorch). Under autocast the operands are cast to the autocast dtype; a sparse
    COO operand uses the sparse product.

    Args:
        input (Tensor): the first operand, at least 1-D.
        other (Tensor): the second operand, at least 1-D.

    Returns:
        Tensor: the product, of the dtype of the operands.

    Shape:
        - (n, k) @ (k, m) -> (n, m); (k,) @ (k,) -> (); (n, k) @ (k,) -> (n,).
        - (b, n, k) @ (k, m) -> (b, n, m); (b, 1, n, k) @ (c, k, m) -> (b, c, n, m).

    PyTorch:
        ``torch.matmul``, ``Tensor.matmul`` and the ``@`` operator; same semantics (no ``out=`` argument).

    Example:
        >>> a = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> ember.matmul(a, ember.tensor([1.0, 1.0]))
    tensor([3., 7.])
        >>> (ember.ones(5, 2, 3) @ ember.ones(3, 4)).shape
        ember.Size([5, 2, 4])
    """
    if _autocast.active:
        input, other = _autocast.cast(input, other)
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        a, b = input._data, other._data
        sa, sb = a.shape, b.shape
        if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0] and a.dtype is b.dtype and a.dtype.kind in "fiu" \
                and a.__class__ is b.__class__ is _ndarray:  # the hot path: two CPU matrices, nothing to check
            return apply(Matmul(), input, other)
        if a.__class__ is SparseCOO or b.__class__ is SparseCOO:
            return sparse_product("matmul", input, other)
    _check_matmul(input, other)
    return apply(Matmul(), input, other)


@export(Matmul, ember=False, methods=("__rmatmul__",))
def _rmatmul(self, other):
    """other @ self (the reflected operator)."""
    return matmul(other, self)


def _sparse_operand(a, b):
    """Whether a or b is a sparse tensor (their product is ops/sparse.py's)."""
    return (isinstance(a, Tensor) and a._data.__class__ is SparseCOO) or \
        (isinstance(b, Tensor) and b._data.__class__ is SparseCOO)


def _product(op, a, b, rank_error):
    """a @ b for mm, bmm, mv and dot: the checks every product makes, then rank_error(sa, sb), which returns the
    op's message when the operands' ranks (or batch sizes) are wrong."""
    _check_pair(a, b, op)
    sa, sb = tuple(a._data.shape), tuple(b._data.shape)
    msg = rank_error(sa, sb)
    if msg:
        raise RuntimeError(f"{op}: {msg}")
    _check_inner(sa, sb, op)
    return apply(Matmul(), a, b)


def _mm_ranks(sa, sb):
    if len(sa) != 2:
        return f"self must be a matrix, but got shape {sa}"
    if len(sb) != 2:
        return f"mat2 must be a matrix, but got shape {sb}"


def _bmm_ranks(sa, sb):
    if len(sa) != 3:
        return f"batch1 must be a 3D tensor, but got shape {sa}"
    if len(sb) != 3:
        return f"batch2 must be a 3D tensor, but got shape {sb}"
    if sa[0] != sb[0]:
        return f"shapes {sa} and {sb} have different batch sizes ({sa[0]} != {sb[0]})"


@export(Matmul, SparseMM, methods=("mm",))
def mm(input, mat2):
    """The product of two matrices (2-D only, no broadcasting: see ``matmul``).

    Both operands must have the same dtype (no promotion, as in PyTorch). Under autocast the operands are cast to
    the autocast dtype; a sparse COO operand uses the sparse product.

    Args:
        input (Tensor): an (n, k) matrix.
        mat2 (Tensor): a (k, m) matrix.

    Returns:
        Tensor: the (n, m) product.

    Shape:
        - input: (n, k); mat2: (k, m).
        - Output: (n, m).

    PyTorch:
        ``torch.mm`` and ``Tensor.mm``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.mm(ember.tensor([[1.0, 2.0], [3.0, 4.0]]), ember.tensor([[1.0], [1.0]]))
        tensor([[3.],
                [7.]])
    """
    if _autocast.active:
        input, mat2 = _autocast.cast(input, mat2)
    if _sparse_operand(input, mat2):
        return sparse_product("mm", input, mat2)
    return _product("mm", input, mat2, _mm_ranks)


@export(Matmul, methods=("bmm",))
def bmm(input, mat2):
    """The batched matrix product of two 3-D tensors with the same batch size (no broadcasting: see ``matmul``).

    Both operands must have the same dtype (no promotion, as in PyTorch). Under autocast the operands are cast to
    the autocast dtype.

    Args:
        input (Tensor): a (b, n, k) batch of matrices.
        mat2 (Tensor): a (b, k, m) batch of matrices.

    Returns:
        Tensor: the (b, n, m) products.

    Shape:
        - input: (b, n, k); mat2: (b, k, m).
        - Output: (b, n, m).

    PyTorch:
        ``torch.bmm`` and ``Tensor.bmm``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.bmm(ember.ones(2, 3, 4), ember.ones(2, 4, 5)).shape
        ember.Size([2, 3, 5])
    """
    if _autocast.active:
        input, mat2 = _autocast.cast(input, mat2)
    return _product("bmm", input, mat2, _bmm_ranks)


@export(Matmul, SparseMM, methods=("mv",))
def mv(input, vec):
    """The product of a matrix and a vector.

    Both operands must have the same dtype (no promotion, as in PyTorch). A sparse COO matrix uses the sparse product.

    Args:
        input (Tensor): an (n, m) matrix.
        vec (Tensor): an (m,) vector.

    Returns:
        Tensor: the (n,) product.

    Shape:
        - input: (n, m); vec: (m,).
        - Output: (n,).

    PyTorch:
        ``torch.mv`` and ``Tensor.mv``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.mv(ember.tensor([[1.0, 2.0], [3.0, 4.0]]), ember.tensor([1.0, 1.0]))
        tensor([3., 7.])
    """
    if _sparse_operand(input, vec):
        return sparse_product("mv", input, vec)
    return _product("mv", input, vec, lambda sa, sb: None if len(sa) == 2 and len(sb) == 1 else
                    f"vector + matrix @ vector expected, got shapes {sa} and {sb}")


@export(Matmul, methods=("dot",))
def dot(input, other):
    """The inner product ``sum(input * other)`` of two 1-D tensors of the same size.

    Both operands must have the same dtype (no promotion, as in PyTorch).

    Args:
        input (Tensor): a 1-D tensor.
        other (Tensor): a 1-D tensor of input's size.

    Returns:
        Tensor: 0-d.

    PyTorch:
        ``torch.dot`` and ``Tensor.dot``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.dot(ember.tensor([1, 2]), ember.tensor([3, 4]))
        tensor(11)
    """
    return _product("dot", input, other, lambda sa, sb: None if len(sa) == 1 and len(sb) == 1 else
                    f"1D tensors expected, but got {len(sa)}D and {len(sb)}D tensors (shapes {sa} and {sb})")


@export(Matmul, methods=("vdot",))
def vdot(input, other):
    """The inner product of two 1-D tensors, conjugating the first: for real tensors the same as ``dot``.

    Both operands must have the same dtype (no promotion, as in PyTorch).

    Args:
        input (Tensor): a 1-D tensor.
        other (Tensor): a 1-D tensor of input's size.

    Returns:
        Tensor: 0-d.

    PyTorch:
        ``torch.vdot`` and ``Tensor.vdot``; same semantics for real tensors (ember has no complex dtypes). No
        ``out=`` argument.

    Example:
        >>> ember.vdot(ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]))
        tensor(11.)
    """
    return dot(input, other)


@export(ember=("outer", "ger"), methods=("outer", "ger"))
def outer(input, vec2):
    """The outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``.

    The dtypes promote as in ``ember.mul``.

    Args:
        input (Tensor): a 1-D tensor of size n.
        vec2 (Tensor): a 1-D tensor of size m.

    Returns:
        Tensor: the (n, m) product.

    PyTorch:
        ``torch.outer``, ``torch.ger``, ``Tensor.outer`` and ``Tensor.ger``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.outer(ember.tensor([1, 2]), ember.tensor([1.0, 10.0, 100.0]))
        tensor([[  1.,  10., 100.],
                [  2.,  20., 200.]])
    """
    for name, t in (("self", input), ("vec2", vec2)):
        check_tensor(t, "outer", "input" if name == "self" else "vec2", 1 if name == "self" else 2)
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t._data.ndim}-D "
                               f"(shape {tuple(t._data.shape)})")
    return mul(input.reshape(-1, 1), vec2)


def _add_scaled(input, product, beta, alpha, op):
    """beta * input + alpha * product, where input must broadcast to product's shape (beta=0 ignores input)."""
    check_tensor(input, op, "input", 1)
    if input._data.dtype != product._data.dtype:
        raise RuntimeError(f"{op}: expected input and the product to have the same dtype, but got "
                           f"{input.dtype.name} and {product.dtype.name}")
    si, sp = tuple(input._data.shape), tuple(product._data.shape)
    if len(si) > len(sp) or any(x != y and x != 1 for x, y in zip(si[::-1], sp[::-1])):
        raise RuntimeError(f"{op}: input of shape {si} cannot be broadcast to the product's shape {sp}")
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)


@export(methods=("addmm",))
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``: a matrix product added to a scaled input.

    input broadcasts to the product's shape and must have its dtype. With beta=0 input is ignored (NaN in it does
    not propagate). Under autocast the operands are cast to the autocast dtype.

    Args:
        input (Tensor): the tensor added; it broadcasts to (n, m).
        mat1 (Tensor): an (n, k) matrix.
        mat2 (Tensor): a (k, m) matrix.
        beta (number): the multiplier of input (keyword only). Default: 1.
        alpha (number): the multiplier of the product (keyword only). Default: 1.

    Returns:
        Tensor: of shape (n, m).

    Shape:
        - input: broadcastable to (n, m); mat1: (n, k); mat2: (k, m).
        - Output: (n, m).

    PyTorch:
        ``torch.addmm`` and ``Tensor.addmm``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.addmm(ember.tensor([1.0, 1.0]), ember.tensor([[1.0, 2.0]]), ember.eye(2), beta=2, alpha=3)
        tensor([[5., 8.]])
    """
    if _autocast.active:
        input, mat1, mat2 = _autocast.cast(input, mat1, mat2)
    return _add_scaled(input, mm(mat1, mat2), beta, alpha, "addmm")


@export(methods=("addmv",))
def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``: a matrix-vector product added to a scaled input.

    input broadcasts to the product's shape and must have its dtype. With beta=0 input is ignored.

    Args:
        input (Tensor): the tensor added; it broadcasts to (n,).
        mat (Tensor): an (n, m) matrix.
        vec (Tensor): an (m,) vector.
        beta (number): the multiplier of input (keyword only). Default: 1.
        alpha (number): the multiplier of the product (keyword only). Default: 1.

    Returns:
        Tensor: of shape (n,).

    Shape:
        - input: broadcastable to (n,); mat: (n, m); vec: (m,).
        - Output: (n,).

    PyTorch:
        ``torch.addmv`` and ``Tensor.addmv``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.addmv(ember.tensor([1.0, 1.0]), ember.tensor([[1.0, 2.0], [3.0, 4.0]]), ember.ones(2), beta=0.5)
        tensor([3.5000, 7.5000])
    """
    return _add_scaled(input, mv(mat, vec), beta, alpha, "addmv")


@export(methods=("baddbmm",))
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * bmm(batch1, batch2)``: a batched matrix product added to a scaled input.

    input broadcasts to the product's shape and must have its dtype. With beta=0 input is ignored. Under autocast
    the operands are cast to the autocast dtype.

    Args:
        input (Tensor): the tensor added; it broadcasts to (b, n, m).
        batch1 (Tensor): a (b, n, k) batch of matrices.
        batch2 (Tensor): a (b, k, m) batch of matrices.
        beta (number): the multiplier of input (keyword only). Default: 1.
        alpha (number): the multiplier of the product (keyword only). Default: 1.

    Returns:
        Tensor: of shape (b, n, m).

    Shape:
        - input: broadcastable to (b, n, m); batch1: (b, n, k); batch2: (b, k, m).
        - Output: (b, n, m).

    PyTorch:
        ``torch.baddbmm`` and ``Tensor.baddbmm``; same semantics (no ``out=`` argument).

    Example:
        >>> ember.baddbmm(ember.zeros(2, 3, 5), ember.ones(2, 3, 4), ember.ones(2, 4, 5), alpha=0.5)[0, 0]
        tensor([2., 2., 2., 2., 2.])
    """
    if _autocast.active:
        input, batch1, batch2 = _autocast.cast(input, batch1, batch2)
    return _add_scaled(input, bmm(batch1, batch2), beta, alpha, "baddbmm")


# --- einsum ---------------------------------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _sizes(specs, shapes):
    """The broadcast size of every subscript letter (validated by einsum before the node runs)."""
    sizes = {}
    for spec, shape in zip(specs, shapes):
        for c, n in zip(spec, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
    return sizes


def _einsum_arrays(xp, equation, arrays):
    dtype = arrays[0].dtype
    if dtype.kind not in "fiu":  # ml_dtypes' bfloat16 has no einsum loop: compute in float32
        arrays = [a.astype("float32") for a in arrays]
    kwargs = {}
    if len(arrays) > 1 and xp.__name__ == "numpy" and (len(arrays) > 2 or sum(a.size for a in arrays) > 4096):
        kwargs["optimize"] = "greedy"  # pairwise contractions through BLAS; the path search costs ~10 us
    out = xp.einsum(equation, *arrays, **kwargs)
    if len(arrays) == 1 and getattr(out, "base", None) is not None:
        out = out.copy()  # single-operand einsum returns views (diagonals, transposes); ours owns its data
    if out.dtype != dtype:
        out = out.astype(dtype)
    return out


@register
class Einsum(Node):
    """Einstein summation over subscript letters (ellipses already expanded, output given explicitly)."""

    def __init__(self, specs, out):
        self.specs, self.out = specs, out
        self.equation = ",".join(specs) + "->" + out

    @property
    def saves(self):  # input j is read by the gradient of every other input
        need = self.needs_input_grad
        return tuple(j for j in range(len(need)) if any(need[:j]) or any(need[j + 1:]))

    def infer(self, *operands):
        sizes = _sizes(self.specs, [m.shape for m in operands])
        return TensorMeta(tuple(sizes[c] for c in self.out), operands[0].dtype)

    def forward(self, xp, *arrays):
        self.shapes = [a.shape for a in arrays]
        self.sizes = _sizes(self.specs, self.shapes)
        return _einsum_arrays(xp, self.equation, arrays)

    def backward(self, g):
        return tuple(_einsum_grad(self, g, k) if need else None for k, need in enumerate(self.needs_input_grad))


def _einsum_grad(node, g, k):
    """d out / d operand k: einsum of g with the other operands, onto operand k's subscripts.

    A subscript repeated in operand k (a diagonal) gets a fresh letter tied to it by an identity matrix; a subscript
    that only operand k has (summed away) is broadcast back; size-1 dimensions that were broadcast are summed.
    """
    specs, sizes, inputs = node.specs, node.sizes, node.inputs
    spec = specs[k]
    used = set(node.out).union(*(s for j, s in enumerate(specs) if j != k))
    fresh = (c for c in _LETTERS if c not in sizes)
    target, deltas, seen, full = [], [], set(), []
    for c in spec:
        full.append(sizes[c])
        if c in seen:
            f = next(fresh)
            deltas.append(c + f)
            target.append(f)
        else:
            seen.add(c)
            target.append(c)
    used.update(*deltas)
    kept = "".join(c for c in target if c in used)
    op_specs = [node.out] + [s for j, s in enumerate(specs) if j != k] + deltas
    operands = [g] + [t for j, t in enumerate(inputs) if j != k]
    if deltas:
        xp = get_array_module(g._data)
        operands += [Tensor._wrap(xp.eye(sizes[d[0]], dtype=g._data.dtype)) for d in deltas]
    r = g if op_specs == [kept] else apply(Einsum(tuple(op_specs), kept), *operands)
    if len(kept) != len(target):  # subscripts only operand k had: broadcast the gradient along them
        it = iter(r._data.shape)
        r = r.reshape(tuple(next(it) if c in used else 1 for c in target))
    r = broadcast_to(r, tuple(full))
    shape = node.shapes[k]
    return r if r._data.shape == shape else sum_to(r, shape)


def _einsum_error(msg):
    return RuntimeError("einsum(): " + msg)


@functools.lru_cache(maxsize=256)
def _parse(equation, ndims):
    """Normalise an equation for operands of the given ranks: one letter per dimension, explicit output.

    Returns (input specs, output spec, ellipsis letters)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    if "->" in rhs:
        raise _einsum_error(f"the equation {equation!r} contains more than one '->'")
    terms = lhs.split(",")
    if len(terms) > len(ndims):
        raise _einsum_error("fewer operands were provided than specified in the equation")
    if len(terms) < len(ndims):
        raise _einsum_error("more operands were provided than specified in the equation")
    parsed = [_parse_term(t, i) for i, t in enumerate(terms)]  # (letters before, letters after, has ellipsis)
    letters = set(eq) & set(_LETTERS)
    n_ell = 0
    for i, ((pre, post, ell), nd) in enumerate(zip(parsed, ndims)):
        n = len(pre) + len(post)
        if not ell and n != nd:
            raise _einsum_error(f"the number of subscripts in the equation ({n}) does not match the number of "
                                f"dimensions ({nd}) for operand {i} and no ellipsis was given")
        if ell and n > nd:
            raise _einsum_error(f"the number of subscripts in the equation ({n}) is more than the number of "
                                f"dimensions ({nd}) for operand {i}")
        if ell:
            n_ell = max(n_ell, nd - n)
    spare = [c for c in _LETTERS if c not in letters]
    if n_ell > len(spare):
        raise _einsum_error("too many dimensions: einsum supports at most 52 distinct subscripts")
    ell_letters = "".join(spare[:n_ell])
    specs = tuple(pre + (ell_letters[n_ell - (nd - len(pre) - len(post)):] if ell else "") + post
                  for (pre, post, ell), nd in zip(parsed, ndims))
    if arrow:
        pre, post, ell = _parse_term(rhs, None)
        out = pre + (ell_letters if ell else "") + post
        in_letters = set("".join(specs))
        for c in pre + post:
            if c not in in_letters:
                raise _einsum_error(f"output subscript {c} does not appear in the equation for any input operand")
            if out.count(c) > 1:
                raise _einsum_error(f"output subscript {c} appears more than once in the output")
    else:
        counts = {}
        for s in specs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell_letters + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell_letters))
    return specs, out, ell_letters


def _parse_term(term, i):
    """Split one operand's subscripts at its ellipsis: (letters before, letters after, has ellipsis)."""
    who = f"for operand {i}" if i is not None else "in the output"
    pre, dots, post = term.partition("...")
    for c in pre + post:
        if c == ".":
            raise _einsum_error(f"found '.' {who} for which an ellipsis was already found" if "..." in post
                                else f"found '.' {who} that is not part of any ellipsis")
        if c not in _LETTERS:
            raise _einsum_error(f"invalid subscript {c!r} given {who}, subscripts must be in [a-zA-Z]")
    return pre, post, bool(dots)


def _sublist_equation(args):
    """torch.einsum's sublist format (operand, its subscripts, ..., the output's subscripts) as (equation,
    operands): subscript s is the letter "A" + s below 26, else "a" + (s - 26)."""
    def letters(sublist):
        out = []
        for s in sublist:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, int) and 0 <= s < 52:
                out.append(chr(ord("A") + s) if s < 26 else chr(ord("a") + s - 26))
            else:
                raise ValueError(f"einsum(): expected subscript to be within the range [0, 52), but got {s!r}")
        return "".join(out)

    pairs, output = (args[:-1], args[-1]) if len(args) % 2 else (args, None)
    operands, sublists = pairs[0::2], pairs[1::2]
    equation = ",".join(letters(sub) for sub in sublists)
    return (equation if output is None else equation + "->" + letters(output)), operands


@export(Einsum)
def einsum(equation, *operands):
    """Einstein summation: the sum of products of the operands' elements over the subscripts the output lacks.

    ``equation`` names each operand's dimensions with letters (``"bij,bjk->bik"`` is a batched matrix product).
    Without ``->`` the output has the letters that occur once, in alphabetical order; ``...`` stands for the
    remaining (broadcast) dimensions; a letter repeated in one operand takes its diagonal; size-1 dimensions
    broadcast. The operands must share one dtype (not bool). Under autocast they are cast to the autocast dtype.

    The sublist format ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` gives each operand's subscripts as a list of ints
    in [0, 52) (and ``...``) after it, the output's last (optional).

    Args:
        equation (str): the subscripts, as ``"ij,jk->ik"``.
        *operands (Tensor): the tensors, one per comma-separated term (or one list or tuple of them).

    Returns:
        Tensor: of the operands' dtype, with one dimension per output letter.

    PyTorch:
        ``torch.einsum``; same semantics (at most 52 distinct subscripts).

    Example:
        >>> ember.einsum("ij,jk->ik", ember.ones(2, 3), ember.ones(3, 4)).shape
        ember.Size([2, 4])
        >>> ember.einsum("ii", ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor(5.)
        >>> ember.einsum(ember.ones(2, 3), [0, 1], ember.ones(3), [1], [0])
        tensor([3., 3.])
    """
    if isinstance(equation, Tensor):
        equation, operands = _sublist_equation((equation, *operands))
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if _autocast.active:
        operands = _autocast.cast(*operands)
    if not operands:
        raise _einsum_error("must provide at least one operand")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): operand {i} must be a Tensor, not {type(t).__name__}")
    first = operands[0]
    for i, t in enumerate(operands[1:], 1):
        if t._data.dtype != first._data.dtype:
            raise RuntimeError(f"einsum(): expected all operands to have the same dtype, but operand 0 is "
                               f"{first.dtype.name} and operand {i} is {t.dtype.name}")
        same_device(first, t, "einsum")
    if first._data.dtype.kind == "b":
        raise NotImplementedError("einsum(): not implemented for 'Bool'")
    specs, out, ell = _parse(equation, tuple(t._data.ndim for t in operands))
    _check_einsum_sizes(specs, ell, [t._data.shape for t in operands])
    return apply(Einsum(specs, out), *operands)


def _check_einsum_sizes(specs, ell, shapes):
    seen = {}
    for i, (spec, shape) in enumerate(zip(specs, shapes)):
        mine = {}
        for c, n in zip(spec, shape):
            if mine.setdefault(c, n) != n:
                raise _einsum_error(f"subscript {c} is repeated for operand {i} but the sizes don't match, "
                                    f"{mine[c]} != {n} (shape {tuple(shape)})")
        for c, n in mine.items():
            m = seen.get(c, 1)
            if n != m and n != 1 and m != 1:
                what = (f"dimension {ell.index(c)} covered by ellipsis" if c in ell else f"subscript {c}")
                raise _einsum_error(f"{what} has size {n} for operand {i} (shape {tuple(shape)}) which does not "
                                    f"broadcast with previously seen size {m}")
            if m == 1:
                seen[c] = n

