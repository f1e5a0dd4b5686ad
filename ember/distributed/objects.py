"""torch.distributed's object collectives: each object travels as the bytes ``ember.save`` writes and is read back
by ``ember.load``'s allowlist (weights_only), so a rank builds nothing that another rank's bytes name unless it
allowed it (``ember.serialization.add_safe_globals``), as ``torch.load`` by default."""
import io

import numpy as np

from ..serialization import load, save
from .collectives import _root, _starts
from .process_group import _resolve
from .work import Work

__all__ = ["all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list"]


def _to_bytes(obj):
    buf = io.BytesIO()
    save(obj, buf)
    return np.frombuffer(buf.getvalue(), np.uint8)


def _from_bytes(data):
    return load(io.BytesIO(data.tobytes()))


def _wait(pg, req, what):
    Work([req], pg, what).wait()


def _check_slots(objects, n, what, name, kind):
    """ValueError unless objects is a list of n entries (kind: what they are, for the message)."""
    if not isinstance(objects, list) or len(objects) != n:
        got = len(objects) if isinstance(objects, list) else type(objects).__name__
        raise ValueError(f"ember.distributed.{what}: {name} must be a list of {n} {kind}, got {got}")


def _unpack(data, sizes, object_list):
    """object_list[i] = the object of the i-th run of sizes[i] bytes of data."""
    start = 0
    for i, size in enumerate(sizes.tolist()):
        object_list[i] = _from_bytes(data[start:start + size])
        start += size


def all_gather_object(object_list, obj, group=None):
    """Gather every rank's object into object_list on every rank: object_list[i] becomes group rank i's.

    Objects are what ``ember.save`` writes and ``ember.load`` reads back by default (tensors, numbers, strings and
    containers of them; other classes once ``ember.serialization.add_safe_globals`` allows them: UnpicklingError
    otherwise). Without a default group it raises ValueError; past the group's timeout, DistBackendError.

    Args:
        object_list (list): one slot per rank of the group; overwritten.
        obj (object): this rank's object.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.

    Returns:
        None

    PyTorch:
        ``torch.distributed.all_gather_object``; the same, but the objects are read back by the allowlist of
        ``torch.load``'s default (weights_only) where PyTorch unpickles anything.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> gathered = [None]
        >>> dist.all_gather_object(gathered, {"loss": 0.25, "steps": 3})
        >>> gathered
        [{'loss': 0.25, 'steps': 3}]
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    n = pg.size()
    _check_slots(object_list, n, "all_gather_object", "object_list", "slots (one per rank)")
    data = _to_bytes(obj)
    sizes = np.empty(n, np.int64)
    _wait(pg, pg.comm.Iallgather(np.array([data.size], np.int64), sizes), "all_gather_object")
    starts = _starts(sizes)
    out = np.empty(int(sizes.sum()), np.uint8)
    _wait(pg, pg.comm.Iallgatherv(data, [out, (sizes, starts)]), "all_gather_object")
    for i in range(n):
        object_list[i] = _from_bytes(out[starts[i]:starts[i] + sizes[i]])
    return None


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Copy the objects of rank src's object_list into object_list on every rank of the group, in place.

    Objects as in all_gather_object. Without a default group it raises ValueError; past the group's timeout,
    DistBackendError.

    Args:
        object_list (list): the objects on src; as many slots, overwritten, elsewhere.
        src (int, optional): the source rank, a global rank; None: 0 (unless group_src is given). Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        device (device, optional): ignored (CPU). Default: None.
        group_src (int, optional): the source rank as a rank in group, instead of src (not both). Default: None.

    Returns:
        None

    PyTorch:
        ``torch.distributed.broadcast_object_list``; the same, but the objects are read back by the allowlist of
        ``torch.load``'s default (weights_only), and src defaults to rank 0.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> config = [{"lr": 0.1}, "run-1"]
        >>> dist.broadcast_object_list(config, src=0)
        >>> config
        [{'lr': 0.1}, 'run-1']
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    if not isinstance(object_list, list):
        raise TypeError(f"ember.distributed.broadcast_object_list: object_list must be a list, got "
                        f"{type(object_list).__name__}")
    root = _root(pg, src, group_src, "broadcast_object_list", "src")
    source = pg.rank() == root
    blobs = [_to_bytes(o) for o in object_list] if source else []
    sizes = np.array([b.size for b in blobs], np.int64) if source else np.empty(len(object_list), np.int64)
    _wait(pg, pg.comm.Ibcast(sizes, root), "broadcast_object_list")
    data = np.concatenate(blobs) if blobs else np.empty(int(sizes.sum()), np.uint8)
    _wait(pg, pg.comm.Ibcast(data, root), "broadcast_object_list")
    if not source:
        _unpack(data, sizes, object_list)
    return None


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Gather every rank's object into object_gather_list on rank dst: its [i] becomes group rank i's object.

    Objects as in all_gather_object. Without a default group it raises ValueError; past the group's timeout,
    DistBackendError.

    Args:
        obj (object): this rank's object.
        object_gather_list (list, optional): on dst, one slot per rank of the group (overwritten); None elsewhere.
            Default: None.
        dst (int, optional): the destination rank, a global rank; None: 0 (unless group_dst is given).
            Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        group_dst (int, optional): the destination as a rank in group, instead of dst (not both). Default: None.

    Returns:
        None

    PyTorch:
        ``torch.distributed.gather_object``; the same, but the objects are read back by the allowlist of
        ``torch.load``'s default (weights_only), and dst defaults to rank 0.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> results = [None]
        >>> dist.gather_object({"accuracy": 0.9}, results, dst=0)
        >>> results
        [{'accuracy': 0.9}]
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    root, n = _root(pg, dst, group_dst, "gather_object", "dst"), pg.size()
    here = pg.rank() == root
    if here:
        _check_slots(object_gather_list, n, "gather_object", "object_gather_list", "slots on the destination rank")
    data = _to_bytes(obj)
    sizes = np.empty(n, np.int64)
    _wait(pg, pg.comm.Igather(np.array([data.size], np.int64), sizes, root), "gather_object")
    starts = _starts(sizes)
    out = np.empty(int(sizes.sum()) if here else 0, np.uint8)
    _wait(pg, pg.comm.Igatherv(data, [out, (sizes, starts)] if here else None, root), "gather_object")
    if here:
        _unpack(out, sizes, object_gather_list)
    return None


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    """Send the i-th object of rank src's scatter_object_input_list to group rank i, into the first slot of its
    scatter_object_output_list.

    Objects as in all_gather_object. Without a default group it raises ValueError; past the group's timeout,
    DistBackendError.

    Args:
        scatter_object_output_list (list): a list of at least one slot; its first is overwritten.
        scatter_object_input_list (list, optional): on src, one object per rank of the group; None elsewhere.
            Default: None.
        src (int, optional): the source rank, a global rank; None: 0 (unless group_src is given). Default: None.
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.
        group_src (int, optional): the source as a rank in group, instead of src (not both). Default: None.

    Returns:
        None

    PyTorch:
        ``torch.distributed.scatter_object_list``; the same, but the objects are read back by the allowlist of
        ``torch.load``'s default (weights_only), and src defaults to rank 0.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> mine = [None]
        >>> dist.scatter_object_list(mine, [{"shard": 0}], src=0)
        >>> mine
        [{'shard': 0}]
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None:
        return None
    if not isinstance(scatter_object_output_list, list) or not scatter_object_output_list:
        raise ValueError("ember.distributed.scatter_object_list: scatter_object_output_list must be a list of at "
                         "least one slot")
    root, n = _root(pg, src, group_src, "scatter_object_list", "src"), pg.size()
    here = pg.rank() == root
    if here:
        _check_slots(scatter_object_input_list, n, "scatter_object_list", "scatter_object_input_list",
                     "objects on the source rank")
    blobs = [_to_bytes(o) for o in scatter_object_input_list] if here else []
    sizes = np.array([b.size for b in blobs], np.int64) if here else np.empty(0, np.int64)
    size = np.empty(1, np.int64)
    _wait(pg, pg.comm.Iscatter(sizes if here else None, size, root), "scatter_object_list")
    starts = _starts(sizes) if here else None
    data = np.empty(int(size[0]), np.uint8)
    send = [np.concatenate(blobs), (sizes, starts)] if here else None
    _wait(pg, pg.comm.Iscatterv(send, data, root), "scatter_object_list")
    scatter_object_output_list[0] = _from_bytes(data)
    return None
