"""Gradient clipping: clip_grad_norm_ (= get_total_norm + clip_grads_with_norm_) and clip_grad_value_."""
import math
import types
import warnings

from ...autograd import no_grad
from ...device import get_array_module, move
from ...ops.creation import zeros
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(xp, a, p):
    """The p-norm of all elements of array a, accumulated in at least float32, returned in a's dtype."""
    acc = a.reshape(-1)
    if acc.dtype.itemsize < 4:
        acc = acc.astype(xp.float32)
    if acc.size == 0:
        r = xp.zeros((), dtype=acc.dtype)
    elif p == 2:
        r = xp.sqrt(xp.dot(acc, acc))
    elif p == math.inf:
        r = xp.abs(acc).max()
    elif p == -math.inf:
        r = xp.abs(acc).min()
    elif p == 1:
        r = xp.abs(acc).sum()
    elif p == 0:
        r = (acc != 0).sum().astype(acc.dtype)
    else:
        r = (xp.abs(acc) ** p).sum() ** (1.0 / p)
    return xp.asarray(xp.asarray(r).astype(a.dtype))


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the norms of tensors (= the norm of all their elements together), as a 0-d tensor."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return zeros(())
    first = tensors[0].device
    norms = [move(_vector_norm(get_array_module(t._data), t._data, norm_type), first) for t in tensors]
    xp = get_array_module(norms[0])
    total = _vector_norm(xp, xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           "anyway, set `error_if_nonfinite=False`")
    return Tensor._wrap(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the .grad of parameters in place by min(1, max_norm / (total_norm + 1e-6))."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    tn = total_norm._data
    xp = get_array_module(tn)
    coef = xp.asarray(xp.minimum(xp.asarray(float(max_norm), dtype=tn.dtype) / (tn + xp.asarray(1e-6, dtype=tn.dtype)),
                                 xp.asarray(1.0, dtype=tn.dtype)))
    coefs = {}
    with no_grad():
        for g in grads:
            key = (g._data.dtype, str(g.device))
            c = coefs.get(key)
            if c is None:
                c = coefs[key] = Tensor._wrap(move(coef, g.device).astype(g._data.dtype))
            g.mul_(c)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of parameters in place so that their total norm is at most max_norm.

    Returns the total norm before clipping (a 0-d tensor), like torch.nn.utils.clip_grad_norm_.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of clip_grad_norm_."""
    warnings.warn("`ember.nn.utils.clip_grad_norm` is now deprecated in favor of `ember.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp the .grad of parameters in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
