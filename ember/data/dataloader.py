"""DataLoader: batches from a dataset, shuffled with ember's generator, optionally loaded by worker processes."""
import multiprocessing as mp
import queue
import random
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .. import dtypes
from ..ops.join import stack
from ..ops.random import Generator, default_generator, manual_seed
from ..tensor import Tensor
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo"]

# With timeout=0 a loader waits for its workers as long as they take (PyTorch's semantics: a slow dataset is never
# cut off), but a batch awaited this long gets a warning naming the worker and the sample it is on.
STALL_WARNING_SECONDS = 300.0
_POLL_SECONDS = 5.0  # how often a waiting loader checks that its workers are alive


def default_collate(batch: list) -> Any:
    """Stack a list of samples into a batch: the DataLoader's collate_fn unless one is given.

    Tensors and NumPy arrays are stacked along a new first dimension (they must have the same shape: RuntimeError
    otherwise); Python numbers become a tensor (float64 for floats, int64 for ints, bool for bools), NumPy float
    scalars one of their dtype, NumPy integer scalars int64; strings and bytes stay a list; dicts, named tuples,
    tuples and lists are collated field by field (a tuple becomes a list, as in PyTorch). Anything else raises
    TypeError.

    Args:
        batch (list): the samples, all of the same structure.

    Returns:
        Any: the batch, of the samples' structure with a batch dimension first.

    PyTorch:
        ``torch.utils.data.default_collate``; same rules, but NumPy integer scalars of another width than 64 bits
        become int64 (PyTorch keeps their dtype).

    Example:
        >>> batch = ember.data.default_collate([(ember.zeros(2), 1), (ember.ones(2), 2)])
        >>> batch
        [tensor([[0., 0.],
                [1., 1.]]), tensor([1, 2])]
        >>> ember.data.default_collate([{"x": 1.5}, {"x": 2.5}])
        {'x': tensor([1.5000, 2.5000], dtype=ember.float64)}
    """
    first = batch[0]
    if isinstance(first, Tensor):
        shapes = {tuple(t.shape) for t in batch}
        if len(shapes) > 1:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got {sorted(shapes)}")
        return Tensor._wrap(np.stack([t._data for t in batch])) if first._data.__class__ is np.ndarray else stack(batch)
    if isinstance(first, np.ndarray):
        return Tensor._wrap(np.stack(batch))
    if isinstance(first, (bool, np.bool_)):
        return Tensor._wrap(np.array(batch, dtype=np.bool_))
    if isinstance(first, (int, np.integer)):
        return Tensor._wrap(np.array(batch, dtype=np.int64))
    if isinstance(first, (float, np.floating)):
        return Tensor._wrap(np.array(batch, dtype=dtypes.float64.np if isinstance(first, float) else None))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in batch]) for k in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*(default_collate(list(f)) for f in zip(*batch)))
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        return [default_collate(list(f)) for f in zip(*batch)]  # tuples become lists, as in PyTorch
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found "
                    f"{type(first).__name__}")


def default_convert(data: Any) -> Any:
    """Convert NumPy arrays to tensors, inside dicts, named tuples, tuples (which become lists, as in PyTorch)
    and lists too, without batching (the DataLoader's conversion when batch_size is None).

    Args:
        data (Any): a sample.

    Returns:
        Any: the sample with its arrays as tensors (the rest unchanged).

    PyTorch:
        ``torch.utils.data.default_convert``; same semantics.

    Example:
        >>> ember.data.default_convert({"x": np.zeros(2), "name": "a"})
        {'x': tensor([0., 0.], dtype=ember.float64), 'name': 'a'}
    """
    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO":
        return Tensor._wrap(data)
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (tuple, list)):  # a tuple becomes a list, as in PyTorch
        return [default_convert(v) for v in data]
    return data


class WorkerInfo:
    """What a DataLoader worker process knows about itself, as get_worker_info() returns it in the worker.

    Args:
        id (int): the worker's number, 0 to num_workers - 1.
        num_workers (int): the loader's number of workers.
        seed (int): the loader's base seed + id, with which ember's generator and Python's random are seeded.
        dataset (Dataset): the worker's copy of the dataset.

    PyTorch:
        ``torch.utils.data._utils.worker.WorkerInfo`` (what ``torch.utils.data.get_worker_info`` returns); same
        attributes.

    Example:
        >>> info = ember.data.WorkerInfo(id=0, num_workers=2, seed=7, dataset=range(4))
        >>> info.id, info.num_workers, info.seed
        (0, 2, 7)
    """

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset


_worker_info = None


def get_worker_info() -> "WorkerInfo | None":
    """The WorkerInfo of this DataLoader worker process, or None in the main process.

    An IterableDataset calls it in ``__iter__`` to give each worker its part of the stream.

    Returns:
        WorkerInfo or None: this worker's id, num_workers, seed and dataset; None outside a worker.

    PyTorch:
        ``torch.utils.data.get_worker_info``; same semantics.

    Example:
        >>> ember.data.get_worker_info() is None  # in the main process
        True
    """
    return _worker_info


def _fetch(dataset, indices, collate_fn, auto_collation, progress=None):
    """One batch; ``progress`` (a worker's shared [batch, has sample, sample]) gets the index of each sample as it is
    read, so that the main process can say which sample a stuck worker is on."""
    if not auto_collation:
        if progress is not None:
            _mark(progress, indices)
        return collate_fn(dataset[indices])
    getter = getattr(dataset, "get_batch", None)
    if getter is not None and collate_fn is default_collate:
        return getter(indices)
    if progress is None:
        return collate_fn([dataset[i] for i in indices])
    samples = []
    for i in indices:
        _mark(progress, i)
        samples.append(dataset[i])
    return collate_fn(samples)


def _mark(progress, index):
    """Record in a worker's progress the sample index it reads (any key works as an index: only ints are shown)."""
    known = isinstance(index, (int, np.integer)) and -2 ** 63 <= index < 2 ** 63
    progress[1], progress[2] = known, index if known else 0


def _worker_setup(dataset, worker_id, num_workers, base_seed, init_fn):
    """Seed a worker as PyTorch does: ember's generator and Python's random with base_seed + worker_id, NumPy's
    global generator with a state mixed from both (so that workers' NumPy streams do not overlap)."""
    global _worker_info
    seed = base_seed + worker_id
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    manual_seed(seed)
    random.seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32]).generate_state(4))
    if init_fn is not None:
        init_fn(worker_id)


def _map_worker(dataset, index_q, result_q, collate_fn, auto_collation, worker_id, num_workers, base_seed, init_fn,
                progress):
    try:
        _worker_setup(dataset, worker_id, num_workers, base_seed, init_fn)
    except Exception:
        result_q.put((-1, None, traceback.format_exc()))
        return
    while True:
        task = index_q.get()
        if task is None:
            return
        n, indices = task
        progress[0], progress[1] = n, 0
        try:
            result_q.put((n, _fetch(dataset, indices, collate_fn, auto_collation, progress), None))
        except Exception:
            result_q.put((n, None, traceback.format_exc()))


def _iter_worker(dataset, result_q, collate_fn, batch_size, drop_last, worker_id, num_workers, base_seed, init_fn):
    try:
        _worker_setup(dataset, worker_id, num_workers, base_seed, init_fn)
        for batch in _iterable_batches(iter(dataset), batch_size, drop_last, collate_fn):
            result_q.put((batch, None))
    except Exception:
        result_q.put((None, traceback.format_exc()))
    result_q.put(_DONE)


_DONE = "__ember_worker_done__"


def _iterable_batches(it, batch_size, drop_last, collate_fn):
    if batch_size is None:
        for sample in it:
            yield collate_fn(sample)
        return
    batch = []
    for sample in it:
        batch.append(sample)
        if len(batch) == batch_size:
            yield collate_fn(batch)
            batch = []
    if batch and not drop_last:
        yield collate_fn(batch)


class DataLoader:
    """Iterate over a dataset in batches, in order or shuffled, in this process or in worker processes.

    Each pass (``iter(loader)``) gives the batches of one epoch; ``len(loader)`` is their number. For a map-style
    dataset, a sampler orders the indices (SequentialSampler, or RandomSampler with ``shuffle``), a BatchSampler
    groups them, and collate_fn makes each group of samples a batch. An IterableDataset is iterated in order.

    A worker that never returns: with ``timeout`` > 0, waiting longer than that many seconds for a batch from the
    workers raises a RuntimeError naming the worker, its pid and the sample (and batch) it is on. With the default
    ``timeout=0`` the loader waits as long as the workers take, as PyTorch, so that a slow dataset is never cut off;
    after ``STALL_WARNING_SECONDS`` (300) on one batch it warns (a RuntimeWarning naming the same), once per batch.
    A worker that dies raises at once. Without workers a stuck ``__getitem__`` runs in the main process, where
    Ctrl-C shows where it is.

    Args:
        dataset (Dataset): the map-style or iterable dataset.
        batch_size (int, optional): the samples per batch; None: no batching, each sample comes alone (through
            collate_fn if given, else with arrays made tensors). Default: 1.
        shuffle (bool, optional): a new random order at each pass (RandomSampler); not with sampler or an
            IterableDataset (ValueError). Default: False.
        sampler (Sampler or iterable, optional): the order of the indices. Default: None.
        batch_sampler (Sampler or iterable of lists, optional): yields each batch's indices; excludes batch_size,
            shuffle, sampler and drop_last (ValueError). Default: None.
        num_workers (int): worker processes loading batches ahead (forked where possible); 0: load in this
            process. Default: 0.
        collate_fn (callable, optional): makes a batch from a list of samples. Default: default_collate.
        pin_memory (bool): accepted and ignored (no GPU staging). Default: False.
        drop_last (bool): drop the last batch when it is incomplete. Default: False.
        timeout (float): seconds to wait for a batch from the workers before a RuntimeError; 0: no limit (see
            above). Default: 0.
        worker_init_fn (callable, optional): called with the worker's id in each worker, after its seeding.
            Default: None.
        prefetch_factor (int, optional): batches loaded ahead per worker; None: 2. Default: None.
        persistent_workers (bool): accepted and ignored: the workers start again at each pass. Default: False.
        generator (Generator, optional): the generator of the shuffle and of the workers' base seed; None:
            ember's default generator. Default: None.

    PyTorch:
        ``torch.utils.data.DataLoader``; same semantics, without ``multiprocessing_context``,
        ``pin_memory_device`` and ``in_order``, and with ``prefetch_factor``, ``persistent_workers`` and
        ``generator`` as positional-or-keyword arguments in another order (PyTorch's generator comes before
        prefetch_factor, which is keyword-only): pass them by keyword.

    Example:
        >>> data = ember.data.TensorDataset(ember.arange(10.0), ember.arange(10))
        >>> xb, yb = next(iter(ember.data.DataLoader(data, batch_size=4)))
        >>> xb, yb
        (tensor([0., 1., 2., 3.]), tensor([0, 1, 2, 3]))
        >>> len(ember.data.DataLoader(data, batch_size=4))
        3
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = False,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable[list] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[Any], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 generator: Generator | None = None) -> None:
        if num_workers < 0:
            raise ValueError("DataLoader: num_workers option should be non-negative")
        if timeout < 0:
            raise ValueError("DataLoader: timeout option should be non-negative")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset, self.num_workers, self.timeout = dataset, num_workers, timeout or None
        self.worker_init_fn, self.generator, self.drop_last = worker_init_fn, generator, drop_last
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.batch_size = batch_size if batch_sampler is None else None
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: IterableDataset does not support shuffle, sampler or batch_sampler")
            self.sampler = self.batch_sampler = None
        else:
            if sampler is None:
                sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
            if batch_sampler is None and batch_size is not None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
            self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self.batch_size is not None or batch_sampler is not None else _convert)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def _index_batches(self):
        if self.batch_sampler is not None:
            return iter(self.batch_sampler)
        return iter(self.sampler)

    def __iter__(self) -> Iterator[Any]:
        """A pass over the data. As in PyTorch, starting it draws the workers' base seed from the loader's
        generator (or ember's default one) whatever num_workers is, and the sampler, iterated in this process
        only, draws after it: the order of the samples does not depend on num_workers."""
        base_seed = int((self.generator or default_generator).rng.integers(0, 2 ** 62))
        auto = self.batch_sampler is not None
        if self._iterable:
            if self.num_workers == 0:
                return _iterable_batches(iter(self.dataset), self.batch_size, self.drop_last, self.collate_fn)
            return self._iter_workers(base_seed)
        if self.num_workers == 0:
            return (_fetch(self.dataset, idx, self.collate_fn, auto) for idx in self._index_batches())
        return self._map_workers(auto, base_seed)

    def _context(self):
        return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")

    def _map_workers(self, auto, base_seed):
        ctx = self._context()
        result_q = ctx.Queue()
        index_qs = [ctx.Queue() for _ in range(self.num_workers)]
        progress = [ctx.Array("q", [-1, 0, 0], lock=False) for _ in range(self.num_workers)]  # see _fetch
        workers = [ctx.Process(target=_map_worker, daemon=True,
                               args=(self.dataset, index_qs[w], result_q, self.collate_fn, auto, w, self.num_workers,
                                     base_seed, self.worker_init_fn, progress[w])) for w in range(self.num_workers)]
        for p in workers:
            p.start()
        try:
            batches = self._index_batches()
            sent = received = 0
            pending, in_flight = {}, {}

            def stuck():  # the batch awaited is `received`; its worker has finished its earlier ones
                w = received % self.num_workers
                batch, has_sample, sample = progress[w][:]
                on = f"sample {sample} of " if batch == received and has_sample else ""
                return (f"worker {w} (pid {workers[w].pid}) is on {on}batch {received} "
                        f"(indices {_short(in_flight[received])})")

            def send():
                nonlocal sent
                try:
                    idx = next(batches)
                except StopIteration:
                    return False
                index_qs[sent % self.num_workers].put((sent, idx))
                in_flight[sent] = idx
                sent += 1
                return True

            for _ in range(self.prefetch_factor * self.num_workers):
                if not send():
                    break
            while received < sent:
                while received not in pending:
                    n, data, err = self._get(result_q, workers, stuck)
                    if err is not None:
                        raise RuntimeError(f"DataLoader worker raised an exception:\n{err}")
                    pending[n] = data
                data = pending.pop(received)
                del in_flight[received]
                received += 1
                send()
                yield data
        finally:
            _shutdown(workers, index_qs)

    def _get(self, q, workers, stuck):
        """The next item from the workers' queue q: raises past the timeout (stuck() says where the workers are) or
        when a worker died, warns once when no timeout is set and the wait is long."""
        start, warned = time.monotonic(), False
        while True:
            waited = time.monotonic() - start
            wait = _POLL_SECONDS
            if self.timeout:
                wait = min(wait, self.timeout - waited)
            if not warned:
                wait = min(wait, STALL_WARNING_SECONDS - waited)
            try:
                return q.get(timeout=max(wait, 0.001))
            except queue.Empty:
                waited = time.monotonic() - start
                if self.timeout and waited >= self.timeout:
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds: {stuck()}") from None
                dead = [p.pid for p in workers if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"DataLoader worker (pid(s) {dead}) exited unexpectedly") from None
                if not warned and waited >= STALL_WARNING_SECONDS:
                    warnings.warn(f"DataLoader: no batch for {waited:.0f} seconds: {stuck()}; still waiting "
                                  f"(timeout=0). Pass DataLoader(timeout=seconds) to raise instead.",
                                  RuntimeWarning, stacklevel=2)
                    warned = True

    def _iter_workers(self, base_seed):
        ctx = self._context()
        qs = [ctx.Queue(maxsize=self.prefetch_factor) for _ in range(self.num_workers)]
        workers = [ctx.Process(target=_iter_worker, daemon=True,
                               args=(self.dataset, qs[w], self.collate_fn, self.batch_size, self.drop_last, w,
                                     self.num_workers, base_seed, self.worker_init_fn))
                   for w in range(self.num_workers)]
        for p in workers:
            p.start()
        try:
            active = list(range(self.num_workers))
            produced = [0] * self.num_workers
            while active:
                for w in list(active):
                    item = self._get(qs[w], [workers[w]],
                                     lambda: f"worker {w} (pid {workers[w].pid}) is on its batch {produced[w]} "
                                             f"(counting from 0)")
                    if isinstance(item, str) and item == _DONE:
                        active.remove(w)
                        continue
                    data, err = item
                    if err is not None:
                        raise RuntimeError(f"DataLoader worker {w} raised an exception:\n{err}")
                    produced[w] += 1
                    yield data
        finally:
            _shutdown(workers, [])


def _short(indices, n=8):
    """A batch's indices for a message, the first n of a long batch."""
    if not isinstance(indices, (list, tuple)) or len(indices) <= n:
        return list(indices) if isinstance(indices, tuple) else indices
    return f"[{', '.join(map(str, indices[:n]))}, ... {len(indices)} in all]"


def _convert(sample):
    """Collate for batch_size=None: arrays become tensors, everything else passes through."""
    if isinstance(sample, np.ndarray):
        return Tensor._wrap(sample)
    return sample


def _shutdown(workers, index_qs):
    for q in index_qs:
        try:
            q.put(None)
        except Exception:  # pragma: no cover - queue already closed
            pass
    for p in workers:
        p.join(timeout=1.0)
        if p.is_alive():
            p.terminate()
