"""Indexing: __getitem__ (basic, integer arrays, masks), __setitem__/index_put, gather/scatter/scatter_add,
index_select/index_add, take, masked_fill/masked_select, nonzero/argwhere.

The size that a mask selects (and nonzero's count) depends on the data: their shape rules give None there."""
import numpy as np

import ember

from . import Idx, Mask, OpInfo, Sample, T


def _getitem(x, key):
    return x[key]


def _setitem(x, key, value):
    y = x.clone()
    y[key] = value
    return y


ENTRIES = [
    OpInfo(("BasicIndex", "IndexBackward"), _getitem,
           [Sample(T((3, 4)), 1), Sample(T((3, 4)), (slice(None), slice(1, 3))),
            Sample(T((2, 3, 4)), (Ellipsis, None, -1)), Sample(T((0, 3)), (slice(None), 0))],
           ref=lambda torch, x, key: x[key], method="__getitem__", name="getitem"),
    OpInfo(("AdvancedIndex", "IndexBackward"), _getitem,
           [Sample(T((4, 3)), Idx((5,), 4)), Sample(T((3, 4, 2)), (Idx((2,), 3), slice(None), Idx((2,), 2))),
            Sample(T((3, 4)), (Idx((2,), 3), Idx((3, 1), 4)))],
           ref=lambda torch, x, key: x[key], method="__getitem__", name="getitem_indices"),
    OpInfo(("AdvancedIndex", "IndexBackward"), _getitem, [Sample(T((3, 4)), Mask((3, 4))),
                                                           Sample(T((3, 4)), (slice(None), Mask((4,))))],
           ref=lambda torch, x, key: x[key], method="__getitem__", name="getitem_mask"),
    OpInfo(("AdvancedIndex", "IndexBackward"), ember.take, [Sample(T((3, 4)), Idx((2, 3), 12, -12))],
           ref=lambda torch, x, index: torch.take(x, index), method="take", name="take"),
    OpInfo(("AdvancedIndex", "IndexBackward"), ember.masked_select,
           [Sample(T((3, 4)), Mask((3, 4))), Sample(T((3, 1)), Mask((4,)))],
           ref=lambda torch, x, mask: torch.masked_select(x, mask), method="masked_select", name="masked_select"),
    # distinct positions where values are written (not added): which of two writes wins is unspecified
    OpInfo("IndexPut", _setitem,
           [Sample(T((4, 3)), (np.array([2, 0]),), T((2, 3))),
            Sample(T((4, 3)), (slice(None), np.array([1])), T((4, 1))), Sample(T((3, 4)), Mask((3, 4)), 0.5)],
           ref=lambda torch, x, key, value: _setitem(x, key, value), name="setitem"),
    OpInfo(("IndexPut", "AdvancedIndex"), ember.index_put,
           [Sample(T((4, 3)), (np.array([3, 1]),), T((3,))), Sample(T((4, 3)), (Idx((5,), 4),), T((5, 3)), True)],
           ref=lambda torch, x, *a: torch.index_put(x, *a), method="index_put"),
    OpInfo(("Gather", "ScatterAdd"), ember.gather, [Sample(T((3, 4)), 1, Idx((3, 2), 4)),
                                                    Sample(T((2, 3)), 0, Idx((1, 2), 2))],
           ref=lambda torch, x, d, index: torch.gather(x, d, index), method="gather"),
    # one write per row (dim 1) or column (dim 0), so that no position is written twice
    OpInfo(("Scatter", "Gather"), ember.scatter, [Sample(T((3, 4)), 1, Idx((3, 1), 4), T((3, 1))),
                                                  Sample(T((3, 4)), 0, Idx((1, 4), 3), T((1, 4)))],
           ref=lambda torch, x, d, index, src: torch.scatter(x, d, index, src), method="scatter"),
    # a src larger than index (only its leading block is used): PyTorch's backward refuses the shapes
    OpInfo(("Scatter", "Gather", "IndexBackward"), ember.scatter, [Sample(T((3, 4)), 1, Idx((3, 1), 4), T((3, 2)))],
           name="scatter_larger_src"),
    OpInfo("Scatter", ember.scatter, [Sample(T((3, 4)), 1, Idx((3, 2), 4), 1.5)], name="scatter_value",
           ref=lambda torch, x, d, index, value: torch.scatter(x, d, index, value), method="scatter"),
    OpInfo(("ScatterAdd", "Gather"), ember.scatter_add, [Sample(T((3, 4)), 1, Idx((3, 5), 4), T((3, 5))),
                                                         Sample(T((2, 3)), 0, Idx((2, 2), 2), T((2, 2)))],
           ref=lambda torch, x, d, index, src: torch.scatter_add(x, d, index, src), method="scatter_add"),
    OpInfo(("ScatterAdd", "Gather", "IndexBackward"), ember.scatter_add,
           [Sample(T((2, 3)), 0, Idx((2, 2), 2), T((3, 3)))], name="scatter_add_larger_src"),
    OpInfo(("IndexSelect", "IndexAdd"), ember.index_select, [Sample(T((4, 3)), 0, Idx((5,), 4)),
                                                             Sample(T((2, 3)), -1, Idx((2,), 3))],
           ref=lambda torch, x, d, index: torch.index_select(x, d, index), method="index_select"),
    OpInfo(("IndexAdd", "IndexSelect"), ember.index_add, [Sample(T((4, 3)), 0, Idx((5,), 4), T((5, 3))),
                                                          Sample(T((2, 3)), 1, Idx((4,), 3), T((2, 4)), alpha=2.0)],
           ref=lambda torch, x, d, index, src, **k: torch.index_add(x, d, index, src, **k), method="index_add"),
    OpInfo("MaskedFill", ember.masked_fill, [Sample(T((3, 4)), Mask((3, 4)), 1.5), Sample(T((3, 4)), Mask((4,)), -1.0),
                                             Sample(T((3, 4)), Mask((3, 1)), T(()))],
           ref=lambda torch, x, mask, value: torch.masked_fill(x, mask, value), method="masked_fill"),
    OpInfo("Nonzero", lambda x: ember.nonzero(x > 0), [Sample(T((3, 4))), Sample(T((0, 2)))], grad=False,
           ref=lambda torch, x: torch.nonzero(x > 0)),
    OpInfo(("Nonzero", "Select"), lambda x: ember.nonzero(x > 0, as_tuple=True), [Sample(T((3, 4))), Sample(T(()))],
           grad=False, ref=lambda torch, x: torch.nonzero(x > 0, as_tuple=True), name="nonzero_tuple"),
]
