"""Padding layers (torch.nn's ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and CircularPad in 1, 2 and 3
dimensions): each the layer form of ``F.pad`` in one mode over the last 1, 2 or 3 dimensions."""
from ..ops.padding import pad
from .module import Module

_MODES = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect", "Replication": "replicate",
          "Circular": "circular"}
_KIND = {"Zero": "zeros", "Constant": "a constant value", "Reflection": "the reflection of the input (the edge not "
         "repeated)", "Replication": "copies of the input's edge", "Circular": "the input wrapped around"}
_SIDES = {1: "(left, right)", 2: "(left, right, top, bottom)", 3: "(left, right, top, bottom, front, back)"}

__all__ = [f"{kind}Pad{n}d" for kind in _MODES for n in (1, 2, 3)]


class _PadNd(Module):
    """Pad the last ``dims`` dimensions in ``mode`` (set by each class)."""

    mode, dims = "constant", 1

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = (int(padding),) * 2 * self.dims if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 2 * self.dims:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of {2 * self.dims} ints, "
                             f"got {padding!r}")
        self.value = value

    def forward(self, input):
        return pad(input, self.padding, self.mode, self.value if self.mode == "constant" else None)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}" if type(self).__name__.startswith("Constant") \
            else f"{self.padding}"


def _padding_class(kind, dims):
    name = f"{kind}Pad{dims}d"
    shape = {1: "N, C, W", 2: "N, C, H, W", 3: "N, C, D, H, W"}[dims]
    value = kind == "Constant"
    example = (f"nn.{name}(1{', 3.5' if value else ''})(ember.ones(1, 2, {', '.join(['3'] * dims)})).shape",
               f"ember.Size([1, 2, {', '.join(['5'] * dims)}])")
    doc = f"""Pad the last {dims} dimension{'s' if dims > 1 else ''} of the input with {_KIND[kind]}: ``F.pad``
    in mode ``'{_MODES[kind]}'`` as a layer.

    Args:
        padding (int or tuple): the amounts, one int for every side or {2 * dims} ints {_SIDES[dims]}.{'''
        value (float): the fill.''' if value else ''}

    Shape:
        - Input: ({shape}) or without N.
        - Output: each padded dimension grown by its two amounts.

    PyTorch:
        ``torch.nn.{name}``; same semantics.

    Example:
        >>> {example[0]}
        {example[1]}
    """
    if value:
        def __init__(self, padding, value):
            _PadNd.__init__(self, padding, value)
    else:
        def __init__(self, padding):
            _PadNd.__init__(self, padding)
    return type(name, (_PadNd,), {"__doc__": doc, "__init__": __init__, "__module__": __name__,
                                  "mode": _MODES[kind], "dims": dims})


for _kind in _MODES:
    for _dims in (1, 2, 3):
        globals()[f"{_kind}Pad{_dims}d"] = _padding_class(_kind, _dims)
