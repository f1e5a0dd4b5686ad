"""Collectives over a process group, with torch.distributed's names and arguments: each starts a non-blocking MPI
operation and returns a Work (``async_op=True``) or waits for it against the group's timeout.

Tensors are CPU tensors; a collective that writes a tensor does it in place (its version counter moves, as an
in-place op's). Dtypes MPI has no type for (bool, float16, bfloat16) travel as uint8 or float32.
"""
import numpy as np

from ..autograd.graph import increment_version
from ..tensor import Tensor
from .process_group import ReduceOp, _resolve
from .work import Work

__all__ = ["all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
           "reduce_scatter_tensor", "reduce", "gather", "scatter", "all_to_all", "barrier", "send", "recv", "isend",
           "irecv"]

_NATIVE = frozenset("bBhHiIlLqQfdFD")  # numpy type characters mpi4py maps to MPI types


def _array(tensor, what, name="tensor"):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"ember.distributed.{what}: {name} must be a Tensor, got {type(tensor).__name__}")
    a = tensor._data
    if not isinstance(a, np.ndarray):
        raise ValueError(f"ember.distributed.{what}: the mpi backend works on CPU tensors; {name} is on "
                         f"{tensor.device}")
    return a


class _Buffer:
    """The contiguous array MPI reads or writes for a tensor (the tensor's own when it can be), and writing it back
    into the tensor when the collective is done."""

    def __init__(self, tensor, what, name="tensor", copy_in=True):
        self.tensor = tensor
        a = self.array = _array(tensor, what, name)
        if a.dtype.char in _NATIVE:
            self.buf = a if a.flags.c_contiguous else np.ascontiguousarray(a)
        else:
            wide = _wire_dtype(a.dtype)
            self.buf = a.astype(wide) if copy_in else np.empty(a.shape, wide)
        self.own = self.buf is a

    def write_back(self):
        if not self.own:
            self.array[...] = self.buf.astype(self.array.dtype, copy=False)
        increment_version(self.tensor)


def _wire_dtype(dtype):
    """The dtype an array of dtype travels as: its own where MPI has a type for it, else uint8 (bool) or float32."""
    return dtype if dtype.char in _NATIVE else np.dtype(np.uint8 if dtype == np.bool_ else np.float32)


def _starts(counts):
    """Where each of the runs of counts (int64) starts in their concatenation."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _op(mpi, op, what):
    """(MPI op, whether to divide by the group's size) of a ReduceOp."""
    try:
        op = ReduceOp.RedOpType(op)
    except ValueError:
        raise ValueError(f"ember.distributed.{what}: op must be a ReduceOp, got {op!r}") from None
    table = {ReduceOp.SUM: mpi.SUM, ReduceOp.AVG: mpi.SUM, ReduceOp.PRODUCT: mpi.PROD, ReduceOp.MIN: mpi.MIN,
             ReduceOp.MAX: mpi.MAX, ReduceOp.BAND: mpi.BAND, ReduceOp.BOR: mpi.BOR, ReduceOp.BXOR: mpi.BXOR}
    return table[op], op == ReduceOp.AVG


def _check_average(buf, avg, what):
    if avg and buf.dtype.kind not in "fc":
        raise ValueError(f"ember.distributed.{what}: ReduceOp.AVG needs a floating-point tensor, got {buf.dtype}")


def _finish(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def _root(pg, rank, group_rank, what, name):
    """The group rank of a src/dst given as a global rank (rank) or as a group rank (group_src/group_dst)."""
    if group_rank is not None and rank is not None:
        raise ValueError(f"ember.distributed.{what}: give {name} or group_{name}, not both")
    if group_rank is None:
        rank = 0 if rank is None else rank
        if rank not in pg.ranks:
            raise ValueError(f"ember.distributed.{what}: {name} {rank} is not a rank of the group {pg.ranks}")
        return pg.ranks.index(rank)
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"ember.distributed.{what}: group_{name} {group_rank} is not a rank of a group of "
                         f"{pg.size()}")
    return group_rank


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce a tensor across the group in place: every rank ends with the sum (or op) of all ranks' tensors.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        tensor (Tensor): the CPU tensor, of the same shape and dtype on every rank; overwritten with the result.
        op (ReduceOp): the reduction. Default: ReduceOp.SUM.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.all_reduce``; same semantics, on CPU tensors.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> t = ember.tensor([1.0, 2.0])
        >>> dist.all_reduce(t)  # the sum over ranks: one rank here
        >>> t
        tensor([1., 2.])
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    b = _Buffer(tensor, "all_reduce")
    mpi_op, avg = _op(pg._mpi, op, "all_reduce")
    _check_average(b.buf, avg, "all_reduce")

    def done():
        if avg:
            b.buf *= 1.0 / pg.size()
        b.write_back()

    req = pg.comm.Iallreduce(pg._mpi.IN_PLACE, b.buf, mpi_op)
    return _finish(Work([req], pg, "all_reduce", done, [tensor]), async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy the tensor of rank src into the tensor of every rank of the group, in place.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        tensor (Tensor): the source's data on src; the tensor to overwrite elsewhere (same shape and dtype).
        src (int, optional): the source rank, a global rank; None: 0 (unless group_src is given).
            Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.
        group_src (int, optional): the source rank as a rank in group, instead of src (not both).
            Default: None.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.broadcast``; same semantics, on CPU tensors, but src defaults to rank 0 (PyTorch
        requires src or group_src: ValueError).

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> t = ember.tensor([1.0, 2.0])
        >>> dist.broadcast(t, src=0)
        >>> t
        tensor([1., 2.])
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    root = _root(pg, src, group_src, "broadcast", "src")
    b = _Buffer(tensor, "broadcast")
    req = pg.comm.Ibcast(b.buf, root)
    return _finish(Work([req], pg, "broadcast", b.write_back, [tensor]), async_op)


def _check_count(tensors, n, what, name):
    if not isinstance(tensors, (list, tuple)) or len(tensors) != n:
        raise ValueError(f"ember.distributed.{what}: {name} must be a list of {n} tensors (one per rank), got "
                         f"{len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__}")


def _check_list(tensors, n, like, what, name):
    _check_count(tensors, n, what, name)
    for i, t in enumerate(tensors):
        a = _array(t, what, f"{name}[{i}]")
        if a.shape != like.shape or a.dtype != like.dtype:
            raise ValueError(f"ember.distributed.{what}: {name}[{i}] has shape {tuple(a.shape)} and dtype "
                             f"{a.dtype}, but the tensor has shape {tuple(like.shape)} and dtype {like.dtype}")


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Gather every rank's tensor into a list on every rank: tensor_list[i] gets group rank i's tensor.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        tensor_list (list of Tensor): one tensor per rank of the group, of tensor's shape and dtype (ValueError
            otherwise); overwritten.
        tensor (Tensor): this rank's tensor.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.all_gather``; same semantics, on CPU tensors.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = [ember.zeros(2)]  # one tensor per rank
        >>> dist.all_gather(out, ember.tensor([3.0, 4.0]))
        >>> out
        [tensor([3., 4.])]
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    b = _Buffer(tensor, "all_gather")
    _check_list(tensor_list, pg.size(), b.array, "all_gather", "tensor_list")
    out = np.empty((pg.size(), *b.buf.shape), b.buf.dtype)

    def done():
        for t, part in zip(tensor_list, out):
            t._data[...] = part.astype(t._data.dtype, copy=False)
            increment_version(t)

    req = pg.comm.Iallgather(b.buf, out)
    return _finish(Work([req], pg, "all_gather", done, tensor_list), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gather every rank's tensor into one tensor on every rank, concatenated (or stacked) along dim 0 in rank
    order.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        output_tensor (Tensor): holds group-size copies of input_tensor's elements, of its dtype (ValueError
            otherwise): (size * n, ...) or (size, n, ...); overwritten.
        input_tensor (Tensor): this rank's tensor.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.all_gather_into_tensor``; same semantics, on CPU tensors.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = ember.zeros(1, 2)
        >>> dist.all_gather_into_tensor(out, ember.tensor([[5.0, 6.0]]))
        >>> out
        tensor([[5., 6.]])
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    b = _Buffer(input_tensor, "all_gather_into_tensor", "input_tensor")
    o = _Buffer(output_tensor, "all_gather_into_tensor", "output_tensor", copy_in=False)
    if o.buf.size != b.buf.size * pg.size() or o.array.dtype != b.array.dtype:
        raise ValueError(f"ember.distributed.all_gather_into_tensor: output_tensor {tuple(o.array.shape)} "
                         f"{o.array.dtype} must hold {pg.size()} copies of input_tensor {tuple(b.array.shape)} "
                         f"{b.array.dtype}")
    req = pg.comm.Iallgather(b.buf, o.buf)
    return _finish(Work([req], pg, "all_gather_into_tensor", o.write_back, [output_tensor]), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce lists of tensors across the group and scatter the results: rank i gets the reduction of every
    rank's input_list[i].

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        output (Tensor): this rank's result; overwritten.
        input_list (list of Tensor): one tensor per rank of the group, of output's shape and dtype (ValueError
            otherwise).
        op (ReduceOp): the reduction. Default: ReduceOp.SUM.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.reduce_scatter``; same semantics, on CPU tensors.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = ember.zeros(2)
        >>> dist.reduce_scatter(out, [ember.tensor([1.0, 2.0])])
        >>> out
        tensor([1., 2.])
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    o = _Buffer(output, "reduce_scatter", "output", copy_in=False)
    _check_list(input_list, pg.size(), o.array, "reduce_scatter", "input_list")
    send = np.stack([_Buffer(t, "reduce_scatter").buf for t in input_list])
    return _reduce_scatter(pg, send, o, op, "reduce_scatter", async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce one tensor across the group and scatter it: rank i gets the reduction of the i-th of group-size
    equal chunks of every rank's input.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        output (Tensor): this rank's result, one chunk; overwritten.
        input (Tensor): group-size chunks of output's size, of its dtype (ValueError otherwise).
        op (ReduceOp): the reduction. Default: ReduceOp.SUM.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.reduce_scatter_tensor``; same semantics, on CPU tensors.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = ember.zeros(2)
        >>> dist.reduce_scatter_tensor(out, ember.tensor([7.0, 8.0]))
        >>> out
        tensor([7., 8.])
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    o = _Buffer(output, "reduce_scatter_tensor", "output", copy_in=False)
    i = _Buffer(input, "reduce_scatter_tensor", "input")
    if i.buf.size != o.buf.size * pg.size() or i.array.dtype != o.array.dtype:
        raise ValueError(f"ember.distributed.reduce_scatter_tensor: input {tuple(i.array.shape)} {i.array.dtype} "
                         f"must hold {pg.size()} chunks of output's shape {tuple(o.array.shape)} and dtype")
    return _reduce_scatter(pg, i.buf, o, op, "reduce_scatter_tensor", async_op)


def _reduce_scatter(pg, send, o, op, what, async_op):
    mpi_op, avg = _op(pg._mpi, op, what)
    _check_average(o.buf, avg, what)

    def done():
        if avg:
            o.buf *= 1.0 / pg.size()
        o.write_back()

    req = pg.comm.Ireduce_scatter_block(send, o.buf, mpi_op)
    return _finish(Work([req], pg, what, done, [o.tensor]), async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce a tensor across the group into the tensor of rank dst (the other ranks' tensors are left as they
    were).

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        tensor (Tensor): this rank's tensor; on dst, overwritten with the result.
        dst (int, optional): the destination rank, a global rank; None: 0 (unless group_dst is given).
            Default: None.
        op (ReduceOp): the reduction. Default: ReduceOp.SUM.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.
        group_dst (int, optional): the destination rank as a rank in group, instead of dst (not both).
            Default: None.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.reduce``; same semantics, on CPU tensors, but dst defaults to rank 0 (PyTorch
        requires dst or group_dst: ValueError).

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> t = ember.tensor([1.0, 2.0])
        >>> dist.reduce(t, dst=0, op=dist.ReduceOp.MAX)
        >>> t
        tensor([1., 2.])
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, "reduce", "dst")
    b = _Buffer(tensor, "reduce")
    mpi_op, avg = _op(pg._mpi, op, "reduce")
    mine = pg.rank() == root
    _check_average(b.buf, avg, "reduce")

    def done():
        if mine:
            if avg:
                b.buf *= 1.0 / pg.size()
            b.write_back()

    req = pg.comm.Ireduce(pg._mpi.IN_PLACE if mine else b.buf, b.buf if mine else None, mpi_op, root)
    return _finish(Work([req], pg, "reduce", done, [tensor]), async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Gather every rank's tensor into a list on rank dst: gather_list[i] gets group rank i's tensor.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        tensor (Tensor): this rank's tensor.
        gather_list (list of Tensor, optional): on dst, one tensor per rank of tensor's shape and dtype
            (overwritten); None on the other ranks (a list there raises ValueError). Default: None.
        dst (int, optional): the destination rank, a global rank; None: 0 (unless group_dst is given).
            Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.
        group_dst (int, optional): the destination rank as a rank in group, instead of dst (not both).
            Default: None.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.gather``; same semantics, on CPU tensors.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = [ember.zeros(2)]
        >>> dist.gather(ember.tensor([9.0, 9.0]), out, dst=0)
        >>> out
        [tensor([9., 9.])]
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, "gather", "dst")
    b = _Buffer(tensor, "gather")
    mine = pg.rank() == root
    out = None
    if mine:
        _check_list(gather_list, pg.size(), b.array, "gather", "gather_list")
        out = np.empty((pg.size(), *b.buf.shape), b.buf.dtype)
    elif gather_list:
        raise ValueError("ember.distributed.gather: only the destination rank gives gather_list")

    def done():
        if mine:
            for t, part in zip(gather_list, out):
                t._data[...] = part.astype(t._data.dtype, copy=False)
                increment_version(t)

    req = pg.comm.Igather(b.buf, out, root)
    return _finish(Work([req], pg, "gather", done, gather_list or []), async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Scatter a list of tensors of rank src: group rank i gets scatter_list[i], written into its tensor.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        tensor (Tensor): this rank's result; overwritten.
        scatter_list (list of Tensor, optional): on src, one tensor per rank of tensor's shape and dtype; None on
            the other ranks (a list there raises ValueError). Default: None.
        src (int, optional): the source rank, a global rank; None: 0 (unless group_src is given).
            Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.
        group_src (int, optional): the source rank as a rank in group, instead of src (not both).
            Default: None.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.scatter``; same semantics, on CPU tensors.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> t = ember.zeros(2)
        >>> dist.scatter(t, [ember.tensor([1.0, 1.0])], src=0)
        >>> t
        tensor([1., 1.])
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    root = _root(pg, src, group_src, "scatter", "src")
    o = _Buffer(tensor, "scatter", copy_in=False)
    send = None
    if pg.rank() == root:
        _check_list(scatter_list, pg.size(), o.array, "scatter", "scatter_list")
        send = np.stack([_Buffer(t, "scatter").buf for t in scatter_list])
    elif scatter_list:
        raise ValueError("ember.distributed.scatter: only the source rank gives scatter_list")
    req = pg.comm.Iscatter(send, o.buf, root)
    return _finish(Work([req], pg, "scatter", o.write_back, [tensor]), async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Every rank sends input_tensor_list[i] to group rank i, and receives group rank i's tensor for it into
    output_tensor_list[i].

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        output_tensor_list (list of Tensor): one tensor per rank, of the size its sender sends and of the inputs'
            dtype (ValueError for another dtype); overwritten.
        input_tensor_list (list of Tensor): one tensor per rank, of one dtype.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.all_to_all``; same semantics, on CPU tensors (PyTorch's MPI and Gloo backends have it,
        NCCL too).

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = [ember.zeros(2)]  # one tensor per rank
        >>> dist.all_to_all(out, [ember.tensor([3.0, 4.0])])
        >>> out
        [tensor([3., 4.])]
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    n = pg.size()
    arrays = {}
    for name, tensors in (("input_tensor_list", input_tensor_list), ("output_tensor_list", output_tensor_list)):
        _check_count(tensors, n, "all_to_all", name)
        arrays[name] = [_array(t, "all_to_all", f"{name}[{i}]") for i, t in enumerate(tensors)]
    ins, outs = arrays["input_tensor_list"], arrays["output_tensor_list"]
    dtype = ins[0].dtype
    for name, a in [(f"input_tensor_list[{i}]", a) for i, a in enumerate(ins)] + \
            [(f"output_tensor_list[{i}]", a) for i, a in enumerate(outs)]:
        if a.dtype != dtype:
            raise ValueError(f"ember.distributed.all_to_all: every tensor must have one dtype: {name} is {a.dtype}, "
                             f"input_tensor_list[0] {dtype}")
    wide = _wire_dtype(dtype)
    send = np.concatenate([a.ravel() for a in ins]).astype(wide, copy=False)
    counts = [np.array([a.size for a in arrays], np.int64) for arrays in (ins, outs)]
    starts = [_starts(c) for c in counts]
    recv = np.empty(int(counts[1].sum()), wide)

    def done():
        for t, a, start, count in zip(output_tensor_list, outs, starts[1], counts[1]):
            a[...] = recv[start:start + count].reshape(a.shape).astype(a.dtype, copy=False)
            increment_version(t)

    req = pg.comm.Ialltoallv([send, (counts[0], starts[0])], [recv, (counts[1], starts[1])])
    return _finish(Work([req], pg, "all_to_all", done, list(output_tensor_list)), async_op)


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    """Wait until every rank of the group has reached the barrier.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        async_op (bool): return a Work at once instead of waiting for the collective. Default: False.
        device_ids (list of int, optional): ignored (CPU only). Default: None.
        timeout (timedelta or float, optional): the longest wait (seconds when a number); None: the group's
            timeout. Default: None.

    Returns:
        Work or None: a Work with async_op, else None (also on a rank outside the group).

    PyTorch:
        ``torch.distributed.barrier``; same semantics.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.barrier()
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    work = Work([pg.comm.Ibarrier()], pg, "barrier")
    if async_op:
        return work
    work.wait(timeout)
    return None


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Start sending a tensor to rank dst, without waiting: wait on the Work before changing the tensor.

    Without a default group it raises ValueError.

    Args:
        tensor (Tensor): the tensor to send.
        dst (int, optional): the destination rank, a global rank; None: 0 (unless group_dst is given).
            Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        tag (int): matches the receiver's tag. Default: 0.
        group_dst (int, optional): the destination rank as a rank in group, instead of dst (not both).
            Default: None.

    Returns:
        Work or None: the send's Work; None on a rank outside the group.

    PyTorch:
        ``torch.distributed.isend``; same semantics, on CPU tensors, but dst defaults to rank 0 (PyTorch
        requires dst or group_dst: ValueError).

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = ember.zeros(2)
        >>> work = dist.isend(ember.tensor([4.0, 5.0]), dst=0)  # to itself, in a world of one
        >>> dist.recv(out, src=0), work.wait(), out
        (0, True, tensor([4., 5.]))
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    peer = _root(pg, dst, group_dst, "isend", "dst")
    b = _Buffer(tensor, "isend")
    return Work([pg.comm.Isend(b.buf, peer, tag)], pg, "isend")


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Start receiving a tensor from rank src, without waiting: the tensor holds it once the Work is waited on.

    Without a default group it raises ValueError.

    Args:
        tensor (Tensor): overwritten with what is received (of the sent shape and dtype).
        src (int, optional): the sender's global rank; None: any rank. Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        tag (int): matches the sender's tag. Default: 0.
        group_src (int, optional): the sender's rank as a rank in group, instead of src (not both).
            Default: None.

    Returns:
        Work or None: the receive's Work; None on a rank outside the group.

    PyTorch:
        ``torch.distributed.irecv``; same semantics, on CPU tensors.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = ember.zeros(2)
        >>> work = dist.irecv(out, src=0)
        >>> dist.send(ember.tensor([6.0, 7.0]), dst=0)  # to itself, in a world of one
        >>> work.wait(), out
        (True, tensor([6., 7.]))
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    peer = pg._mpi.ANY_SOURCE if src is None and group_src is None else _root(pg, src, group_src, "irecv", "src")
    o = _Buffer(tensor, "irecv", copy_in=False)
    work = Work([pg.comm.Irecv(o.buf, peer, tag)], pg, "irecv", o.write_back, [tensor])
    return work


def send(tensor, dst=None, group=None, tag=0, group_dst=None) -> None:
    """Send a tensor to rank dst, waiting until it is sent.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        tensor (Tensor): the tensor to send.
        dst (int, optional): the destination rank, a global rank; None: 0 (unless group_dst is given).
            Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        tag (int): matches the receiver's tag. Default: 0.
        group_dst (int, optional): the destination rank as a rank in group, instead of dst (not both).
            Default: None.

    PyTorch:
        ``torch.distributed.send``; same semantics, on CPU tensors, but dst defaults to rank 0 (PyTorch
        requires dst or group_dst: ValueError).

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = ember.zeros(2)
        >>> work = dist.irecv(out, src=0)
        >>> dist.send(ember.tensor([6.0, 7.0]), dst=0)  # to itself, in a world of one
        >>> work.wait(), out
        (True, tensor([6., 7.]))
        >>> dist.destroy_process_group()
    """
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive a tensor from rank src, waiting until it has come.

    Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        tensor (Tensor): overwritten with what is received (of the sent shape and dtype).
        src (int, optional): the sender's global rank; None: any rank. Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        tag (int): matches the sender's tag. Default: 0.
        group_src (int, optional): the sender's rank as a rank in group, instead of src (not both).
            Default: None.

    Returns:
        int: the sender's global rank; -1 on a rank outside the group.

    PyTorch:
        ``torch.distributed.recv``; same semantics, on CPU tensors.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> out = ember.zeros(2)
        >>> work = dist.isend(ember.tensor([4.0, 5.0]), dst=0)  # to itself, in a world of one
        >>> dist.recv(out), work.wait(), out
        (0, True, tensor([4., 5.]))
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return -1
    MPI = pg._mpi
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _root(pg, src, group_src, "recv", "src")
    o = _Buffer(tensor, "recv", copy_in=False)
    status = MPI.Status()
    work = Work([pg.comm.Irecv(o.buf, peer, tag)], pg, "recv", o.write_back, [tensor], statuses=[status])
    work.wait()
    return pg.ranks[status.Get_source()]
