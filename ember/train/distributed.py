"""Training on several ranks (``ember train --nproc N``): a Trainer whose steps run through
DistributedDataParallel, and the train loader cut into the ranks' shares.

Every rank trains on its share of each global batch (the config's batch_size, split evenly), so a run has the same
global batch on any number of ranks; the epoch's training metrics are averaged over the ranks, and the validation
metrics are computed on every rank on the whole validation set, so every rank sees the same logs (EarlyStopping
decides the same everywhere). Checkpoints hold the unwrapped model, as one process saves it: a run resumes on any
number of ranks. Only rank 0 saves them.
"""
import contextlib

import numpy as np

from .. import distributed as dist
from ..data import DataLoader, DistributedSampler, RandomSampler
from ..nn.parallel import DistributedDataParallel
from ..nn.parallel.distributed import gradient_reducer
from ..tensor import Tensor
from .trainer import Trainer, _unpack

__all__ = ["DistributedTrainer", "shard_loader"]


def shard_loader(loader, seed=0):
    """This rank's DataLoader of loader's dataset: a DistributedSampler (shuffled when loader was), and
    loader.batch_size divided by the world size (which must divide it)."""
    world, rank = dist.get_world_size(), dist.get_rank()
    if loader.batch_size is None or loader.batch_size % world:
        raise ValueError(f"the batch size {loader.batch_size} does not divide evenly among {world} ranks (each "
                         "rank trains on an equal share of every batch): choose a multiple of the rank count")
    sampler = DistributedSampler(loader.dataset, world, rank, shuffle=isinstance(loader.sampler, RandomSampler),
                                 seed=seed)
    return DataLoader(loader.dataset, batch_size=loader.batch_size // world, sampler=sampler,
                      num_workers=loader.num_workers, collate_fn=loader.collate_fn, drop_last=loader.drop_last)


class DistributedTrainer(Trainer):
    """Trainer on several ranks (after ember.distributed.init_process_group): the same arguments; train_step runs
    the model wrapped in DistributedDataParallel (``self.ddp``), checkpoints are written by rank 0 only. When
    gradients accumulate, the micro-batches before an update's last one run under ``no_sync()``: one all-reduce
    per update.

    With compile=True the compiled step runs the model itself (DDP's hooks would run Python in the middle of its
    backward, a graph break): it leaves each rank's own gradients, which the update averages over the ranks first
    in DDP's buckets (``self.reducer``), once per update when gradients accumulate (as ``no_sync()`` would), and
    then sends rank 0's buffers (batch norm's running statistics) to every rank, as DDP's next forward would."""

    _fuse_update = False  # the gradients are reduced between the compiled backward and the update

    def __init__(self, model, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        self.ddp = self.reducer = None
        if self.compile:
            self.reducer = gradient_reducer(model)
        else:
            self.ddp = DistributedDataParallel(model)
        self._micro_batches, self._unsynced = 0, False  # since the last update; whether the last one ran unsynced

    def train_step(self, batch):
        if self.ddp is None:  # compiled: the update reduces
            return self._forward_backward(self.model, batch)
        self._micro_batches += 1
        self._unsynced = self._micro_batches < self.accumulate_steps
        with self.ddp.no_sync() if self._unsynced else contextlib.nullcontext():
            return self._forward_backward(self.ddp, batch)

    def _forward_backward(self, model, batch):
        inputs, targets = _unpack(batch)
        outputs = model(*inputs)
        loss = self.loss_fn(outputs, targets)
        self.backward(loss / self.accumulate_steps if self.accumulate_steps > 1 else loss)
        return loss, outputs, targets

    def _optimizer_step(self, callbacks, logs):
        if self.reducer is not None:
            self.reducer.reduce_all()
        elif self._unsynced:  # an epoch's last, partial accumulation ended under no_sync
            self.ddp.reducer.reduce_all()
        self._micro_batches, self._unsynced = 0, False
        super()._optimizer_step(callbacks, logs)
        if self.reducer is not None:
            self.reducer.broadcast_buffers()

    def train_epoch(self, loader, callbacks=None, progress=None, **kwargs):
        sampler = getattr(loader, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(self.epoch)
        logs = super().train_epoch(loader, callbacks, progress, **kwargs)
        # rank 0's buffers (batch norm's running statistics) everywhere, as DDP's next forward would send them:
        # every rank then validates (and decides on EarlyStopping, checkpoints) with the same model
        (self.reducer or self.ddp.reducer).broadcast_buffers()
        names = list(logs)
        values = Tensor._wrap(np.array([logs[k] for k in names], np.float64))
        dist.all_reduce(values, op=dist.ReduceOp.AVG)  # every rank logs (and decides on) the same numbers
        return dict(zip(names, values._data.tolist()))

    def save_checkpoint(self, path, **extra):
        if dist.get_rank() == 0:
            return super().save_checkpoint(path, **extra)
        return None
