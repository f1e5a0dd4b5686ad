"""Samplers: the order in which a DataLoader visits a map-style dataset."""
import numpy as np

from ..ops.random import default_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


class Sampler:
    """The base of samplers: subclasses implement ``__iter__()``, which yields dataset indices (and ``__len__()``).

    PyTorch:
        ``torch.utils.data.Sampler``; same protocol (no deprecated ``data_source`` argument).

    Example:
        >>> class Reverse(ember.data.Sampler):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(self.n - 1, -1, -1))
        ...     def __len__(self):
        ...         return self.n
        >>> data = ember.data.TensorDataset(ember.arange(4))
        >>> [x.tolist() for (x,) in ember.data.DataLoader(data, batch_size=2, sampler=Reverse(4))]
        [[3, 2], [1, 0]]
    """

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """The indices 0, 1, ..., len(data_source) - 1 in order: what a DataLoader without shuffle uses.

    Args:
        data_source (Sized): the dataset (only its length is read, at each pass).

    PyTorch:
        ``torch.utils.data.SequentialSampler``; same semantics.

    Example:
        >>> list(ember.data.SequentialSampler(range(3)))
        [0, 1, 2]
    """
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _rng(generator):
    return (generator or default_generator).rng


_CHUNK = 32  # RandomSampler's draws with replacement per call, as PyTorch's
_SEED_HIGH = 2 ** 63 - 1


class RandomSampler(Sampler):
    """A new random permutation of the indices at each pass, or num_samples draws with replacement.

    What a DataLoader with ``shuffle=True`` uses. Indices are drawn lazily while the sampler is iterated (with
    replacement, 32 at a time), so num_samples may be far larger than memory. Without a generator, each pass draws
    one seed from ember's default generator and uses a generator of its own: the default generator advances by one
    draw per pass, however the pass is consumed. Without replacement, a num_samples larger than the dataset gives
    whole permutations one after the other, then part of one.

    Args:
        data_source (Sized): the dataset (only its length is read, at each pass).
        replacement (bool): draw with replacement (TypeError if not a bool). Default: False.
        num_samples (int, optional): the indices per pass, positive (ValueError otherwise); None: the dataset's
            length. Default: None.
        generator (Generator, optional): the random generator; None: see above. Default: None.

    PyTorch:
        ``torch.utils.data.RandomSampler``; same semantics and errors; the order differs from PyTorch's for the
        same seed (ember's generators are NumPy's).

    Example:
        >>> sampler = ember.data.RandomSampler(range(5))
        >>> sorted(sampler)
        [0, 1, 2, 3, 4]
        >>> len(ember.data.RandomSampler(range(5), replacement=True, num_samples=100))
        100
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        n = self.num_samples
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, but got "
                             f"num_samples={n!r}")

    @property
    def num_samples(self):
        # the dataset's size may change after the sampler is made
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, total = len(self.data_source), self.num_samples
        if self.generator is None:
            rng = np.random.default_rng(int(default_generator.rng.integers(0, _SEED_HIGH)))
        else:
            rng = self.generator.rng
        if self.replacement:
            for _ in range(total // _CHUNK):
                yield from rng.integers(0, n, size=_CHUNK).tolist()
            yield from rng.integers(0, n, size=total % _CHUNK).tolist()
        else:
            for _ in range(total // n):
                yield from rng.permutation(n).tolist()
            yield from rng.permutation(n)[:total % n].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order at each pass (drawn when the pass starts).

    Args:
        indices (sequence of int): the dataset indices to visit.
        generator (Generator, optional): the random generator; None: ember's default generator. Default: None.

    PyTorch:
        ``torch.utils.data.SubsetRandomSampler``; same semantics; the order differs from PyTorch's for the same
        seed (ember's generators are NumPy's).

    Example:
        >>> sampler = ember.data.SubsetRandomSampler([10, 20, 30])
        >>> sorted(sampler), len(sampler)
        ([10, 20, 30], 3)
    """

    def __init__(self, indices, generator=None):
        self.indices, self.generator = indices, generator

    def __iter__(self):
        for i in _rng(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """num_samples indices drawn at each pass, index i with a probability proportional to weights[i].

    Typically used to balance classes: the weight of a sample is the inverse of its class's frequency.

    Args:
        weights (sequence of float or Tensor): one non-negative weight per index, 1-D (ValueError otherwise); they
            need not sum to 1.
        num_samples (int): the number of indices per pass, positive (ValueError otherwise).
        replacement (bool): draw with replacement; without it, an index comes at most once. Default: True.
        generator (Generator, optional): the random generator; None: ember's default generator. Default: None.

    PyTorch:
        ``torch.utils.data.WeightedRandomSampler``; same semantics and errors; the draws differ from PyTorch's
        for the same seed (ember's generators are NumPy's).

    Example:
        >>> sampler = ember.data.WeightedRandomSampler([0.0, 1.0, 0.0], num_samples=4)
        >>> list(sampler)
        [1, 1, 1, 1]
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples!r}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, but got "
                             f"replacement={replacement!r}")
        w = np.asarray(weights.tolist() if hasattr(weights, "tolist") else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given weights have "
                             f"shape {tuple(w.shape)}")
        self.weights, self.num_samples, self.replacement, self.generator = w, num_samples, replacement, generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        yield from _rng(self.generator).choice(len(p), self.num_samples, self.replacement, p).tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of a sampler into lists of batch_size indices: what a DataLoader iterates.

    Args:
        sampler (Sampler or iterable of int): the indices to group.
        batch_size (int): the indices per batch, positive (ValueError otherwise).
        drop_last (bool): drop the last batch when it is shorter than batch_size.

    PyTorch:
        ``torch.utils.data.BatchSampler``; same semantics (drop_last is not checked to be a bool).

    Example:
        >>> list(ember.data.BatchSampler(range(5), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
        >>> list(ember.data.BatchSampler(range(5), batch_size=2, drop_last=True))
        [[0, 1], [2, 3]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer, got {batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
