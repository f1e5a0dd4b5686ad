"""L-BFGS with an optional strong-Wolfe line search: PyTorch's torch.optim.LBFGS (after minFunc), step by step.

The class gathers the parameters into one flat vector and keeps the history; plain functions do the maths on
arrays (the two-loop recursion, the line search, cubic interpolation). Scalars are kept as 0-d values of the
parameters' dtype where PyTorch keeps 0-d tensors, so float32 runs round as PyTorch's do.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import SupportsFloat, TypeVar

import numpy as np

from ..autograd import enable_grad, no_grad
from ..device import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, StateDict

__all__ = ["LBFGS"]

_Loss = TypeVar("_Loss", bound=SupportsFloat)  # what the closure returns (the loss), and so step


class LBFGS(Optimizer):
    """L-BFGS: a quasi-Newton method that builds its curvature estimate from the last gradient differences.

    ``step(closure)`` runs up to ``max_iter`` iterations, calling ``closure`` (which zeroes the gradients, computes
    the loss, calls backward and returns the loss) up to ``max_eval`` times. One parameter group only; it keeps
    ``history_size`` pairs of flat vectors of all the parameters (memory: 2 * history_size * the parameter count).

    Args:
        params (iterable): the tensors to optimize, or dicts of parameter groups (see ``Optimizer``).
        lr (float or Tensor): the step size (a one-element tensor is read once). Default: 1.
        max_iter (int): the most iterations per ``step``. Default: 20.
        max_eval (int, optional): the most closure calls per ``step``. Default: ``max_iter * 5 // 4``.
        tolerance_grad (float): stop when the largest gradient element is at most this. Default: 1e-7.
        tolerance_change (float): stop when the loss or the parameters change less than this. Default: 1e-9.
        history_size (int): how many updates the curvature estimate remembers. Default: 100.
        line_search_fn (str, optional): None (a fixed step of ``lr``) or ``"strong_wolfe"``. Default: None.

    PyTorch:
        ``torch.optim.LBFGS``; the same arguments, algorithm and defaults.

    Example:
        >>> x = nn.Parameter(ember.tensor([3.0, -1.0]))
        >>> opt = ember.optim.LBFGS([x], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad(); loss = ((x - 1) ** 2).sum(); loss.backward(); return loss
        >>> _ = opt.step(closure); x.detach()
        tensor([1., 1.])
    """

    def __init__(self, params: ParamsT, lr: float | Tensor = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if isinstance(lr, Tensor):
            if lr.numel() != 1:
                raise ValueError("Tensor lr must be 1-element")
            lr = lr.item()
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe' (got {line_search_fn!r})")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # --- the parameters as one flat vector --------------------------------------------------------------------
    def _flat_grad(self):
        xp = get_array_module(self._params[0]._data)
        return xp.concatenate([p.grad._data.reshape(-1) if p.grad is not None else
                               xp.zeros(p._data.size, p._data.dtype) for p in self._params])

    def _add_grad(self, step, d):
        """params += step * d (d flat)."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += d[offset:offset + n].reshape(p._data.shape) * p._data.dtype.type(step)
            offset += n

    def _directional_evaluate(self, closure, x, t, d):
        """(loss, flat gradient) at x + t d; the parameters are put back to x."""
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._flat_grad()
        for p, xi in zip(self._params, x):
            p._data[...] = xi
        return loss, flat_grad

    @no_grad()
    def step(self, closure: Callable[[], _Loss]) -> _Loss:  # type: ignore[override]
        """Run up to max_iter L-BFGS iterations; returns the loss closure() gave at the start."""
        closure = enable_grad()(closure)
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]  # the state is global; PyTorch keeps it under the first parameter
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        xp = get_array_module(flat_grad)
        if xp.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the descent direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # update the memory
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                if "al" not in state:
                    state["al"] = [None] * history_size
                d = _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag, state["al"])

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # the step length
            t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # the directional derivative is below tolerance
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = [p._data.copy() for p in self._params]

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:  # re-evaluated except in the last iteration (stochastic settings)
                    loss = float(closure())
                    flat_grad = self._flat_grad()
                    opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # the stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if xp.abs(d * t).max() <= tolerance_change:  # lack of progress
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    # --- state_dict: the flat vectors and 0-d values as tensors, as PyTorch's ----------------------------------
    def state_dict(self) -> StateDict:
        sd = super().state_dict()
        state = self.state.get(self._params[0])
        sd["state"] = {0: {k: _to_saved(v) for k, v in state.items()}} if state else {}
        return sd

    def load_state_dict(self, state_dict: StateDict) -> None:
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        saved = state_dict["state"]
        if saved:
            st = saved[0] if 0 in saved else saved["0"]
            self.state[self._params[0]] = {k: _from_saved(v, self._params[0]._data) for k, v in st.items()}


def _to_saved(v):
    if isinstance(v, list):
        return [_to_saved(x) for x in v]
    if hasattr(v, "dtype") and hasattr(v, "shape"):  # an array or a 0-d value (a NumPy scalar)
        return Tensor._wrap(get_array_module(v).array(v, copy=True))
    return v


def _from_saved(v, like):
    if isinstance(v, list):
        return [_from_saved(x, like) for x in v]
    if isinstance(v, Tensor):
        xp = get_array_module(like)
        arr = xp.asarray(v._data)
        arr = arr.astype(like.dtype) if arr.dtype.kind == "f" else arr.copy()
        return arr[()] if arr.ndim == 0 and xp.__name__ == "numpy" else arr
    return v


def _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag, al):
    """The L-BFGS direction: minus the inverse-Hessian approximation times the gradient (al: scratch list)."""
    num_old = len(old_dirs)
    q = -flat_grad
    for i in range(num_old - 1, -1, -1):
        al[i] = old_stps[i].dot(q) * ro[i]
        q -= old_dirs[i] * al[i]
    r = q * H_diag
    for i in range(num_old):
        be_i = old_dirs[i].dot(r) * ro[i]
        r += old_stps[i] * (al[i] - be_i)
    return r


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), within bounds (default [x1, x2])."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step t along d satisfying the strong Wolfe conditions: (loss, flat gradient, t, evaluations)."""
    xp = get_array_module(d)
    d_norm = xp.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    # bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # interpolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

    if ls_iter == max_ls:  # reached the most evaluations
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: refine the bracket until a point satisfies the criteria
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:  # the bracket is too small
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # close to a boundary with insufficient progress (or on it): move 0.1 of the bracket away from it
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # Armijo condition not satisfied, or not lower than the lowest point
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:  # the Wolfe conditions hold
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:  # the old high becomes the new low
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals
