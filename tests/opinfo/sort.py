"""Sorting: sort, argsort, msort, topk (values and indices, the gradient scattered back to the indices)."""
import ember

from . import OpInfo, Sample, T

ENTRIES = [
    OpInfo(("Sort", "SortBackward"), ember.sort,
           [Sample(T((3, 5))), Sample(T((2, 3, 4)), 1, True), Sample(T((4, 3)), dim=0, stable=True), Sample(T(())),
            Sample(T((0, 3)), 0)],
           ref=lambda torch, x, *a, **k: tuple(torch.sort(x, *a, **k)), method="sort"),
    OpInfo("Sort", ember.argsort, [Sample(T((3, 5))), Sample(T((2, 3, 4)), 0, True)], grad=False, name="argsort",
           ref=lambda torch, x, *a: torch.argsort(x, *a), method="argsort"),
    OpInfo(("Sort", "SortBackward"), ember.msort, [Sample(T((4, 3)))], name="msort",
           ref=lambda torch, x: torch.msort(x), method="msort"),
    OpInfo(("TopK", "SortBackward"), ember.topk,
           [Sample(T((3, 5)), 2), Sample(T((2, 3, 4)), 3, 1, False), Sample(T((4,)), 4), Sample(T((2, 3)), 0),
            Sample(T(()), 1), Sample(T((2, 9)), 3), Sample(T((9, 2)), 2, 0, False)],  # the last two: by a partition
           ref=lambda torch, x, *a: tuple(torch.topk(x, *a)), method="topk"),
]
