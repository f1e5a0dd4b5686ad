"""DistributedDataParallel (torch.nn.parallel.DistributedDataParallel): data parallelism across the processes of
a process group (ember.distributed, over MPI).

At wrap time the parameters and buffers of rank 0 are broadcast to every rank. During backward, each parameter's
post-accumulate-grad hook marks it ready; when every parameter of a bucket is ready, the bucket's gradients are
copied into one flat buffer, divided by the world size and all-reduced without blocking (MPI Iallreduce), so
communication overlaps the rest of the backward. When every rank of the group is on one machine, the buckets live
in an MPI shared-memory window instead, and the last hook adds every rank's part straight into the .grad arrays
(``_SharedBuckets``: on a machine whose cores all run ranks there is nothing for communication to overlap with,
and this makes one pass over the data where an all-reduce's messages make several). Buckets hold the parameters
in reverse order (the order in which a backward usually produces their gradients), up to ``bucket_cap_mb`` each
(the first one 1 MB, as PyTorch's), and start in bucket order on every rank, which keeps the ranks' collectives
in the same order. The hook of the last parameter waits for all buckets and writes the averaged gradients into
``.grad``.
"""
import contextlib
import zlib

import numpy as np

from ... import distributed as dist
from ...autograd.grad_mode import is_grad_enabled
from ...autograd.graph import increment_version
from ...distributed.process_group import _resolve
from ...distributed.work import Work
from ...tensor import Tensor
from ..module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # torch.distributed._DEFAULT_FIRST_BUCKET_BYTES
_SHARED_MEMORY = True  # reduce in a shared-memory window when every rank is on this machine (False: Iallreduce)
# up to this many ranks the shared buckets are reduced one-shot (each rank reads every rank's part and writes its
# .grad: n + 1 passes over the gradients), beyond it two-shot (about 4.5 passes, copy to .grad included)
_ONE_SHOT_RANKS = 3


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training: every rank runs the module on its own part of the batch, and
    backward leaves on every rank the gradients averaged over the ranks (as one process would get on the whole
    batch when the loss is a mean). State dict keys start with ``module.``, as PyTorch's.

    Args (PyTorch's): module; device_ids, output_device (None for CPU modules); broadcast_buffers (send rank 0's
    buffers, e.g. batch-norm statistics, at every forward); process_group (default: the world); bucket_cap_mb
    (25); find_unused_parameters (look through each forward's graph for parameters that get no gradient, so that
    their buckets still start); gradient_as_bucket_view (.grad becomes a view into the bucket, saving a copy);
    static_graph (accepted, no effect). ``no_sync()`` accumulates gradients locally (no communication); so does
    ``require_backward_grad_sync = False``.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **kwargs):
        super().__init__()
        if device_ids is not None or output_device is not None:
            devices = sorted({str(p.device) for p in module.parameters()})
            if all(d == "cpu" for d in devices):
                raise ValueError(
                    "DistributedDataParallel device_ids and output_device arguments only work with single-device/"
                    f"multiple-device GPU modules or CPU modules, but got device_ids {device_ids}, output_device "
                    f"{output_device}, and module parameters {devices}.")
        pg, named = _group_and_parameters(module, process_group)
        self.module = module
        self.device_ids, self.output_device, self.dim = None, None, dim
        self.process_group, self.broadcast_buffers = pg, broadcast_buffers
        self.find_unused_parameters, self.gradient_as_bucket_view = find_unused_parameters, gradient_as_bucket_view
        self.static_graph = static_graph
        self.bucket_bytes_cap = _cap_bytes(bucket_cap_mb)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.reducer = _synced_reducer(module, pg, named, self.bucket_bytes_cap, find_unused_parameters,
                                       gradient_as_bucket_view)
        self.reducer.register_hooks()

    def forward(self, *inputs, **kwargs):
        self.reducer.check_finished()
        if self.broadcast_buffers and self.require_forward_param_sync:
            buffers = list(self.module.buffers())
            if buffers and self.process_group.size() > 1:
                _broadcast_coalesced(self.process_group, buffers)
        out = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare(out)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates gradients on each rank without communicating; the first backward after it
        all-reduces the accumulated gradients."""
        old, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old


def gradient_reducer(module, process_group=None, bucket_cap_mb=None):
    """DistributedDataParallel's work for a backward that runs without its hooks (a compiled graph's): check that
    every rank has the same module, broadcast rank 0's parameters and buffers now, and return a reducer whose
    ``reduce_all()`` averages every parameter's ``.grad`` over the group, in DDP's buckets (shared memory on one
    machine), and whose ``broadcast_buffers()`` sends rank 0's buffers again."""
    pg, named = _group_and_parameters(module, process_group)
    return _synced_reducer(module, pg, named, _cap_bytes(bucket_cap_mb), False, False)


def _synced_reducer(module, pg, named, cap, find_unused, as_view):
    """What every rank does when DDP starts: check that every rank has the same module, broadcast rank 0's
    parameters and buffers, and make the reducer of the parameters named."""
    _check_same_model(pg, named)
    buffers = list(module.buffers())
    _broadcast_coalesced(pg, [p for _, p in named] + buffers)
    return _Reducer(named, pg, cap, find_unused, as_view, buffers)


def _cap_bytes(bucket_cap_mb):
    """A bucket's size limit in bytes: bucket_cap_mb MB, 25 by default (PyTorch's)."""
    return int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)


def _group_and_parameters(module, process_group):
    pg = _resolve(process_group)
    if pg is None:
        raise ValueError("DistributedDataParallel: this rank is not a member of process_group")
    named = _unique_named_parameters(module)
    if not named:
        raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter that "
                           "requires a gradient.")
    return pg, named


def _unique_named_parameters(module):
    seen, named = set(), []
    for name, p in module.named_parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            named.append((name, p))
    return named


def _check_same_model(pg, named):
    """Every rank must wrap the same model: compare the parameter count and a checksum of names and shapes."""
    if pg.size() == 1:
        return
    text = ";".join(f"{n}{tuple(p.shape)}{p.dtype}" for n, p in named)
    mine = np.array([len(named), sum(p.numel() for _, p in named), zlib.crc32(text.encode())], np.int64)
    every = [Tensor._wrap(np.zeros(3, np.int64)) for _ in range(pg.size())]
    dist.all_gather(every, Tensor._wrap(mine), group=pg)
    for rank, t in enumerate(every):
        if not np.array_equal(t._data, mine):
            n, numel, _ = t._data.tolist()
            raise RuntimeError(
                f"DistributedDataParallel: rank {pg.ranks[rank]} wraps a different model than rank "
                f"{pg.ranks[pg.rank()]} ({n} parameters, {numel} elements there; {len(named)} parameters, "
                f"{int(mine[1])} elements here, or other names or shapes): every rank must build the same model")


def _broadcast_coalesced(pg, tensors):
    """Copy rank 0's values of tensors to every rank, one broadcast per dtype."""
    if pg.size() == 1:
        return
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault(t._data.dtype, []).append(t)
    for group in by_dtype.values():
        flat = Tensor._wrap(np.concatenate([t._data.ravel() for t in group]))
        dist.broadcast(flat, src=pg.ranks[0], group=pg)
        offset = 0
        for t in group:
            t._data[...] = flat._data[offset:offset + t._data.size].reshape(t._data.shape)
            offset += t._data.size
            increment_version(t)


class _Bucket:
    """Parameters whose gradients travel in one all-reduce: a flat buffer and each parameter's view into it (a
    parameter alone in its bucket is reduced in its own .grad instead, sparing two copies)."""

    def __init__(self, index, params, dtype):
        self.index, self.params, self.dtype = index, params, dtype
        self.flat = self.views = None  # made when first needed
        self.pending = len(params)
        self.work = None
        self.in_grad = None  # the .grad array reduced in place, this step

    def size(self):
        return sum(p._data.size for p in self.params)

    def buffer(self, flat=None):
        """(the flat buffer, each parameter's view into it); made when first needed, or given (flat)."""
        if self.flat is None or flat is not None:
            self.flat = np.empty(self.size(), self.dtype) if flat is None else flat
            self.views, offset = [], 0
            for p in self.params:
                self.views.append(self.flat[offset:offset + p._data.size].reshape(p._data.shape))
                offset += p._data.size
        return self.flat, self.views

    def own_grad(self):
        """The .grad array of a lone parameter when the reduction can run in it (contiguous, writable), else None."""
        if len(self.params) != 1 or self.params[0].grad is None:
            return None
        g = self.params[0].grad
        a = g._data
        if g.requires_grad or not (a.flags.c_contiguous and a.flags.writeable) or a.shape != self.params[0].shape:
            return None
        return a


class _Reducer:
    """The gradient all-reduce of DistributedDataParallel (PyTorch's Reducer): buckets, readiness, launch, finish."""

    def __init__(self, named, pg, cap, find_unused, as_view, buffers):
        self.pg, self.find_unused, self.as_view, self.buffers = pg, find_unused, as_view, buffers
        self.names = {id(p): n for n, p in named}
        self.buckets = _make_buckets([p for _, p in reversed(named)], cap)
        self.where = {id(p): (b, i) for b in self.buckets for i, p in enumerate(b.params)}
        self.params = [p for _, p in named]
        self.ready, self.next = set(), 0
        self.expecting = self.started = False  # a backward is expected / has begun delivering gradients
        self.used_work = self.used = None
        self.shared = _SharedBuckets.make(pg, self.buckets) if _SHARED_MEMORY else None

    def register_hooks(self):
        """Each parameter's post-accumulate-grad hook marks it ready (DistributedDataParallel's backward)."""
        for p in self.params:
            p.register_post_accumulate_grad_hook(self._on_grad)

    def reduce_all(self):
        """Average every parameter's .grad over the group now, bucket by bucket in order: for a backward that ran
        without the hooks. A parameter without a .grad on this rank gets the others'; one without a .grad on every
        rank keeps none (as with find_unused_parameters: an optimizer then skips it)."""
        self._reset()
        self._share_used(np.array([p.grad is not None for p in self.params], np.uint8), "have gradients")
        for p in self.params:
            self._mark(p)

    def broadcast_buffers(self):
        """Rank 0's values of the module's buffers (batch norm's running statistics) on every rank."""
        if self.buffers:
            _broadcast_coalesced(self.pg, self.buffers)

    def check_finished(self):
        """A new forward while the last backward left buckets unreduced: PyTorch's error, naming the parameters.
        (A forward that no backward followed is fine.)"""
        if not (self.expecting and self.started):
            self.expecting = False
            return
        missing = [self.names[id(p)] for p in self.params if id(p) not in self.ready]
        self.expecting = False
        raise RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new one. This error "
            "indicates that your module has parameters that were not used in producing loss. You can enable unused "
            "parameter detection by passing the keyword argument `find_unused_parameters=True` to "
            "`ember.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
            "participate in calculating loss. Parameters that did not receive a gradient on rank "
            f"{self.pg.ranks[self.pg.rank()]}: {', '.join(missing)}")

    def prepare(self, outputs):
        """Called after each forward that a backward will follow: reset readiness; with find_unused_parameters,
        mark the parameters the forward's graph does not reach as ready (and share which ones each rank used)."""
        self._reset()
        if not self.find_unused:
            return
        reached = _reached_leaves(outputs)
        used = np.array([id(p) in reached for p in self.params], np.uint8)
        self._share_used(used, "were used")
        for p, u in zip(self.params, used.tolist()):
            if not u:
                self._mark(p)

    def _share_used(self, used, what):
        """Start the exchange that makes used (a flag per parameter) every rank's maximum (read in _finish); an
        earlier one (a forward that no backward followed) is done by now."""
        if self.used_work is not None:
            self.used_work.wait()
        self.used = used
        self.used_work = Work([self.pg.comm.Iallreduce(self.pg._mpi.IN_PLACE, used, self.pg._mpi.MAX)], self.pg,
                              f"DistributedDataParallel (which parameters {what})")

    def _reset(self):
        """A backward expected: no parameter ready, every bucket waiting for all of its parameters."""
        self.expecting, self.started, self.ready, self.next = True, False, set(), 0
        for b in self.buckets:
            b.pending, b.work = len(b.params), None

    def _on_grad(self, p):
        if self.expecting:
            if id(p) in self.ready:
                raise RuntimeError(
                    f"DistributedDataParallel: parameter {self.names[id(p)]} got its gradient twice in one backward "
                    "(a second backward through the same forward, or a parameter reused across forwards): call "
                    "the wrapped module once per backward, or accumulate inside no_sync()")
            self.started = True
            self._mark(p)

    def _mark(self, p):
        self.ready.add(id(p))
        b, _ = self.where[id(p)]
        b.pending -= 1
        buckets = self.buckets
        while self.next < len(buckets) and buckets[self.next].pending == 0:
            self._launch(buckets[self.next])
            self.next += 1
        if self.shared is None:
            for bucket in buckets[:self.next]:  # let MPI move the started reductions along
                bucket.work.is_completed()
        if self.next == len(buckets):
            self._finish()

    def _launch(self, b):
        scale = 1.0 / self.pg.size()  # averaged, as PyTorch divides by the world size before the all-reduce
        b.in_grad = None if self.as_view or self.shared is not None else b.own_grad()
        if b.in_grad is not None:
            buffer = b.in_grad
            buffer *= scale
        else:
            buffer, views = b.buffer()
            for p, view in zip(b.params, views):
                g = p.grad
                if g is None:
                    view.fill(0)
                else:
                    np.multiply(g._data, scale, out=view)  # copies into the bucket and scales in one pass
        if self.shared is not None:
            return  # reduced in _finish
        req = self.pg.comm.Iallreduce(self.pg._mpi.IN_PLACE, buffer, self.pg._mpi.SUM)
        b.work = Work([req], self.pg, "DistributedDataParallel gradient all-reduce")

    def _finish(self):
        """Wait for every bucket (against the process group's timeout) and write the averaged gradients."""
        self.expecting = False
        if self.used_work is not None:
            self.used_work.wait()
            self.used_work = None
        unused = set() if self.used is None else {id(p) for p, u in zip(self.params, self.used.tolist()) if not u}
        self.used = None  # (this backward's: the next one's comes with its forward, or from reduce_all)
        if self.shared is not None and not self.as_view and self.pg.size() <= _ONE_SHOT_RANKS:
            self.shared.reduce_into_grads(self.buckets, unused)
            return
        if self.shared is not None:
            self.shared.reduce()
        for b in self.buckets:
            if b.work is not None:
                b.work.wait()
            if b.in_grad is not None:
                increment_version(b.params[0].grad)
                continue
            for p, view in zip(b.params, b.views):  # the bucket's flat buffer was used: b.buffer() made views
                if id(p) in unused:
                    continue  # no rank used it: its .grad stays as it was, as in PyTorch
                g = p.grad
                if g is not None and g._data is view:
                    increment_version(g)
                elif self.as_view or g is None:
                    p.grad = Tensor._wrap(view if self.as_view else view.copy())
                else:
                    np.copyto(g._data, view)
                    increment_version(g)


class _SharedBuckets:
    """The buckets' flat buffers in an MPI shared-memory window (MPI_Win_allocate_shared), where every rank of the
    group is on one machine. Each rank copies its scaled gradients into its own part during backward; then, once
    every rank has (a barrier), the averaged gradients are read from all ranks' parts:

    - up to _ONE_SHOT_RANKS ranks, each rank adds the parts straight into its .grad arrays ("one-shot": no
      second pass; the window holds two sets of parts used by turns, so a rank already copying the next step's
      gradients never writes what another is still reading);
    - beyond (and for gradient_as_bucket_view, whose .grad are views of the parts), each rank sums one slice of
      every bucket over all parts and writes the sum into all of them, then waits again ("two-shot", as NCCL's
      and PyTorch's intra-node all-reduce).

    The barriers are non-blocking MPI calls polled against the process group's timeout, as every collective."""

    def __init__(self, pg, buckets, win, parts):
        self.pg, self.win, self.parts, self.turn = pg, win, parts, 0
        self._point(buckets)

    @classmethod
    def make(cls, pg, buckets):
        """The shared buckets, or None when the group has one rank or spans machines (MPI's Iallreduce then)."""
        mpi, comm = pg._mpi, pg.comm
        if pg.size() == 1:
            return None
        node = comm.Split_type(mpi.COMM_TYPE_SHARED)
        one_machine = node.Get_size() == pg.size()
        node.Free()
        if not one_machine:
            return None
        offsets, total = [], 0
        for _ in range(2):  # two sets of parts, used by turns
            for b in buckets:
                total = -(-total // 64) * 64  # each bucket 64-byte aligned
                offsets.append(total)
                total += b.size() * np.dtype(b.dtype).itemsize
        try:
            win = mpi.Win.Allocate_shared(total, 1, comm=comm)
        except mpi.Exception:  # no shared-memory windows in this MPI (a collective call: the ranks fail together)
            return None
        memory = [np.frombuffer(win.Shared_query(r)[0], np.uint8, total) for r in range(pg.size())]
        win.Lock_all(mpi.MODE_NOCHECK)
        pg._windows.append(win)
        parts = [[m[o:o + b.size() * np.dtype(b.dtype).itemsize].view(b.dtype) for m in memory]
                 for b, o in zip(buckets + buckets, offsets)]
        return cls(pg, buckets, win, [parts[:len(buckets)], parts[len(buckets):]])

    def _point(self, buckets):
        """Each bucket's flat buffer: this rank's part in the parts of this turn."""
        for b, mine in zip(buckets, self.parts[self.turn]):
            b.buffer(mine[self.pg.rank()])

    def reduce_into_grads(self, buckets, unused):
        """One-shot: each parameter's .grad (but those of unused, which no rank used) becomes the sum of all ranks'
        parts of it; the next step copies into the other turn's parts."""
        self._barrier()
        for b, parts in zip(buckets, self.parts[self.turn]):
            offset = 0
            for p in b.params:
                n = p._data.size
                if id(p) not in unused:
                    _sum_into(p, [part[offset:offset + n] for part in parts])
                offset += n
        self.turn ^= 1
        self._point(buckets)

    def reduce(self):
        """Two-shot: every rank's part of every bucket becomes the sum of all ranks' parts."""
        self._barrier()
        rank, size = self.pg.rank(), self.pg.size()
        for parts in self.parts[self.turn]:
            per = -(-parts[0].size // size)
            mine = slice(rank * per, (rank + 1) * per)
            total = parts[rank][mine]  # the others' slices added into this rank's, then copied back to theirs
            others = [part[mine] for part in parts[:rank] + parts[rank + 1:]]
            for other in others:
                total += other
            for other in others:
                other[...] = total
        self._barrier()

    def _barrier(self):
        self.win.Sync()  # this rank's writes visible to the others (MPI's shared-memory model)
        Work([self.pg.comm.Ibarrier()], self.pg, "DistributedDataParallel gradient all-reduce").wait()
        self.win.Sync()


def _sum_into(p, parts):
    """p.grad = the sum of the flat arrays parts: added in its own array where it has one that can take it."""
    g = p.grad
    a = None if g is None or g.requires_grad else g._data
    direct = a is not None and a.flags.c_contiguous and a.flags.writeable and a.shape == p.shape \
        and a.dtype == parts[0].dtype
    out = np.add(parts[0], parts[1], out=a.reshape(-1) if direct else None)
    for part in parts[2:]:
        out += part
    if a is None:
        p.grad = Tensor._wrap(out.reshape(p.shape))
        return
    if not direct:
        np.copyto(a, out.reshape(p.shape))
    increment_version(g)


def _make_buckets(params, cap):
    """Parameters (in the order gradients are expected) cut into buckets of one dtype, at most cap bytes each
    (the first at most 1 MB, so that communication starts early). A parameter of 1 MB or more has a bucket of its
    own (reduced in its .grad, without copies)."""
    buckets, current, size, limit = [], [], 0, min(cap, _FIRST_BUCKET_BYTES)
    for p in params:
        nbytes = p._data.nbytes
        alone = nbytes >= _FIRST_BUCKET_BYTES
        if current and (alone or size + nbytes > limit or p._data.dtype != current[0]._data.dtype
                        or current[0]._data.nbytes >= _FIRST_BUCKET_BYTES):
            buckets.append(_Bucket(len(buckets), current, current[0]._data.dtype))
            current, size, limit = [], 0, cap
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(len(buckets), current, current[0]._data.dtype))
    return buckets


def _reached_leaves(outputs):
    """The ids of the leaves the autograd graph of the tensors in outputs (nested lists, tuples, dicts) reaches."""
    stack, seen, leaves = [], set(), set()

    def collect(x):
        if isinstance(x, Tensor):
            if x.grad_fn is not None:
                stack.append(x.grad_fn)
            elif x.requires_grad:
                leaves.add(id(x))
        elif isinstance(x, (list, tuple)):
            for y in x:
                collect(y)
        elif isinstance(x, dict):
            for y in x.values():
                collect(y)

    collect(outputs)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for e in node.edges or ():
            if e is None:
                continue
            if e.__class__ is tuple:
                stack.append(e[0])
            else:
                leaves.add(id(e))
    return leaves
