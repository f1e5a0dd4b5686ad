"""Datasets: the map-style and iterable protocols, TensorDataset, Subset, ConcatDataset, random_split."""
import bisect
import math

from ..tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "StackDataset",
           "random_split"]


class Dataset:
    """The base of map-style datasets: subclasses implement ``__getitem__(index)`` and ``__len__()``.

    A DataLoader reads the samples by index (through a sampler). ``dataset1 + dataset2`` is a ConcatDataset.

    PyTorch:
        ``torch.utils.data.Dataset``; same protocol (an optional ``get_batch(indices)`` of ember's own gives the
        DataLoader a whole batch at once, where PyTorch's optional method is ``__getitems__``).

    Example:
        >>> class Squares(ember.data.Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return ember.tensor(float(i * i))
        >>> next(iter(ember.data.DataLoader(Squares(), batch_size=4)))
        tensor([0., 1., 4., 9.])
    """

    def __getitem__(self, index):
        raise NotImplementedError

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """The base of datasets that are streams: subclasses implement ``__iter__()``, which yields the samples.

    A DataLoader iterates it in order (no sampler, no shuffle). With workers, each worker iterates its own copy of
    the dataset: use get_worker_info() in ``__iter__`` to give each worker its own part of the stream.

    PyTorch:
        ``torch.utils.data.IterableDataset``; same protocol, but ``+`` (ConcatDataset) raises TypeError: ember
        has no ChainDataset.

    Example:
        >>> class Count(ember.data.IterableDataset):
        ...     def __iter__(self):
        ...         return iter(range(5))
        >>> list(ember.data.DataLoader(Count(), batch_size=2))
        [tensor([0, 1]), tensor([2, 3]), tensor([4])]
    """

    def __iter__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """A dataset whose i-th sample is the tuple of the i-th rows of tensors that share their first dimension.

    Args:
        *tensors (Tensor): at least one tensor, all of the same size along dimension 0.

    PyTorch:
        ``torch.utils.data.TensorDataset``; same semantics, but a size mismatch raises ValueError (PyTorch's is
        an AssertionError), so does no tensor at all, and a non-tensor argument raises TypeError.

    Example:
        >>> data = ember.data.TensorDataset(ember.zeros(5, 2), ember.arange(5))
        >>> len(data), data[1]
        (5, (tensor([0., 0.]), tensor(1)))
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: at least one tensor is required")
        n = tensors[0].shape[0]
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, not a Tensor")
            if t.shape[0] != n:
                raise ValueError(f"TensorDataset: size mismatch between tensors: tensor 0 has {n} rows, tensor {i} "
                                 f"has shape {tuple(t.shape)}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        """Rows at indices of every tensor, gathered at once (used by DataLoader)."""
        import numpy as np
        idx = np.asarray(indices)
        return [Tensor._wrap(t._data[idx]) for t in self.tensors]


class Subset(Dataset):
    """The part of a dataset at the given indices: sample i is ``dataset[indices[i]]``.

    Args:
        dataset (Dataset): the whole dataset.
        indices (sequence of int): the indices of the samples kept, in their order.

    PyTorch:
        ``torch.utils.data.Subset``; same semantics.

    Example:
        >>> part = ember.data.Subset(ember.data.TensorDataset(ember.arange(10)), [7, 2])
        >>> len(part), part[0]
        (2, (tensor(7),))
    """

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)

    def get_batch(self, indices):
        """A whole batch at once: delegated to the dataset's own get_batch when it has one."""
        rows = [self.indices[i] for i in indices]
        getter = getattr(self.dataset, "get_batch", None)
        if getter is not None:
            return getter(rows)
        from .dataloader import default_collate
        return default_collate([self.dataset[i] for i in rows])


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other, as one dataset (what ``dataset1 + dataset2`` makes).

    Args:
        datasets (iterable of Dataset): the datasets, not empty (ValueError) and not IterableDatasets (TypeError).

    PyTorch:
        ``torch.utils.data.ConcatDataset``; same semantics, but an empty list raises ValueError and an
        IterableDataset TypeError (PyTorch's are AssertionErrors).

    Example:
        >>> data = ember.data.ConcatDataset([range(3), range(10, 12)])
        >>> len(data), data[3], data[-1]
        (5, 10, 11)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise IndexError(f"ConcatDataset: index {idx} out of range for length {len(self)}")
            idx += len(self)
        if idx >= len(self):
            raise IndexError(f"ConcatDataset: index {idx} out of range for length {len(self)}")
        i = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[i - 1] if i else 0
        return self.datasets[i][idx - start]


class ChainDataset(IterableDataset):
    """Several iterable datasets one after the other, as one iterable dataset (chained lazily).

    Args:
        datasets (iterable of IterableDataset): the datasets.

    PyTorch:
        ``torch.utils.data.ChainDataset``; same semantics.

    Example:
        >>> class Count(ember.data.IterableDataset):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(self.n))
        >>> list(ember.data.ChainDataset([Count(2), Count(3)]))
        [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class StackDataset(Dataset):
    """Datasets of one length read together: sample i is the tuple (or, with keyword arguments, the dict) of
    each dataset's sample i.

    Args:
        *args (Dataset): datasets whose samples form a tuple.
        **kwargs (Dataset): datasets whose samples form a dict under these keys (not with args).

    PyTorch:
        ``torch.utils.data.StackDataset``; same semantics.

    Example:
        >>> data = ember.data.StackDataset(image=[10, 11], label=[0, 1])
        >>> len(data), data[1]
        (2, {'image': 11, 'label': 1})
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via ``kwargs``) like "
                             "input/output, but both types are given.")
        parts = args or tuple(kwargs.values())
        if not parts:
            raise ValueError("At least one dataset should be passed")
        self._length = len(parts[0])
        if any(self._length != len(d) for d in parts):
            raise ValueError("Size mismatch between datasets")
        self.datasets = args if args else kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self):
        return self._length


def random_split(dataset, lengths, generator=None):
    """Split a dataset into non-overlapping random subsets of the given lengths (or fractions summing to 1).

    Fractions become lengths by flooring, and the samples left over go to the subsets one each, round-robin
    from the first.

    Args:
        dataset (Dataset): the dataset to split.
        lengths (sequence of int or float): the subsets' lengths, summing to ``len(dataset)``, or their fractions,
            summing to 1 (ValueError otherwise).
        generator (Generator, optional): the random generator of the permutation; None: ember's default
            generator. Default: None.

    Returns:
        list of Subset: one Subset per length, in order.

    PyTorch:
        ``torch.utils.data.random_split``; same semantics, but the permutation differs from PyTorch's for the same
        seed (ember's generators are NumPy's), and no warning for an empty subset.

    Example:
        >>> train, val = ember.data.random_split(range(10), [0.8, 0.2])
        >>> len(train), len(val)
        (8, 2)
        >>> sorted(list(train) + list(val)) == list(range(10))
        True
    """
    from ..ops.random import randperm

    n = len(dataset)
    if all(0 <= x <= 1 for x in lengths) and math.isclose(sum(lengths), 1) and sum(lengths) != n:
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of the "
                         f"input dataset ({n})")
    perm = randperm(n, generator=generator).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length]))
        offset += length
    return out
