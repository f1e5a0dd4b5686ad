"""Normalisation ops: batch_norm, layer_norm, group_norm, instance_norm, rms_norm (fused nodes) and
local_response_norm (composite).

Every fused norm views its input twice: a *stats view* whose reduced axes give one mean and variance per slice,
and an *affine view* in which weight and bias broadcast. The forward reduces with einsum/vecdot in the input's
dtype (float16/bfloat16 are computed in float32, float32 is never upcast) and saves the centred input and 1/std,
the two factors of x-hat. The backward is a gradient node, NormalizeGrad, whose forward is fused array code and
whose own backward (the second derivative) differentiates the normalisation written with ember ops (its
decomposition), so gradients of gradients are exact.
"""
import functools
import math

from .. import dtypes as _dt
from ..autograd import Node, is_grad_enabled
from ..dtypes import finfo
from ..autograd.graph import apply, increment_version
from ..tensor import Tensor
from ._checks import check_tensor, same_device
from .arith import pow as _pow
from .creation import zeros
from .decompose import vjp_backward
from .join import cat, narrow
from .meta import TensorMeta, same_as
from .reduce import mean as _mean
from .registry import export, register
from .shape import reshape
from .unary import rsqrt


_LETTERS = "abcdefgh"


class _Layout:
    """The stats view (sview, reduced saxes, kept shape kshape, n values per statistic) and the affine view
    (aview, parameter broadcast shape pshape, axes paxes that weight/bias gradients sum over)."""

    __slots__ = ("sview", "saxes", "kshape", "n", "s_sum", "s_dot", "s_rest", "aview", "pshape", "paxes", "p_sum",
                 "p_dot", "p_rest", "aligned", "rows", "flat")


def _reductions(ndim, axes):
    """einsum subscripts summing an array over axes and the product of two; and, when the last axis is
    reduced, the other reduced axes (a dot product reduces the last axis with vecdot, then sums those)."""
    src = _LETTERS[:ndim]
    dst = "".join(c for i, c in enumerate(src) if i not in axes)
    rest = tuple(a for a in axes if a != ndim - 1) if ndim - 1 in axes else None
    return f"{src}->{dst}", f"{src},{src}->{dst}", rest


@functools.lru_cache(maxsize=512)
def _layout(sview, saxes, aview, pa):
    lay = _Layout()
    lay.sview, lay.saxes = sview, saxes
    lay.kshape = tuple(1 if i in saxes else s for i, s in enumerate(sview))
    lay.n = math.prod(sview[i] for i in saxes)
    lay.s_sum, lay.s_dot, lay.s_rest = _reductions(len(sview), saxes)
    lay.aview = aview
    lay.pshape = (aview[pa],) + (1,) * (len(aview) - pa - 1)
    lay.paxes = tuple(i for i in range(len(aview)) if i != pa)
    lay.p_sum, lay.p_dot, lay.p_rest = _reductions(len(aview), lay.paxes)
    lay.aligned = sview == aview and saxes == lay.paxes  # one statistic per parameter (batch norm)
    lay.rows = len(sview) == 2 and sview == aview and saxes == (1,) and pa == 1  # layer_norm / rms_norm
    # batch norm of (N, C, R) arrays: elementwise ops with per-channel values run on the (N, C*R) view (_per_channel)
    lay.flat = (sview[0], sview[1] * sview[2]) if lay.aligned and len(sview) == 3 and saxes == (0, 2) else None
    return lay


def _per_channel(xp, lay, v):
    """The values v of the statistics' kept shape (one per channel, for batch norm), shaped to broadcast against
    an array in the elementwise view (_ew). For batch norm's (N, C, R) arrays that is the (N, C*R) view and v
    repeated R times into a row: numpy runs an elementwise op against a row about 1.5x as fast as against
    (1, C, 1) values (one long inner loop per image instead of one per image and channel)."""
    if lay.flat is None:
        return v.reshape(lay.kshape)
    return xp.repeat(v.reshape(-1), lay.sview[2])


def _ew(a, lay):
    """a (of the stats view's size) in the view that elementwise ops with per-channel values use (_per_channel)."""
    return a.reshape(lay.flat or lay.sview)


def _centre(xp, lay, xs, mean):
    """xs - mean, a new array in the stats view."""
    if lay.flat is None:
        return xs - mean
    return xp.subtract(_ew(xs, lay), _per_channel(xp, lay, mean)).reshape(lay.sview)


def _channel_layout(shape):
    """Batch-norm layout: statistics per channel over (N, *), parameters per channel."""
    n, c = shape[0], shape[1]
    rest = math.prod(shape[2:])
    if rest == 1:
        return _layout((n, c), (0,), (n, c), 1)
    return _layout((n, c, rest), (0, 2), (n, c, rest), 1)


def _compute_dtype(dtype):
    """float16/bfloat16 are normalised in float32 (as PyTorch does); other dtypes in themselves."""
    return "float32" if dtype.itemsize < 4 else None


def _dot(xp, a, b, sub, rest):
    """sum(a * b) over the reduced axes, without a temporary: vecdot (BLAS dot per row) when the last axis is
    reduced, else einsum."""
    if rest is not None and hasattr(xp, "vecdot"):
        d = xp.vecdot(a, b)
        return d.sum(axis=rest) if rest else d
    return xp.einsum(sub, a, b)


def _fit(a, shape, dtype):
    """a (1-D, owning its data) with the given shape and dtype."""
    if a.dtype != dtype:
        a = a.astype(dtype)
    return a if a.shape == shape else a.reshape(shape).copy()


def _buffer(xp, shape, view, dtype):
    """A view of shape `view` of a new array of shape `shape`."""
    return xp.empty(shape, dtype).reshape(view)


@register
class Normalize(Node):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over a layout; without centring (rms_norm) x / rms.

    ``stats`` is None to normalise with the input's own statistics, or (running_mean, running_var) arrays
    (evaluation mode); ``running`` is (running_mean, running_var, momentum) to update in place in training;
    ``keep`` says whether a backward can follow. For it the forward saves the statistics mean and
    rstd = 1 / sqrt(var + eps) (small); backward recomputes the centred input xc = x - mean (x itself for
    rms_norm) rather than holding a second activation-sized array until then. x-hat = xc * rstd is never
    materialised, its factor rstd is folded into per-row or per-channel constants instead.
    """

    saves = (0, 1)  # x and weight; of the bias only its shape and dtype (kept in forward)
    b_meta = scale = None  # set in forward: the bias's (shape, dtype); evaluation mode's rstd * weight

    def __init__(self, lay, eps, center=True, stats=None, running=None, keep=True):
        self.lay, self.eps, self.center, self.stats, self.running, self.keep = lay, eps, center, stats, running, keep

    def infer(self, x, w, b):
        return same_as(x)

    # --- forward ---------------------------------------------------------------------------------------------
    def forward(self, xp, x, w, b):
        lay = self.lay
        if b is not None:
            self.b_meta = (b.shape, b.dtype)
        cdt = _compute_dtype(x.dtype)
        xs = xp.ascontiguousarray(x.reshape(lay.sview))  # the output is laid out as xs: C-contiguous as PyTorch's
        if cdt is not None:
            xs = xs.astype(cdt)
        wv = None if w is None else w.reshape(lay.pshape).astype(xs.dtype, copy=False)
        bv = None if b is None else b.reshape(lay.pshape).astype(xs.dtype, copy=False)
        if self.stats is None:
            y = self._own_stats(xp, xs, wv, bv)
        else:
            y = self._given_stats(xp, xs, wv, bv)
        if cdt is not None:
            return y.reshape(x.shape).astype(x.dtype)
        return y if y.shape == x.shape else y.reshape(x.shape)

    def _own_stats(self, xp, xs, wv, bv):
        lay, n = self.lay, self.lay.n
        inv_n = 1.0 / n if n else math.nan
        if self.center:
            mean = xp.einsum(lay.s_sum, xs).reshape(lay.kshape)
            mean *= inv_n
            xc = _centre(xp, lay, xs, mean)
        else:
            mean, xc = None, xs
        var = _dot(xp, xc, xc, lay.s_dot, lay.s_rest).reshape(lay.kshape)
        var *= inv_n
        if self.running is not None:
            self._update_running(mean, var)
        var += self.eps
        rstd = xp.sqrt(var, out=var)
        rstd = xp.reciprocal(rstd, out=rstd)
        if self.keep:
            self.mean, self.rstd = mean, rstd
        # the output is written into xc when that is a new array (not the caller's input)
        y = xc if self.center else xp.empty(lay.sview, xc.dtype)
        if lay.aligned:  # rstd and weight are both per channel: one scaling pass
            ye = _ew(y, lay)
            xp.multiply(_ew(xc, lay), _per_channel(xp, lay, rstd if wv is None else rstd * wv), out=ye)
            if bv is not None:
                ye += _per_channel(xp, lay, bv)
            return y
        else:
            xp.multiply(xc, rstd, out=y)
            y = y.reshape(lay.aview)
            if wv is not None:
                y *= wv
        if bv is not None:
            y += bv
        return y

    def _given_stats(self, xp, xs, wv, bv):
        lay = self.lay
        rm, rv = self.stats
        mean = rm.reshape(lay.kshape).astype(xs.dtype)
        rstd = rv.reshape(lay.kshape).astype(xs.dtype)
        rstd += self.eps
        rstd = xp.sqrt(rstd, out=rstd)
        rstd = xp.reciprocal(rstd, out=rstd)
        scale = rstd if wv is None else rstd * wv
        shift = mean * scale
        shift = xp.negative(shift, out=shift)
        if bv is not None:
            shift += bv
        if self.keep:
            self.mean, self.rstd, self.scale = mean, rstd, scale
        y = xp.multiply(_ew(xs, lay), _per_channel(xp, lay, scale))
        y += _per_channel(xp, lay, shift)
        return y.reshape(lay.sview)

    def has_effects(self):
        return self.running is not None

    def _update_running(self, mean, var):
        """running = (1 - momentum) * running + momentum * statistic, in place (unbiased variance)."""
        rm, rv, m = self.running
        n = self.lay.n
        for t, stat in ((rm, mean), (rv, var)):
            if t is None:
                continue
            d = t._data
            s = stat.reshape(-1, d.size)
            s = s[0] if s.shape[0] == 1 else s.mean(0)  # instance norm: the mean over the batch
            if stat is var:
                s = s * (n / (n - 1))
            new = s.reshape(d.shape) * m
            new += d * (1.0 - m)
            d[...] = new
            increment_version(t)

    # --- backward --------------------------------------------------------------------------------------------
    def backward(self, g):
        grad = NormalizeGrad(self.lay, self.eps, self.center, self.stats, self.mean, self.rstd, self.scale,
                             self.b_meta, self.needs_input_grad)
        return apply(grad, self.inputs[0], self.inputs[1], g)


@register
class NormalizeGrad(Node):
    """The gradients (x, weight, bias) of a Normalize node from (x, weight, g): its forward is the fused array
    backward, its backward (the second derivative) comes from the decomposition of the normalisation into ember
    ops (``vjp_backward``). It takes the forward's statistics (mean, rstd; in evaluation mode also the scale
    rstd * weight) and which gradients are needed; those not needed are None."""

    n_outputs = 3

    def __init__(self, lay, eps, center, stats, mean, rstd, scale, b_meta, needs):
        self.lay, self.eps, self.center, self.stats = lay, eps, center, stats
        self.mean, self.rstd, self.scale, self.b_meta, self.needs = mean, rstd, scale, b_meta, needs

    def infer(self, x, w, g):
        need_x, need_w, need_b = self.needs
        return (same_as(x) if need_x else None, same_as(w) if need_w else None,
                TensorMeta(tuple(self.b_meta[0]), self.b_meta[1]) if need_b else None)

    def forward(self, xp, x, w, g):
        lay = self.lay
        need_x, need_w, need_b = self.needs
        cdt = _compute_dtype(g.dtype)
        if cdt is not None:
            g = g.astype(cdt)
        ga = g.reshape(lay.aview)
        wv = None if w is None else w.reshape(lay.pshape).astype(ga.dtype, copy=False)
        if self.stats is not None:
            gx, gw, gb = self._grads_given_stats(xp, x, ga, need_x, need_w, need_b)
        elif lay.rows:
            gx, gw, gb = self._grads_last_dim(xp, x, ga, wv, need_x, need_w, need_b)
        elif lay.aligned:
            gx, gw, gb = self._grads_aligned(xp, x, ga, wv, need_x, need_w, need_b)
        else:
            gx, gw, gb = self._grads_rows(xp, x, ga, wv, need_x, need_w, need_b)
        # results in their final shapes without reshape views (a leaf's grad that is a view would be copied)
        if need_x:
            gx = gx.reshape(x.shape)  # a view: gx is a view of a buffer of that shape
            if cdt is not None:
                gx = gx.astype(x.dtype)
        return (gx if need_x else None, _fit(gw, w.shape, w.dtype) if need_w else None,
                _fit(gb, *self.b_meta) if need_b else None)

    def _grads_given_stats(self, xp, x, ga, need_x, need_w, need_b):
        """Evaluation mode: the statistics are constants, so gx = g * weight * rstd."""
        lay = self.lay
        gx = None
        if need_x:
            gx = _buffer(xp, x.shape, lay.aview, ga.dtype)
            xp.multiply(_ew(ga, lay), _per_channel(xp, lay, self.scale), out=_ew(gx, lay))
        gw = gb = None
        if need_w:
            xs = x.reshape(lay.sview)
            xc = _centre(xp, lay, xs.astype(ga.dtype) if xs.dtype != ga.dtype else xs, self.mean)
            gw = _dot(xp, ga, xc, lay.p_dot, lay.p_rest) * self.rstd.reshape(-1)
        if need_b:
            gb = xp.einsum(lay.p_sum, ga)
        return gx, gw, gb

    def _centred(self, xp, x):
        """xc = x - mean (x itself without centring) in the stats view and the compute dtype."""
        xs = x.reshape(self.lay.sview)
        cdt = _compute_dtype(xs.dtype)
        if cdt is not None:
            xs = xs.astype(cdt)
        return _centre(xp, self.lay, xs, self.mean) if self.center else xs

    def _grads_aligned(self, xp, x, ga, wv, need_x, need_w, need_b):
        """Per-channel statistics and parameters (batch norm): the sums of the parameter gradients are the
        sums the input gradient needs, and rstd folds into per-channel constants:
        gx = weight * rstd * (g - mean(g) - xc * rstd^2 * mean(g * xc))."""
        lay = self.lay
        rstd = self.rstd
        sg = sgx = gx = None
        if need_b or (need_x and self.center):
            sg = xp.einsum(lay.p_sum, ga)
        if need_w or need_x:
            xc = self._centred(xp, x)
            sgx = _dot(xp, ga, xc, lay.p_dot, lay.p_rest)
        if need_x:  # gx = g * k - xc * (k * rstd^2 * mean(g * xc)) - k * mean(g), k = weight * rstd
            inv_n = 1.0 / lay.n if lay.n else 0.0
            k = rstd if wv is None else rstd * wv.reshape(lay.kshape)
            t = _ew(xc, lay)  # a new array: scaled in place
            xp.multiply(t, _per_channel(xp, lay, sgx.reshape(lay.kshape) * (rstd * rstd * inv_n) * k), out=t)
            gx = _buffer(xp, x.shape, lay.sview, xc.dtype)
            ge = xp.multiply(_ew(ga, lay), _per_channel(xp, lay, k), out=_ew(gx, lay))
            ge -= t
            if self.center:
                ge -= _per_channel(xp, lay, sg.reshape(lay.kshape) * inv_n * k)
        return gx, (sgx * rstd.reshape(-1) if need_w else None), sg

    def _grads_last_dim(self, xp, x, g, wv, need_x, need_w, need_b):
        """layer_norm/rms_norm of (m, d) rows with parameters per column: the reductions are matrix-vector
        products (BLAS). With b = rowsum(g * w * xc) and a = rowsum(g * w):
        gx = rstd * (g * w - xc * rstd^2 * b / d - a / d), grad weight = rstd @ (g * xc)."""
        lay = self.lay
        m, d = lay.sview
        rstd = self.rstd.reshape(m)
        gb = xp.matmul(xp.ones(m, g.dtype), g) if need_b else None
        if not (need_x or need_w):
            return None, None, gb
        xc = self._centred(xp, x)
        gxc = xp.multiply(g, xc)
        gw = xp.matmul(rstd, gxc) if need_w else None
        if not need_x:
            return None, gw, gb
        ones = None if wv is not None else xp.ones(d, g.dtype)
        inv_d = 1.0 / d if d else 0.0
        k = xp.matmul(gxc, wv if ones is None else ones)  # b
        k *= rstd
        k *= rstd
        k *= inv_d
        gx = _buffer(xp, x.shape, lay.sview, g.dtype)
        if ones is None:
            xp.multiply(g, wv, out=gx)
        else:
            gx[...] = g
        if self.center:
            xc *= k[:, None]  # xc is a new array here
            gx -= xc
            a = xp.matmul(g, wv if ones is None else ones)
            a *= inv_d
            gx -= a[:, None]
        else:
            gx -= xc * k[:, None]
        gx *= rstd[:, None]
        return gx, gw, gb

    def _grads_rows(self, xp, x, ga, wv, need_x, need_w, need_b):
        """Per-row statistics (layer, group, instance and rms norm). With v = g * rstd * weight:
        gx = v - mean(v) - xc * rstd^2 * mean(v * xc), and grad weight = sum(g * rstd * xc)."""
        lay = self.lay
        rstd = self.rstd
        gb = xp.einsum(lay.p_sum, ga) if need_b else None
        if not (need_x or need_w):
            return None, None, gb
        xc = self._centred(xp, x)
        v = xp.multiply(ga.reshape(lay.sview), rstd, out=_buffer(xp, x.shape, lay.sview, xc.dtype))
        va = v.reshape(lay.aview)
        gw = _dot(xp, va, xc.reshape(lay.aview), lay.p_dot, lay.p_rest) if need_w else None
        if not need_x:
            return None, gw, gb
        if wv is not None:
            va *= wv
        inv_n = 1.0 / lay.n if lay.n else 0.0
        t = xc * (_dot(xp, v, xc, lay.s_dot, lay.s_rest).reshape(lay.kshape) * (rstd * rstd * inv_n))
        if self.center:
            t += xp.einsum(lay.s_sum, v).reshape(lay.kshape) * inv_n
        v -= t
        return v, gw, gb

    def backward(self, ggx, ggw, ggb):
        x, w, g = self.inputs
        need_b = self.needs[2]
        b = zeros(self.b_meta[0], dtype=_dt.from_numpy_dtype(self.b_meta[1]), device=g.device) if need_b else None
        dx, dw, _, dg = vjp_backward(self.decomposition, (x, w, b), (g,), (ggx, ggw, ggb))
        return dx, dw, dg

    def decomposition(self, x, w, b):
        """The normalisation with ember ops (b: the bias, or a zero stand-in when only its gradient matters)."""
        lay = self.lay
        xs = reshape(x, lay.sview)
        if self.stats is None:
            xc = xs - _mean(xs, lay.saxes, True) if self.center else xs
            rstd = rsqrt(_mean(xc * xc, lay.saxes, True) + self.eps)
        else:  # evaluation mode: the statistics are constants
            dt = x._data.dtype
            rstd = Tensor._wrap(self.rstd.astype(dt, copy=False))
            xc = xs - Tensor._wrap(self.mean.astype(dt, copy=False))
        y = reshape(xc * rstd, lay.aview)
        if w is not None:
            y = y * reshape(w, lay.pshape)
        if b is not None:
            y = y + reshape(b, lay.pshape)
        return reshape(y, x._data.shape)


# --- validation -------------------------------------------------------------------------------------------------

def _check_input(input, op):
    check_tensor(input, op)
    if not input.is_floating_point():
        raise RuntimeError(f"{op}: expected a floating-point input, got {input.dtype}")


def _check_same(t, name, input, op):
    """t must be a tensor with input's dtype (float32 parameters are allowed for 16-bit inputs) and device."""
    check_tensor(t, op, name)
    dt, xdt = t._data.dtype, input._data.dtype
    if dt != xdt and not (xdt.itemsize == 2 and dt.itemsize == 4 and t.is_floating_point()):
        raise RuntimeError(f"{op}: mixed dtype: input is {input.dtype} but {name} is {t.dtype} (all inputs must "
                           "share the same dtype)")
    same_device(input, t, op)


def _check_channels(params, c, input, op):
    """Each (tensor, name) that is not None holds one value per channel."""
    for t, name in params:
        if t is not None:
            _check_same(t, name, input, op)
            if t._data.size != c:
                raise RuntimeError(f"{op}: {name} should contain {c} elements not {t._data.size} (input shape "
                                   f"{tuple(input.shape)})")


def _needs_grad(*tensors):
    return is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _momentum(momentum, op):
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise TypeError(f"{op}(): argument 'momentum' must be float, not {type(momentum).__name__}")
    return float(momentum)


def _normalized_shape(normalized_shape, op):
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    try:
        return tuple(int(s) for s in normalized_shape)
    except TypeError:
        raise TypeError(f"{op}(): argument 'normalized_shape' must be tuple of ints, not "
                        f"{type(normalized_shape).__name__}") from None


def _last_dims_layout(input, ns, weight, bias, op):
    """Layout of layer_norm/rms_norm: statistics and parameters over the trailing normalized_shape."""
    shape = input._data.shape
    k = len(ns)
    if k == 0:
        raise RuntimeError(f"{op}: Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
                           "least one element, but got normalized_shape = []")
    if len(shape) < k or shape[len(shape) - k:] != ns:
        raise RuntimeError(f"{op}: Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size {list(shape)}")
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None:
            _check_same(t, name, input, op)
            if t._data.shape != ns:
                raise RuntimeError(f"{op}: Expected {name} to be of same shape as normalized_shape, but got {name} "
                                   f"of shape {list(t._data.shape)} and normalized_shape = {list(ns)}")
    d = math.prod(ns)
    m = math.prod(shape[:len(shape) - k])
    return _layout((m, d), (1,), (m, d), 1)


def _spatial(shape):
    return math.prod(shape[2:])


# --- public functions -------------------------------------------------------------------------------------------

@export(Normalize, ember=False, functional=True)
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) of an (N, C, *) input over the batch and spatial dimensions.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel. In training the batch statistics are used
    (the biased variance) and running_mean/running_var, when given, are updated in place: ``running = (1 -
    momentum) * running + momentum * statistic``, with the unbiased variance. Otherwise the running statistics are
    used. Training needs more than one value per channel.

    Args:
        input (Tensor): a floating-point tensor of shape (N, C, *).
        running_mean (Tensor, optional): the (C,) running mean; updated in training, required otherwise.
        running_var (Tensor, optional): the (C,) running variance; updated in training, required otherwise.
        weight (Tensor, optional): the (C,) scale; none when None. Default: None.
        bias (Tensor, optional): the (C,) shift; none when None. Default: None.
        training (bool): use (and record) the batch statistics. Default: False.
        momentum (float): the weight of the new statistic in the running update. Default: 0.1.
        eps (float): added to the variance. Default: 1e-05.

    Returns:
        Tensor: of input's shape and dtype.

    Shape:
        - Input: (N, C, *).
        - Output: (N, C, *).

    PyTorch:
        ``torch.nn.functional.batch_norm``; same semantics (momentum must be a number, as in PyTorch's function).

    Example:
        >>> mean, var = ember.zeros(2), ember.ones(2)
        >>> F.batch_norm(ember.tensor([[1.0, 2.0], [3.0, 6.0]]), mean, var, training=True)
        tensor([[-1.0000, -1.0000],
                [ 1.0000,  1.0000]])
        >>> mean, var
        (tensor([0.2000, 0.4000]), tensor([1.1000, 1.7000]))
    """
    _check_input(input, "batch_norm")
    shape = input._data.shape
    if len(shape) < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *) with at least 2 dimensions, got shape "
                         f"{tuple(shape)}")
    _check_channels(((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                     (bias, "bias")), shape[1], input, "batch_norm")
    keep = _needs_grad(input, weight, bias)
    lay = _channel_layout(shape)
    if training:
        if lay.n <= 1:
            raise ValueError(f"batch_norm: Expected more than 1 value per channel when training, got input size "
                             f"{tuple(shape)}")
        running = None
        if running_mean is not None or running_var is not None:
            running = (running_mean, running_var, _momentum(momentum, "batch_norm"))
        node = Normalize(lay, eps, True, None, running, keep)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"batch_norm: running_{'mean' if running_mean is None else 'var'} must be defined in "
                               "evaluation mode")
        node = Normalize(lay, eps, True, (running_mean._data, running_var._data), None, keep)
    return apply(node, input, weight, bias)


@export(Normalize, ember=False, functional=True)
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample of an (N, C, *) input over its spatial dimensions.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, the statistics per sample and channel (the biased
    variance); this needs more than one spatial element. With use_input_stats=False the running statistics are
    used instead (as batch_norm in evaluation mode); otherwise given running statistics are updated in place with
    the batch mean of the per-sample statistics.

    Args:
        input (Tensor): a floating-point tensor of shape (N, C, *).
        running_mean (Tensor, optional): the (C,) running mean. Default: None.
        running_var (Tensor, optional): the (C,) running variance. Default: None.
        weight (Tensor, optional): the (C,) scale; none when None. Default: None.
        bias (Tensor, optional): the (C,) shift; none when None. Default: None.
        use_input_stats (bool): normalise with each sample's own statistics; the running ones when False.
            Default: True.
        momentum (float): the weight of the new statistic in the running update. Default: 0.1.
        eps (float): added to the variance. Default: 1e-05.

    Returns:
        Tensor: of input's shape and dtype.

    Shape:
        - Input: (N, C, *).
        - Output: (N, C, *).

    PyTorch:
        ``torch.nn.functional.instance_norm``; same semantics.

    Example:
        >>> F.instance_norm(ember.tensor([[[1.0, 3.0], [2.0, 2.0]]]))
        tensor([[[-1.0000,  1.0000],
                 [ 0.0000,  0.0000]]])
    """
    _check_input(input, "instance_norm")
    shape = input._data.shape
    if len(shape) < 2:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *) with at least 2 dimensions, got "
                         f"shape {tuple(shape)}")
    n, c = shape[0], shape[1]
    _check_channels(((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                     (bias, "bias")), c, input, "instance_norm")
    keep = _needs_grad(input, weight, bias)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm: Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        node = Normalize(_channel_layout(shape), eps, True, (running_mean._data, running_var._data), None, keep)
        return apply(node, input, weight, bias)
    rest = _spatial(shape)
    if rest <= 1:
        raise ValueError(f"instance_norm: Expected more than 1 spatial element when training, got input size "
                         f"{tuple(shape)}")
    running = None
    if running_mean is not None or running_var is not None:
        running = (running_mean, running_var, _momentum(momentum, "instance_norm"))
    lay = _layout((n * c, rest), (1,), (n, c, rest), 1)
    return apply(Normalize(lay, eps, True, None, running, keep), input, weight, bias)


@export(Normalize, ember=False, functional=True)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing dimensions given by normalized_shape, then scale by weight and add bias.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, the statistics (biased variance) taken over the last
    ``len(normalized_shape)`` dimensions of each sample.

    Args:
        input (Tensor): a floating-point tensor of shape (*, normalized_shape).
        normalized_shape (int or sequence of ints): the shape of the trailing dimensions to normalise over.
        weight (Tensor, optional): the scale, of shape normalized_shape; none when None. Default: None.
        bias (Tensor, optional): the shift, of shape normalized_shape; none when None. Default: None.
        eps (float): added to the variance. Default: 1e-05.

    Returns:
        Tensor: of input's shape and dtype.

    Shape:
        - Input: (*, normalized_shape).
        - Output: (*, normalized_shape).

    PyTorch:
        ``torch.nn.functional.layer_norm``; same semantics, except that normalized_shape may also be a single int
        (PyTorch requires a list or tuple).

    Example:
        >>> F.layer_norm(ember.tensor([[1.0, 3.0], [2.0, 6.0]]), (2,))
        tensor([[-1.0000,  1.0000],
                [-1.0000,  1.0000]])
    """
    _check_input(input, "layer_norm")
    ns = _normalized_shape(normalized_shape, "layer_norm")
    lay = _last_dims_layout(input, ns, weight, bias, "layer_norm")
    return apply(Normalize(lay, eps, True, None, None, _needs_grad(input, weight, bias)), input, weight, bias)


@export(Normalize, ember=False, functional=True)
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation over the trailing dimensions given by normalized_shape.

    ``y = x / sqrt(mean(x^2) + eps) * weight``, the mean taken over the last ``len(normalized_shape)`` dimensions
    (no centring, no bias).

    Args:
        input (Tensor): a floating-point tensor of shape (*, normalized_shape).
        normalized_shape (int or sequence of ints): the shape of the trailing dimensions to normalise over.
        weight (Tensor, optional): the scale, of shape normalized_shape; none when None. Default: None.
        eps (float, optional): added to the mean square; the dtype's machine epsilon when None. Default: None.

    Returns:
        Tensor: of input's shape and dtype.

    Shape:
        - Input: (*, normalized_shape).
        - Output: (*, normalized_shape).

    PyTorch:
        ``torch.nn.functional.rms_norm``; same semantics, except that normalized_shape may also be a single int
        (PyTorch requires a list or tuple).

    Example:
        >>> F.rms_norm(ember.tensor([[3.0, 4.0]]), (2,))
        tensor([[0.8485, 1.1314]])
    """
    _check_input(input, "rms_norm")
    ns = _normalized_shape(normalized_shape, "rms_norm")
    lay = _last_dims_layout(input, ns, weight, None, "rms_norm")
    if eps is None:
        eps = float(finfo(input.dtype).eps)
    return apply(Normalize(lay, eps, False, None, None, _needs_grad(input, weight)), input, weight, None)


@export(Normalize, ember=False, functional=True)
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each of num_groups groups of channels of each sample of an (N, C, *) input, then apply a
    per-channel weight and bias.

    The C channels are split into num_groups consecutive groups (C must be divisible by num_groups); each group of
    each sample is normalised with its own mean and (biased) variance: ``(x - mean) / sqrt(var + eps)``.

    Args:
        input (Tensor): a floating-point tensor of shape (N, C, *).
        num_groups (int): the number of groups; it divides C.
        weight (Tensor, optional): the (C,) scale; none when None. Default: None.
        bias (Tensor, optional): the (C,) shift; none when None. Default: None.
        eps (float): added to the variance. Default: 1e-05.

    Returns:
        Tensor: of input's shape and dtype.

    Shape:
        - Input: (N, C, *).
        - Output: (N, C, *).

    PyTorch:
        ``torch.nn.functional.group_norm``; same semantics.

    Example:
        >>> F.group_norm(ember.tensor([[1.0, 3.0, 2.0, 6.0]]), 2)
        tensor([[-1.0000,  1.0000, -1.0000,  1.0000]])
    """
    _check_input(input, "group_norm")
    shape = input._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"group_norm: Expected at least 2 dimensions for input tensor but received {len(shape)}")
    n, c = shape[0], shape[1]
    g = int(num_groups)
    if g <= 0 or c % g:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible by num_groups, but "
                           f"got input of shape {list(shape)} and num_groups={num_groups}")
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None:
            _check_same(t, name, input, "group_norm")
            if t._data.ndim != 1 or t._data.size != c:
                raise RuntimeError(f"group_norm: Expected {name} to be a vector of size equal to the number of "
                                   f"channels in input, but got {name} of shape {list(t._data.shape)} and input of "
                                   f"shape {list(shape)}")
    rest = _spatial(shape)
    aview = (n, c, rest) if rest != 1 else (n, c)
    lay = _layout((n * g, c // g * rest), (1,), aview, 1)
    return apply(Normalize(lay, eps, True, None, None, _needs_grad(input, weight, bias)), input, weight, bias)


@export(ember=False, functional=True)
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels: each element divided by a power of the sum of squares of its
    neighbours in the channel dimension.

    ``y = x / (k + alpha / size * sum(x^2 over size neighbouring channels)) ** beta``, the window covering channels
    c - size // 2 to c + (size - 1) // 2 (zeros outside).

    Args:
        input (Tensor): a floating-point tensor of shape (N, C, *), at least 3-D.
        size (int): the number of neighbouring channels summed.
        alpha (float): the multiplier of the mean square. Default: 0.0001.
        beta (float): the exponent. Default: 0.75.
        k (float): the additive constant. Default: 1.0.

    Returns:
        Tensor: of input's shape and dtype.

    Shape:
        - Input: (N, C, *).
        - Output: (N, C, *).

    PyTorch:
        ``torch.nn.functional.local_response_norm``; same semantics.

    Example:
        >>> F.local_response_norm(ember.tensor([[[1.0], [2.0], [3.0]]]), 2)
        tensor([[[1.0000],
                 [1.9996],
                 [2.9985]]])
    """
    _check_input(input, "local_response_norm")
    shape = input._data.shape
    if len(shape) < 3:
        raise ValueError(f"local_response_norm: Expected 3D or higher dimensionality input (got {len(shape)} "
                         f"dimensions, shape {tuple(shape)})")
    if input._data.size == 0:
        return input
    c = shape[1]
    sq = input * input
    parts = []
    before, after = size // 2, (size - 1) // 2
    if before:
        parts.append(zeros((shape[0], before) + shape[2:], dtype=input.dtype, device=input.device))
    parts.append(sq)
    if after:
        parts.append(zeros((shape[0], after) + shape[2:], dtype=input.dtype, device=input.device))
    padded = cat(parts, 1) if len(parts) > 1 else sq
    window = narrow(padded, 1, 0, c)
    for i in range(1, size):
        window = window + narrow(padded, 1, i, c)
    return input / _pow(window * (alpha / size) + k, beta)
