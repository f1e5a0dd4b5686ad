"""GradScaler: loss scaling for low-precision training, as torch.amp.GradScaler.

``scale(loss)`` multiplies the loss by the scale; ``step(optimizer)`` divides the gradients by it (``unscale_``),
checks them for inf/NaN and calls ``optimizer.step()`` only when all are finite; ``update()`` halves the scale after
a skipped step and doubles it after ``growth_interval`` good steps in a row. The arithmetic is PyTorch's: the scale
is a float32 tensor, the inverse scale is computed in float64 and rounded to float32, every gradient is multiplied
by it (non-finite ones included) while the check looks for inf/NaN, and the scale never grows to inf.

``GradScaler("cpu")`` scales for real. ``GradScaler()`` / ``GradScaler("cuda")`` scales CUDA tensors when CuPy
sees a GPU; without one it warns and is disabled, as PyTorch is on a machine without CUDA: ``scale`` returns its
input, ``step`` calls ``optimizer.step()``, ``unscale_`` and ``update`` do nothing, ``get_scale()`` is 1.0.
"""
import warnings
from collections import abc, defaultdict
from enum import Enum

import numpy as np

from .. import dtypes as _dt
from ..autograd import no_grad
from ..device import cuda_available
from ..ops.creation import full
from ..ops.compare import isfinite
from ..tensor import Tensor

__all__ = ["OptState", "GradScaler"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class _MultiDeviceReplicator:
    """Copies of a tensor on the devices that ask for it, made once each."""

    def __init__(self, master):
        self.master = master
        self._per_device_tensors = {}

    def get(self, device):
        t = self._per_device_tensors.get(device)
        if t is None:
            t = self._per_device_tensors[device] = self.master.to(device=device, copy=True)
        return t


def _non_finite_check_and_unscale_(grads, found_inf, inv_scale):
    """Multiply every gradient by inv_scale in place and set found_inf to 1 if any holds an inf or a NaN
    (torch._amp_foreach_non_finite_check_and_unscale_)."""
    inv = inv_scale.item()
    for g in grads:
        if not bool(isfinite(g).all()):
            found_inf.fill_(1.0)
        if inv != 1.0:
            g.mul_(inv_scale)


class GradScaler:
    """Scale the loss so that low-precision gradients do not underflow, and skip steps whose gradients
    overflowed.

    ``scale(loss)`` multiplies the loss by the scale; ``step(optimizer)`` divides the gradients by it
    (``unscale_``), checks them for inf/NaN and calls ``optimizer.step()`` only when all are finite; ``update()``
    multiplies the scale by backoff_factor after a skipped step and by growth_factor after growth_interval good
    steps in a row. The scale is a float32 tensor, made on the device of the first scaled output. On 'cuda'
    without a GPU it warns and is disabled: ``scale`` returns its input, ``step`` calls ``optimizer.step()``,
    ``unscale_`` and ``update`` do nothing and ``get_scale()`` is 1.0.

    Args:
        device (str): 'cuda' or 'cpu'. Default: "cuda".
        init_scale (float): the first scale. Default: 65536.0 (2 ** 16).
        growth_factor (float): what the scale is multiplied by after growth_interval good steps (> 1).
            Default: 2.0.
        backoff_factor (float): what the scale is multiplied by after a step with inf/NaN gradients (< 1).
            Default: 0.5.
        growth_interval (int): how many good steps in a row before the scale grows. Default: 2000.
        enabled (bool): False makes every method a pass-through. Default: True.

    PyTorch:
        ``torch.amp.GradScaler``; same semantics and arithmetic.

    Example:
        >>> scaler = ember.amp.GradScaler("cpu")
        >>> model = nn.Linear(3, 1)
        >>> opt = ember.optim.SGD(model.parameters(), lr=0.1)
        >>> scaler.scale(model(ember.ones(2, 3)).sum()).backward()
        >>> scaler.step(opt)
        >>> scaler.update()
        >>> scaler.get_scale()
        65536.0
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = enabled
        if self._device == "cuda" and enabled and not cuda_available():
            warnings.warn("ember.amp.GradScaler('cuda') is enabled, but CUDA is not available (ember runs CUDA "
                          "through CuPy).  Disabling.", UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale = None  # made on the first scale(), on the outputs' device
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None
            self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _check_scale_growth_tracker(self, funcname):
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, dev):
        if self._growth_tracker is not None:
            raise AssertionError("_growth_tracker initialized before _scale")
        self._scale = full((), self._init_scale, dtype=_dt.float32, device=dev)
        self._growth_tracker = full((), self._init_growth_tracker, dtype=_dt.int32, device=dev)

    def scale(self, outputs):
        """Multiply outputs (usually the loss) by the scale, before backward.

        Args:
            outputs (Tensor or iterable of Tensor): a tensor, or a (nested) list/tuple/iterable of tensors.

        Returns:
            Tensor or iterable of Tensor: the scaled outputs, in the same structure (unchanged when disabled).

        PyTorch:
            ``torch.amp.GradScaler.scale``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> scaler.scale(ember.tensor(2.0))
            tensor(131072.)
        """
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale.to(device=outputs.device)
        stash = []

        def apply_scale(val):
            if isinstance(val, Tensor):
                if not stash:
                    if self._scale is None:
                        self._lazy_init_scale_growth_tracker(val.device)
                    stash.append(_MultiDeviceReplicator(self._scale))
                return val * stash[0].get(val.device)
            if isinstance(val, abc.Iterable):
                iterable = map(apply_scale, val)
                return type(val)(iterable) if isinstance(val, (list, tuple)) else iterable
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")
        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, found_inf, allow_fp16):
        per_device_inv_scale = _MultiDeviceReplicator(inv_scale)
        per_device_found_inf = _MultiDeviceReplicator(found_inf)
        per_device_and_dtype_grads = defaultdict(lambda: defaultdict(list))
        with no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if not isinstance(param, Tensor):
                        raise AssertionError(f"expected param to be ember.Tensor, got {type(param).__name__}")
                    if param.grad is None:
                        continue
                    if not allow_fp16 and param.grad.dtype is _dt.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    per_device_and_dtype_grads[param.grad.device][param.grad.dtype].append(param.grad)
            for device, per_dtype_grads in per_device_and_dtype_grads.items():
                for grads in per_dtype_grads.values():
                    _non_finite_check_and_unscale_(grads, per_device_found_inf.get(device),
                                                   per_device_inv_scale.get(device))
        return per_device_found_inf._per_device_tensors

    def unscale_(self, optimizer) -> None:
        """Divide the optimizer's gradients by the scale in place, e.g. before clipping them.

        Optional: ``step`` does it when it was not called. It may be called once per optimizer between two
        ``update()`` calls, and it records whether any gradient is inf or NaN.

        Args:
            optimizer (ember.optim.Optimizer): the optimizer whose parameters' gradients are unscaled.

        PyTorch:
            ``torch.amp.GradScaler.unscale_``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> model = nn.Linear(3, 1)
            >>> opt = ember.optim.SGD(model.parameters(), lr=0.1)
            >>> scaler.scale(model(ember.ones(2, 3)).sum()).backward()
            >>> scaler.unscale_(opt)
            >>> model.bias.grad
            tensor([2.])
        """
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = self._scale.double().reciprocal().float()  # the reciprocal in float64, as PyTorch
        found_inf = full((), 0.0, dtype=_dt.float32, device=self._scale.device)
        optimizer_state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, found_inf, False)
        optimizer_state["stage"] = OptState.UNSCALED

    def _maybe_opt_step(self, optimizer, optimizer_state, *args, **kwargs):
        if not sum(v.item() for v in optimizer_state["found_inf_per_device"].values()):
            return optimizer.step(*args, **kwargs)
        return None

    def step(self, optimizer, *args, **kwargs):
        """Unscale the gradients (unless ``unscale_`` was called) and run ``optimizer.step`` if they are
        all finite.

        Args:
            optimizer (ember.optim.Optimizer): the optimizer to step.
            *args (object): positional arguments for ``optimizer.step``.
            **kwargs (object): keyword arguments for ``optimizer.step`` (no ``closure`` while enabled).

        Returns:
            object: what ``optimizer.step`` returned, or None when the step was skipped.

        PyTorch:
            ``torch.amp.GradScaler.step``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> model = nn.Linear(3, 1)
            >>> opt = ember.optim.SGD(model.parameters(), lr=0.1)
            >>> scaler.scale(model(ember.ones(2, 3)).sum()).backward()
            >>> scaler.step(opt)
            >>> scaler.update()
        """
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        optimizer_state = self._per_optimizer_states[id(optimizer)]
        if optimizer_state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if optimizer_state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(optimizer_state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = self._maybe_opt_step(optimizer, optimizer_state, *args, **kwargs)
        optimizer_state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None) -> None:
        """Update the scale after an iteration: back it off if a step was skipped, grow it after
        growth_interval good steps in a row, or set it to new_scale.

        Call it once per iteration, after every ``step``.

        Args:
            new_scale (float or Tensor, optional): the scale to set (a one-element tensor not requiring grad); the
                rule above when None. Default: None.

        PyTorch:
            ``torch.amp.GradScaler.update``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> model = nn.Linear(3, 1)
            >>> opt = ember.optim.SGD(model.parameters(), lr=0.1)
            >>> scaler.scale(model(ember.ones(2, 3)).sum()).backward()
            >>> scaler.step(opt)
            >>> scaler.update(1024.0)
            >>> scaler.get_scale()
            1024.0
        """
        if not self._enabled:
            return
        _scale, _growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, (float, int)) and not isinstance(new_scale, bool):
                self._scale.fill_(float(new_scale))
            else:
                reason = ("new_scale should be a float or a 1-element ember.Tensor with requires_grad=False.")
                if not isinstance(new_scale, Tensor) or new_scale.device.type != self._scale.device.type:
                    raise AssertionError(reason)
                if new_scale.numel() != 1 or new_scale.requires_grad:
                    raise AssertionError(reason)
                self._scale.copy_(new_scale.reshape(()))
        else:
            found_infs = [found_inf.to(device=_scale.device)
                          for state in self._per_optimizer_states.values()
                          for found_inf in state["found_inf_per_device"].values()]
            if len(found_infs) == 0:
                raise AssertionError("No inf checks were recorded prior to update.")
            found_inf_combined = sum(f.item() for f in found_infs)
            self._update_scale(found_inf_combined)
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _update_scale(self, found_inf):
        """torch._amp_update_scale_: the scale (float32) and the growth tracker (int32) after one iteration."""
        scale, tracker = self._scale.item(), int(self._growth_tracker.item())
        if found_inf:
            scale, tracker = float(np.float32(scale * self._backoff_factor)), 0
        else:
            successful = tracker + 1
            if successful == self._growth_interval:
                grown = np.float32(scale * self._growth_factor)
                if np.isfinite(grown):  # never grow past float32's range
                    scale = float(grown)
                tracker = 0
            else:
                tracker = successful
        self._scale.fill_(scale)
        self._growth_tracker.fill_(tracker)

    def _get_scale_async(self):
        return self._scale

    def get_scale(self):
        """Return the current scale.

        Returns:
            float: the scale (``init_scale`` before the first ``scale``; 1.0 when disabled).

        PyTorch:
            ``torch.amp.GradScaler.get_scale``; same semantics.

        Example:
            >>> ember.amp.GradScaler("cpu", init_scale=128.0).get_scale()
            128.0
        """
        if self._enabled:
            return self._init_scale if self._scale is None else float(self._scale.item())
        return 1.0

    def get_growth_factor(self):
        """Return the factor the scale grows by.

        Returns:
            float: the growth factor.

        PyTorch:
            ``torch.amp.GradScaler.get_growth_factor``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> scaler.get_growth_factor()
            2.0
        """
        return self._growth_factor

    def set_growth_factor(self, new_factor) -> None:
        """Set the factor the scale grows by.

        Args:
            new_factor (float): the new growth factor.

        PyTorch:
            ``torch.amp.GradScaler.set_growth_factor``; same semantics (the value is not checked to be > 1).

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> scaler.set_growth_factor(4.0)
            >>> scaler.get_growth_factor()
            4.0
        """
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        """Return the factor the scale is multiplied by after a skipped step.

        Returns:
            float: the backoff factor.

        PyTorch:
            ``torch.amp.GradScaler.get_backoff_factor``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> scaler.get_backoff_factor()
            0.5
        """
        return self._backoff_factor

    def set_backoff_factor(self, new_factor) -> None:
        """Set the factor the scale is multiplied by after a skipped step.

        Args:
            new_factor (float): the new backoff factor.

        PyTorch:
            ``torch.amp.GradScaler.set_backoff_factor``; same semantics (the value is not checked to be < 1).

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> scaler.set_backoff_factor(0.25)
            >>> scaler.get_backoff_factor()
            0.25
        """
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        """Return how many good steps in a row make the scale grow.

        Returns:
            int: the growth interval.

        PyTorch:
            ``torch.amp.GradScaler.get_growth_interval``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> scaler.get_growth_interval()
            2000
        """
        return self._growth_interval

    def set_growth_interval(self, new_interval) -> None:
        """Set how many good steps in a row make the scale grow.

        Args:
            new_interval (int): the new growth interval.

        PyTorch:
            ``torch.amp.GradScaler.set_growth_interval``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> scaler.set_growth_interval(100)
            >>> scaler.get_growth_interval()
            100
        """
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if self._enabled:
            return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker.item())
        return 0

    def is_enabled(self):
        """Return whether the scaler scales (False when built disabled, or for 'cuda' without a
        GPU).

        Returns:
            bool: True when enabled.

        PyTorch:
            ``torch.amp.GradScaler.is_enabled``; same semantics.

        Example:
            >>> ember.amp.GradScaler("cpu").is_enabled(), ember.amp.GradScaler("cpu", enabled=False).is_enabled()
            (True, False)
        """
        return self._enabled

    def state_dict(self):
        """Return the scaler's state, to save in a checkpoint.

        Returns:
            dict: 'scale', 'growth_factor', 'backoff_factor', 'growth_interval' and '_growth_tracker'; empty when
            disabled.

        PyTorch:
            ``torch.amp.GradScaler.state_dict``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> scaler.state_dict()["scale"]
            65536.0
        """
        if self._enabled:
            return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                    "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                    "_growth_tracker": self._get_growth_tracker()}
        return {}

    def load_state_dict(self, state_dict) -> None:
        """Restore the scaler's state from what ``state_dict`` returned (nothing happens when
        disabled).

        Args:
            state_dict (dict): a state from ``state_dict`` (an empty one raises RuntimeError).

        PyTorch:
            ``torch.amp.GradScaler.load_state_dict``; same semantics.

        Example:
            >>> scaler = ember.amp.GradScaler("cpu")
            >>> scaler.load_state_dict(ember.amp.GradScaler("cpu", init_scale=8.0).state_dict())
            >>> scaler.get_scale()
            8.0
        """
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(state_dict["_growth_tracker"])

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the beginning of an iteration, "
                                     "or at the end after scaler.update().")
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _check_inf_per_device(self, optimizer):
        _scale, _ = self._check_scale_growth_tracker("_check_inf_per_device")
        dummy_inv_scale = full((), 1.0, dtype=_dt.float32, device=_scale.device)
        found_inf = full((), 0.0, dtype=_dt.float32, device=_scale.device)
        self._per_optimizer_states[id(optimizer)]["found_inf_per_device"] = \
            self._unscale_grads_(optimizer, dummy_inv_scale, found_inf, True)
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]

    def _found_inf_per_device(self, optimizer):
        return self._per_optimizer_states[id(optimizer)]["found_inf_per_device"]
