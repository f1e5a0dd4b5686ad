"""Silence NumPy's floating-point warnings inside ember's ops, as PyTorch is silent: ``log(0)`` is -inf, ``1 / 0``
inf, ``0 * inf`` and ``sqrt(-1)`` nan, with no RuntimeWarning (masked code computes such values on purpose).

``quiet`` wraps the forwards that can meet such values (not relu, tanh, sigmoid or abs, nor shape ops; nor their
gradient nodes, which meet inf only in an infinite gradient or input). NumPy 2
keeps its error state in a context variable: setting it to a prepared "ignore all" state and resetting it after
the forward costs about 0.2 us, a fifth of ``np.errstate``, and the state that the user's own NumPy code sees
(``np.geterr()``, an ``np.errstate`` around ember calls) is never changed. NumPy 1.x has no such variable: there
the same functions enter and leave ``np.errstate(all="ignore")``.
"""
import functools

import numpy as np

try:  # NumPy 2: the error state is a context variable; an "ignore all" state is made once
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    # quiet_begin() silences NumPy's floating-point errors until quiet_end(the token it returned)
    quiet_begin = functools.partial(_extobj_contextvar.set, _make_extobj(all="ignore"))
    quiet_end = _extobj_contextvar.reset
except (ImportError, AttributeError, TypeError):  # pragma: no cover - NumPy 1.x
    def quiet_begin():
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def quiet_end(state):
        state.__exit__(None, None, None)


def quiet(fn):
    """fn (a node's forward, or any function called with positional arguments) without NumPy's floating-point
    warnings (or errors). The hottest forwards (add, sub, mul, div) spell out quiet_begin/quiet_end instead, which
    saves the wrapper's call."""
    @functools.wraps(fn)
    def quiet_fn(*args):
        token = quiet_begin()
        try:
            return fn(*args)
        finally:
            quiet_end(token)

    return quiet_fn
