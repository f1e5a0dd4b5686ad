"""Sliding windows: Tensor.unfold (a strided view), nn.functional's unfold (im2col) and fold (col2im)."""
import ember
import ember.nn.functional as F

from . import OpInfo, Sample, T

ENTRIES = [
    # (7,), 0, 5, 1: fewer windows (3) than elements in a window (5), the other way of adding windows back
    OpInfo(("Unfold", "UnfoldBackward"), ember.Tensor.unfold,
           [Sample(T((5,)), 0, 2, 1), Sample(T((3, 7)), 1, 3, 2), Sample(T((2, 4, 3)), -2, 4, 1),
            Sample(T((7,)), 0, 5, 1), Sample(T(()), 0, 1, 1), Sample(T((2, 0)), 0, 1, 2)],
           ref=lambda torch, x, *a: x.unfold(*a), method="unfold"),
    OpInfo(("Im2Col", "Col2Im"), F.unfold,
           [Sample(T((2, 3, 4, 4)), 2), Sample(T((1, 2, 6, 5)), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
            Sample(T((2, 4, 3)), 3, padding=1, stride=2)],
           ref=lambda torch, x, *a, **k: torch.nn.functional.unfold(x, *a, **k), name="F_unfold"),
    OpInfo(("Col2Im", "Im2Col"), F.fold,
           [Sample(T((2, 12, 9)), (4, 4), 2), Sample(T((1, 12, 12)), (6, 5), (2, 3), dilation=(1, 2), padding=1,
                                                     stride=(2, 1)),
            Sample(T((8, 4)), (3, 3), 2, stride=1)],
           ref=lambda torch, x, *a, **k: torch.nn.functional.fold(x, *a, **k), name="F_fold"),
]
