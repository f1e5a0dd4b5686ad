"""Broadcasting: expand/broadcast_to and its adjoint, sum_to_size."""
import ember

from . import OpInfo, Sample, T

ENTRIES = [
    OpInfo(("BroadcastTo", "SumTo"), ember.broadcast_to, [Sample(T((3, 1)), (2, 3, 4)), Sample(T(()), (0, 2)),
                                                          Sample(T((1,)), (5,))],
           ref=lambda torch, x, shape: torch.broadcast_to(x, shape)),
    OpInfo("SumTo", lambda x, shape: x.sum_to_size(shape), [Sample(T((2, 3, 4)), (3, 1)), Sample(T((4, 0)), (1, 0))],
           ref=lambda torch, x, shape: x.sum_to_size(shape), name="sum_to_size"),
]
