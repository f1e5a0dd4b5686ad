"""Checkpoints of a training run (model, optimizer, scheduler, epoch, random state), saved atomically with
ember.save in the safe format: loading one reads JSON and raw bytes only. ``save``/``load`` themselves, the file
format and the allowlist for pickled objects live in ember.serialization.
"""
from __future__ import annotations

import os
from typing import Any

from .nn.module import Module
from .optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from .optim.optimizer import Optimizer
from .serialization import InvalidCheckpointError, MapLocation, atomic_write, load, safe_open, save
from .tensor import Tensor

__all__ = ["save", "load", "save_checkpoint", "load_checkpoint", "atomic_write", "safe_open",
           "InvalidCheckpointError"]


def save_checkpoint(path: str | os.PathLike[str], model: Module | None = None, optimizer: Optimizer | None = None,
                    scheduler: LRScheduler | ReduceLROnPlateau | None = None, epoch: int | None = None,
                    rng_state: Tensor | None = None, **extra: Any) -> None:
    """Atomically save model/optimizer/scheduler state, the epoch, the random state (rng_state, default: the
    default generator's now) and any extra values."""
    from .ops.random import get_rng_state
    state = {"epoch": epoch, "rng_state": get_rng_state() if rng_state is None else rng_state, "extra": extra}
    if model is not None:
        state["model"] = model.state_dict()
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    save(state, path)


def load_checkpoint(path: str | os.PathLike[str], model: Module | None = None, optimizer: Optimizer | None = None,
                    scheduler: LRScheduler | ReduceLROnPlateau | None = None, restore_rng: bool = True,
                    map_location: MapLocation = None) -> dict[str, Any]:
    """Load a checkpoint from save_checkpoint into the given objects; returns the whole checkpoint dict.

    Tensors go to map_location (default: the model's device). A file that is not such a checkpoint raises
    InvalidCheckpointError before any of the objects is changed (a state that does not fit them raises the error
    of their load_state_dict).
    """
    from .ops.random import set_rng_state
    if map_location is None:
        first = next(iter(model.parameters()), None) if model is not None else None
        map_location = first.device if first is not None else "cpu"
    state = load(path, map_location=map_location)
    _check_checkpoint(state, path, model=model, optimizer=optimizer, scheduler=scheduler)
    if model is not None:
        model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng and state.get("rng_state") is not None:
        try:
            set_rng_state(state["rng_state"].cpu())
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise InvalidCheckpointError(f"load_checkpoint: {path} holds a random state that cannot be restored "
                                         f"({type(e).__name__}: {e})") from None
    return state


def _check_checkpoint(state, path, **wanted):
    def bad(reason):
        return InvalidCheckpointError(f"load_checkpoint: {path} is not a training checkpoint: {reason}")

    if not isinstance(state, dict):
        raise bad(f"it holds a {type(state).__name__}, not a dict")
    for key, obj in wanted.items():
        if obj is not None and not isinstance(state.get(key), dict):
            raise bad(f"it has no {key} state" if key not in state else f"its {key} state is not a dict")
    if not isinstance(state.get("extra", {}), dict):
        raise bad("its extra values are not a dict")
    epoch = state.get("epoch")
    if epoch is not None and (type(epoch) is not int or epoch < 0):
        raise bad(f"its epoch is {epoch!r}, not a count of epochs")
