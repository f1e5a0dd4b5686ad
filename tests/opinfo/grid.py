"""Tensors laid out from others: repeat_interleave, meshgrid, diag, pixel_shuffle/pixel_unshuffle; and the PyTorch
names that run existing ops: ember.softmax/log_softmax, Tensor.type_as, cdist."""
import math

import ember
import ember.nn.functional as F

from . import Idx, OpInfo, Sample, T

ENTRIES = [
    OpInfo(("Reshape", "BroadcastTo", "SumTo"), ember.repeat_interleave,
           [Sample(T((2, 3)), 2), Sample(T((2, 3)), Idx((1,), 4, 1), 0), Sample(T((2, 3)), 3, -1), Sample(T(()), 3)],
           ref=lambda torch, x, *a: torch.repeat_interleave(x, *a), method="repeat_interleave",
           name="repeat_interleave"),
    OpInfo(("IndexSelect", "IndexAdd"), ember.repeat_interleave,
           [Sample(T((2, 3)), Idx((3,), 3), 1), Sample(T((4,)), Idx((4,), 3)), Sample(T((0, 2)), Idx((0,), 2), 0)],
           ref=lambda torch, x, *a: torch.repeat_interleave(x, *a), method="repeat_interleave",
           name="repeat_interleave_counts"),
    OpInfo(("Reshape", "BroadcastTo", "SumTo"), ember.meshgrid,
           [Sample(T((3,)), T((2,)), indexing="ij"), Sample(T((2,)), T((3,)), T(()), indexing="xy"),
            Sample([T((2,)), T((0,))], indexing="ij")],
           ref=lambda torch, *ts, **k: torch.meshgrid(*ts, **k), name="meshgrid"),
    OpInfo(("DiagonalBackward", "Diagonal"), ember.diag, [Sample(T((3,))), Sample(T((3,)), -1), Sample(T((0,)), 2)],
           ref=lambda torch, x, *a: torch.diag(x, *a), method="diag", name="diag_1d"),
    OpInfo(("Diagonal", "Clone", "DiagonalBackward"), ember.diag,
           [Sample(T((3, 4))), Sample(T((3, 4)), 1), Sample(T((3, 4)), -2), Sample(T((2, 3)), 5)],
           ref=lambda torch, x, *a: torch.diag(x, *a), method="diag", name="diag_2d"),
    OpInfo(("Reshape", "Permute"), F.pixel_shuffle, [Sample(T((2, 8, 2, 3)), 2), Sample(T((9, 1, 2)), 3)],
           ref=lambda torch, x, r: torch.nn.functional.pixel_shuffle(x, r), name="pixel_shuffle"),
    OpInfo(("Reshape", "Permute"), F.pixel_unshuffle, [Sample(T((2, 2, 4, 6)), 2), Sample(T((1, 3, 3)), 3)],
           ref=lambda torch, x, r: torch.nn.functional.pixel_unshuffle(x, r), name="pixel_unshuffle"),
    # torch.softmax(input, dim, dtype): the third argument is the dtype (F.softmax's is _stacklevel)
    OpInfo(("Softmax", "SoftmaxGrad"), ember.softmax, [Sample(T((3, 5)), 1), Sample(T(()), 0)],
           ref=lambda torch, x, d: torch.softmax(x, d), name="ember_softmax"),
    OpInfo(("LogSoftmax", "LogSoftmaxGrad", "ToCopy"), lambda x, d: ember.log_softmax(x, d, ember.float64),
           [Sample(T((3, 5)), 1)], ref=lambda torch, x, d: torch.log_softmax(x, d, torch.float64),
           name="ember_log_softmax_dtype"),
    OpInfo("ToCopy", ember.Tensor.type_as, [Sample(T((2, 3), (-5.0, 5.0)), Idx((1,), 3))], grad=False,
           ref=lambda torch, x, other: x.type_as(other), method="type_as", name="type_as"),
    OpInfo(("Norm",), ember.cdist,
           [Sample(T((4, 3)), T((5, 3))), Sample(T((2, 3, 4)), T((1, 2, 4)), 1.0), Sample(T((3, 2)), T((4, 2)), 3),
            Sample(T((3, 2)), T((4, 2)), math.inf), Sample(T((2, 3)), T((0, 3)))],
           ref=lambda torch, a, b, *r: torch.cdist(a, b, *r), name="cdist"),
    OpInfo((), ember.cdist, [Sample(T((3, 0)), T((2, 0))), Sample(T((3, 0)), T((2, 0)), math.inf)],
           ref=lambda torch, a, b, *r: torch.cdist(a, b, *r), name="cdist_no_columns"),
    OpInfo(("Matmul",), lambda a, b: ember.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
           [Sample(T((4, 3)), T((5, 3))), Sample(T((2, 3, 2)), T((3, 2)))], atol=1e-4, rtol=1e-4,
           ref=lambda torch, a, b: torch.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), name="cdist_mm"),
]
