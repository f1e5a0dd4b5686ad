"""Searching, counting and cumulative extremes: unique, bincount, histc, histogram, searchsorted, isin, cummax and
cummin, diag_embed. The counting and searching ops have no gradient; values (and indices, counts)
compare with PyTorch's."""
import ember

from . import Idx, OpInfo, Sample, T


def _sorted(x):
    return x.sort()[0]


ENTRIES = [
    OpInfo("Unique", lambda x: ember.unique(x, return_inverse=True, return_counts=True),
           [Sample(Idx((12,), 5)), Sample(Idx((3, 4), 3))], grad=False,
           ref=lambda torch, x: torch.unique(x, return_inverse=True, return_counts=True), name="unique"),
    OpInfo("Unique", lambda x: ember.unique(x, dim=0), [Sample(Idx((5, 2), 2))], grad=False,
           ref=lambda torch, x: torch.unique(x, dim=0), name="unique_dim"),
    OpInfo("Bincount", ember.bincount, [Sample(Idx((10,), 6)), Sample(Idx((10,), 3), T((10,)))], grad=False,
           ref=lambda torch, *a: torch.bincount(*a), name="bincount"),
    OpInfo("Histc", lambda x: ember.histc(x, bins=5, min=-1, max=1), [Sample(T((20,)))], grad=False,
           ref=lambda torch, x: torch.histc(x, bins=5, min=-1, max=1), name="histc"),
    OpInfo("Histogram", lambda x: ember.histogram(x, bins=4), [Sample(T((20,)))], grad=False,
           ref=lambda torch, x: torch.histogram(x, bins=4), dtypes=("float64", "float32"), name="histogram"),
    OpInfo("SearchSorted", lambda s, v: ember.searchsorted(_sorted(s), v, right=True),
           [Sample(T((8,)), T((5,))), Sample(T((2, 6)), T((2, 3)))], grad=False,
           ref=lambda torch, s, v: torch.searchsorted(_sorted(s), v, right=True), name="searchsorted"),
    OpInfo("IsIn", ember.isin, [Sample(Idx((3, 4), 6), Idx((4,), 6))], grad=False,
           ref=lambda torch, a, b: torch.isin(a, b), name="isin"),
    OpInfo("CumMaxMin", lambda x: ember.cummax(x, 1), [Sample(T((3, 5)))],
           ref=lambda torch, x: torch.cummax(x, 1), name="cummax"),
    OpInfo("CumMaxMin", lambda x: ember.cummin(x, 0), [Sample(T((4, 2)))],
           ref=lambda torch, x: torch.cummin(x, 0), name="cummin"),
    OpInfo("DiagEmbed", lambda x: ember.diag_embed(x, offset=1), [Sample(T((2, 3)))],
           ref=lambda torch, x: torch.diag_embed(x, offset=1), name="diag_embed"),
]
