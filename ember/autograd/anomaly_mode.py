"""Anomaly detection (torch.autograd.detect_anomaly): while it is on, the backward engine checks every gradient a
node returns and names the node that produced a NaN."""
import functools
import warnings

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled"]

state = {"enabled": False, "check_nan": True}


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on.

    Returns:
        bool: the current setting.

    PyTorch:
        ``torch.is_anomaly_enabled``; same semantics.

    Example:
        >>> ember.autograd.is_anomaly_enabled()
        False
    """
    return state["enabled"]


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection checks the gradients for NaN.

    Returns:
        bool: the current setting.

    PyTorch:
        ``torch.is_anomaly_check_nan_enabled``; same semantics.

    Example:
        >>> ember.autograd.is_anomaly_check_nan_enabled()
        True
    """
    return state["check_nan"]


class set_detect_anomaly:
    """Turn anomaly detection on or off now; used as a context manager, restore the previous setting after.

    Args:
        mode (bool): on or off.
        check_nan (bool): check every gradient a backward node returns for NaN (raising RuntimeError that names
            the node). Default: True.

    PyTorch:
        ``torch.autograd.set_detect_anomaly``; same semantics, except that ember does not keep the forward's
        traceback of each op (the error names the node only).

    Example:
        >>> with ember.autograd.set_detect_anomaly(True):
        ...     ember.autograd.is_anomaly_enabled()
        True
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.previous = dict(state)
        state["enabled"], state["check_nan"] = bool(mode), bool(check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        state.update(self.previous)


class detect_anomaly:
    """A context manager (or decorator) that turns anomaly detection on for its block: the backward engine raises
    RuntimeError naming the node whose gradient holds a NaN (``"Function 'SqrtBackward0' returned nan values in
    its 0th output."``).

    Args:
        check_nan (bool): check the gradients for NaN. Default: True.

    PyTorch:
        ``torch.autograd.detect_anomaly``; same semantics (and warning), except that ember does not keep the
        forward's traceback of each op.

    Example:
        >>> import warnings
        >>> x = ember.tensor([0.0], requires_grad=True)
        >>> with warnings.catch_warnings(record=True), ember.autograd.detect_anomaly():
        ...     (x.sqrt() * 0).sum().backward()
        Traceback (most recent call last):
        RuntimeError: Function 'SqrtBackward0' returned nan values in its 0th output.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        self.previous = None
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        self.previous = dict(state)
        state["enabled"], state["check_nan"] = True, self.check_nan

    def __exit__(self, *exc: object) -> None:
        state.update(self.previous)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


def check_gradients(node, gradients):
    """Raise PyTorch's error where a gradient node returned holds a NaN (called by the engine while detection
    is on)."""
    for i, g in enumerate(gradients):
        if g is not None and g._data.dtype.kind in "fc" and bool((g._data != g._data).any()):
            raise RuntimeError(f"Function '{repr(node)[1:-1]}' returned nan values in its {i}th output.")
