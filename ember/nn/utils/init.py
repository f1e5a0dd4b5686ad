"""skip_init: build a module without keeping its initial values (torch.nn.utils.init)."""
import inspect

from ...ops.random import get_rng_state, set_rng_state
from ..module import Module

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """Build ``module_cls(*args, **kwargs)`` with uninitialised parameters and buffers, for values set afterwards.

    The module class must take a ``device`` argument (passed on; ``'cpu'`` when not given). The random generator
    is left as it was.

    Args:
        module_cls (type): a Module subclass.
        *args: its positional arguments.
        **kwargs: its keyword arguments, ``device`` included.

    Returns:
        Module: the module, its tensors allocated on ``device`` but uninitialised (arbitrary values).

    PyTorch:
        ``torch.nn.utils.skip_init``; same result and errors. ember has no meta device, so the module is built
        (and initialised, the generator's state restored after) on ``device`` before its storage is replaced: the
        initialisation's time is not saved.

    Example:
        >>> layer = nn.utils.skip_init(nn.Linear, 4, 3)
        >>> layer.weight.shape, layer.bias.shape
        (ember.Size([3, 4]), ember.Size([3]))
    """
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    state = get_rng_state()  # PyTorch builds it on the meta device, which draws no random numbers
    try:
        module = module_cls(*args, device=final_device, **kwargs)
    finally:
        set_rng_state(state)
    return module.to_empty(device=final_device)
