"""Gradient clipping: clip_grad_norm_ (= get_total_norm + clip_grads_with_norm_) and clip_grad_value_."""
import types
import warnings

from ... import _tracing
from ...autograd import no_grad
from ...ops.creation import zeros
from ...ops.join import stack
from ...ops.reduce import norm
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _norm(t, p):
    """The p-norm of all elements of t, accumulated in at least float32, in t's dtype (ops: a compiled step holds
    it)."""
    acc = t.float() if t._data.dtype.itemsize < 4 else t
    return norm(acc, p).to(t.dtype)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Compute the norm of a collection of tensors, as if their elements were one vector.

    That is the ``norm_type``-norm of the tensors' norms; each norm is accumulated in at least float32.

    Args:
        tensors (Tensor or iterable of Tensor): the tensors, usually gradients.
        norm_type (float or str): the p of the p-norm; ``'inf'`` for the largest absolute value. Default: 2.0.
        error_if_nonfinite (bool): raise RuntimeError when the total is nan or inf. Default: False.
        foreach (bool, optional): accepted for compatibility; ignored (ember has no foreach kernels). Default: None.

    Returns:
        Tensor: the total norm, a 0-d tensor (0 for no tensors).

    PyTorch:
        ``torch.nn.utils.get_total_norm``; same semantics.

    Example:
        >>> nn.utils.get_total_norm([ember.tensor([3.0, 4.0]), ember.tensor([12.0])])
        tensor(13.)
        >>> nn.utils.get_total_norm([ember.tensor([3.0, 4.0]), ember.tensor([12.0])], norm_type=1)
        tensor(19.)
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return zeros(())
    first = tensors[0].device
    with no_grad():
        total = _norm(stack([_norm(t.detach(), norm_type).to(first) for t in tensors]), norm_type)
    if error_if_nonfinite and not bool(total.isfinite()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           "anyway, set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None) -> None:
    """Scale the gradients of ``parameters`` in place by min(1, max_norm / (total_norm + 1e-6)).

    The second half of ``clip_grad_norm_``, for a ``total_norm`` computed beforehand (e.g. by ``get_total_norm``
    over several groups). Parameters without a gradient are skipped.

    Args:
        parameters (Tensor or iterable of Tensor): the parameters (or one tensor) whose ``.grad`` to clip.
        max_norm (float): the largest total norm allowed.
        total_norm (Tensor): the total norm of the gradients, a 0-d tensor.
        foreach (bool, optional): accepted for compatibility; ignored (ember has no foreach kernels). Default: None.

    PyTorch:
        ``torch.nn.utils.clip_grads_with_norm_``; same semantics.

    Example:
        >>> w = nn.Parameter(ember.zeros(2))
        >>> w.grad = ember.tensor([3.0, 4.0])
        >>> nn.utils.clip_grads_with_norm_([w], max_norm=1.0, total_norm=ember.tensor(10.0))
        >>> w.grad
        tensor([0.3000, 0.4000])
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    with no_grad():
        coef = (float(max_norm) / (total_norm.detach() + 1e-6)).clamp(max=1.0)
        coefs = {}
        for g in grads:
            key = (g.dtype, str(g.device))
            c = coefs.get(key)
            if c is None:
                c = coefs[key] = coef.to(device=g.device, dtype=g.dtype)
            g.mul_(c)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` in place so that their total norm is at most ``max_norm``.

    The total norm is that of all the gradients together (``get_total_norm``); when it exceeds ``max_norm`` every
    gradient is multiplied by max_norm / (total_norm + 1e-6). An empty generator of parameters warns.

    Args:
        parameters (Tensor or iterable of Tensor): the parameters (or one tensor) whose ``.grad`` to clip.
        max_norm (float): the largest total norm allowed.
        norm_type (float or str): the p of the p-norm; ``'inf'`` for the largest absolute value. Default: 2.0.
        error_if_nonfinite (bool): raise RuntimeError when the total norm is nan or inf. Default: False.
        foreach (bool, optional): accepted for compatibility; ignored (ember has no foreach kernels). Default: None.

    Returns:
        Tensor: the total norm before clipping, a 0-d tensor.

    PyTorch:
        ``torch.nn.utils.clip_grad_norm_``; same semantics.

    Example:
        >>> w = nn.Parameter(ember.zeros(2))
        >>> w.grad = ember.tensor([3.0, 4.0])
        >>> nn.utils.clip_grad_norm_([w], max_norm=1.0)
        tensor(5.)
        >>> w.grad
        tensor([0.6000, 0.8000])
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    if _tracing.active[0]:  # ember.compile: the graph reads the .grad each parameter holds when it runs
        for p in parameters:
            if p.grad is not None:
                _tracing.grad_seen(p)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients in place to a total norm of at most ``max_norm``: the deprecated name of ``clip_grad_norm_``.

    It warns (FutureWarning) and calls ``clip_grad_norm_``.

    Args:
        parameters (Tensor or iterable of Tensor): the parameters (or one tensor) whose ``.grad`` to clip.
        max_norm (float): the largest total norm allowed.
        norm_type (float or str): the p of the p-norm. Default: 2.0.
        error_if_nonfinite (bool): raise RuntimeError when the total norm is nan or inf. Default: False.
        foreach (bool, optional): accepted for compatibility; ignored (ember has no foreach kernels). Default: None.

    Returns:
        Tensor: the total norm before clipping, a 0-d tensor.

    PyTorch:
        ``torch.nn.utils.clip_grad_norm``; same semantics.

    Example:
        >>> import warnings
        >>> w = nn.Parameter(ember.zeros(2))
        >>> w.grad = ember.tensor([3.0, 4.0])
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", FutureWarning)
        ...     nn.utils.clip_grad_norm([w], max_norm=1.0)
        tensor(5.)
    """
    warnings.warn("`ember.nn.utils.clip_grad_norm` is now deprecated in favor of `ember.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None) -> None:
    """Clamp the gradients of ``parameters`` in place to [-clip_value, clip_value].

    Parameters without a gradient are skipped.

    Args:
        parameters (Tensor or iterable of Tensor): the parameters (or one tensor) whose ``.grad`` to clip.
        clip_value (float): the largest absolute value allowed.
        foreach (bool, optional): accepted for compatibility; ignored (ember has no foreach kernels). Default: None.

    PyTorch:
        ``torch.nn.utils.clip_grad_value_``; same semantics.

    Example:
        >>> w = nn.Parameter(ember.zeros(3))
        >>> w.grad = ember.tensor([-2.0, 0.5, 3.0])
        >>> nn.utils.clip_grad_value_([w], clip_value=1.0)
        >>> w.grad
        tensor([-1.0000,  0.5000,  1.0000])
    """
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
