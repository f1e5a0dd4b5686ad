"""DistributedSampler (torch.utils.data.distributed.DistributedSampler): each rank's share of a dataset."""
import math

from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The share of one rank of a dataset in data-parallel training: every rank gets ``num_samples`` indices,
    together one pass over the dataset.

    Rank r gets the indices r, r + num_replicas, r + 2 num_replicas, ... of the (shuffled) order. With shuffle,
    the permutation is drawn from ``seed + epoch``, the same on every rank: call ``set_epoch(epoch)`` before each
    epoch for a new order. Without drop_last, the indices are padded with the first ones to divide evenly; with
    it, the tail is dropped.

    Args:
        dataset (Dataset): the dataset (only its length is read).
        num_replicas (int, optional): the number of ranks; None: the default process group's world size
            (ember.distributed; RuntimeError without mpi4py). Default: None.
        rank (int, optional): this rank, in [0, num_replicas) (ValueError otherwise); None: the default process
            group's rank. Default: None.
        shuffle (bool): shuffle the indices at each epoch. Default: True.
        seed (int): the seed of the shuffle, the same on every rank. Default: 0.
        drop_last (bool): drop the tail that does not divide evenly, instead of padding. Default: False.

    PyTorch:
        ``torch.utils.data.distributed.DistributedSampler``; same semantics and order without shuffle; with
        shuffle, the permutation differs from PyTorch's for the same seed (ember's generators are NumPy's).

    Example:
        >>> sampler = ember.data.DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
        >>> list(sampler), len(sampler)
        ([1, 4, 7, 0], 4)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from .. import distributed as dist
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available (pip install 'ember[mpi]')")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.epoch, self.drop_last, self.shuffle, self.seed = 0, drop_last, shuffle, seed
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            from ..ops.random import Generator, randperm
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use the permutation of epoch (call it at the start of each epoch, on every rank)."""
        self.epoch = epoch
