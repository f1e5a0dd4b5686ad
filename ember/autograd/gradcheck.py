"""gradcheck and gradgradcheck: autograd's gradients against central finite differences."""
import warnings

import numpy as np

from ..device import CPU, move
from ..tensor import Tensor
from .engine import grad
from .grad_mode import enable_grad, no_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` and ``gradgradcheck`` when analytical and numerical gradients differ.

    The message names the output, the input and the largest error, and prints both Jacobians. A RuntimeError.

    PyTorch:
        ``torch.autograd.GradcheckError``; same use.
    """

def _float_outputs(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.is_floating_point()]


def _evaluate(fn, inputs):

    with no_grad():
        return [np.array(move(o._data, CPU), dtype=np.float64) for o in _float_outputs(fn(*inputs))]


def _numerical_jacobians(fn, inputs, k, n_outs, eps):
    """d(output o)/d(input k) by central differences: one (numel(input), numel(output)) array per output."""
    x = inputs[k]._data
    cols = [[] for _ in range(n_outs)]
    for j in range(x.size):
        idx = np.unravel_index(j, x.shape)
        orig = x[idx].item()
        x[idx] = orig + eps
        plus = _evaluate(fn, inputs)
        x[idx] = orig - eps
        minus = _evaluate(fn, inputs)
        x[idx] = orig
        for o in range(n_outs):
            cols[o].append((plus[o] - minus[o]).reshape(-1) / (2 * eps))
    return [np.stack(c) if c else np.zeros((0, 0)) for c in cols]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, check_grad_dtypes=False,
              nondet_tol=0.0):
    """Check autograd's gradients of fn at inputs against central finite differences.

    Every floating-point output is differentiated with respect to every input that requires grad; use float64
    inputs (others warn, as the check may fail for precision reasons alone).

    Args:
        fn (callable): the function, called as ``fn(*inputs)``; returns a tensor or a sequence of tensors.
        inputs (Tensor or sequence of Tensor): its arguments.
        eps (float): the finite-difference step. Default: 1e-06.
        atol (float): the absolute tolerance. Default: 1e-05.
        rtol (float): the relative tolerance. Default: 0.001.
        raise_exception (bool): whether a mismatch raises GradcheckError rather than returning False.
            Default: True.
        check_grad_dtypes (bool): whether each gradient must have its input's dtype. Default: False.
        nondet_tol (float): accepted for PyTorch's programs; ignored (ember's backward is deterministic).
            Default: 0.0.

    Returns:
        bool: True when the gradients match (False on a mismatch with raise_exception=False).

    PyTorch:
        ``torch.autograd.gradcheck``; same semantics for these arguments (ember lacks ``check_undefined_grad``,
        ``check_batched_grad``, ``check_forward_ad``, ``fast_mode`` and ``masked``, and PyTorch's options are
        keyword-only).

    Example:
        >>> x = ember.randn(3, dtype=ember.float64, requires_grad=True)
        >>> ember.autograd.gradcheck(lambda t: (t.sin() * t).sum(), (x,))
        True
    """


    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff_idx = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad and x.numel()]
    for k in diff_idx:
        if inputs[k].dtype.name != "float64":
            warnings.warn(f"gradcheck: input {k} is {inputs[k].dtype}, not float64; the check may fail for "
                          "precision reasons", stacklevel=2)
    with enable_grad():
        outs = _float_outputs(fn(*inputs))
    numeric = {k: _numerical_jacobians(fn, inputs, k, len(outs), eps) for k in diff_idx}
    for oi, out in enumerate(outs):
        n_out = out.numel()
        analytic = {k: np.zeros((inputs[k].numel(), n_out)) for k in diff_idx}
        if out.requires_grad and diff_idx:
            targets = [inputs[k] for k in diff_idx]
            for r in range(n_out):
                go = np.zeros(n_out, dtype=out._data.dtype)
                go[r] = 1
                go = move(go.reshape(out._data.shape), out.device)
                gs = grad([out], targets, [Tensor._wrap(go)], retain_graph=True, allow_unused=True)
                for k, g in zip(diff_idx, gs):
                    if g is None:
                        continue
                    if tuple(g.shape) != tuple(inputs[k].shape):
                        raise GradcheckError(f"gradcheck: gradient of input {k} has shape {tuple(g.shape)}, "
                                             f"expected {tuple(inputs[k].shape)}")
                    if check_grad_dtypes and g.dtype is not inputs[k].dtype:
                        raise GradcheckError(f"gradcheck: gradient of input {k} is {g.dtype}, expected "
                                             f"{inputs[k].dtype}")
                    analytic[k][:, r] = np.asarray(move(g._data, CPU), dtype=np.float64).reshape(-1)
        for k in diff_idx:
            num = numeric[k][oi]
            if not np.allclose(analytic[k], num, atol=atol, rtol=rtol):
                err = np.abs(analytic[k] - num).max()
                msg = (f"gradcheck: Jacobian mismatch for output {oi} with respect to input {k} (max abs error "
                       f"{err:.3g}).\nnumerical:\n{num}\nanalytical:\n{analytic[k]}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check the second derivatives of fn: ``gradcheck`` of its first derivatives.

    Args:
        fn (callable): the function, called as ``fn(*inputs)``; returns a tensor or a sequence of tensors.
        inputs (Tensor or sequence of Tensor): its arguments.
        grad_outputs (Tensor or sequence of Tensor, optional): the gradients of the outputs to backpropagate;
            random ones (seeded, requiring grad) when None. Default: None.
        eps (float): the finite-difference step. Default: 1e-06.
        atol (float): the absolute tolerance. Default: 1e-05.
        rtol (float): the relative tolerance. Default: 0.001.
        raise_exception (bool): whether a mismatch raises GradcheckError rather than returning False.
            Default: True.

    Returns:
        bool: True when the second derivatives match.

    PyTorch:
        ``torch.autograd.gradgradcheck``; same semantics for these arguments (ember lacks
        ``gen_non_contig_grad_outputs``, ``nondet_tol``, ``check_*``, ``fast_mode`` and ``masked``).

    Example:
        >>> x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
        >>> ember.autograd.gradgradcheck(lambda t: (t ** 3).sum(), (x,))
        True
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    with enable_grad():
        outs = _float_outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device, requires_grad=True)
                        for o in outs]
    grad_outputs = list(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else [grad_outputs]
    n_in = len(inputs)

    def first_derivatives(*args):
        xs, gos = args[:n_in], args[n_in:]
        with enable_grad():
            o = _float_outputs(fn(*xs))
            d = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            pairs = [(oo, go) for oo, go in zip(o, gos) if oo.requires_grad]
            if not pairs:
                return ()
            gs = grad([p[0] for p in pairs], d, [p[1] for p in pairs], create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivatives, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
