"""Process groups over MPI (mpi4py): init_process_group, new_group, ranks and sizes, with torch.distributed's names.

The rank and the world size come from MPI, so a program starts the same way under ``ember launch`` and under plain
``mpiexec -n N python script.py``. Each group holds its own duplicate of MPI's communicator.
"""
import atexit
import datetime
import enum
import importlib.util
import os
import sys

from .errors import DistBackendError
from .work import Work, _seconds

__all__ = ["Backend", "ReduceOp", "ProcessGroup", "GroupMember", "group", "default_pg_timeout", "is_available",
           "is_mpi_available", "is_gloo_available", "is_nccl_available", "is_initialized", "init_process_group",
           "destroy_process_group", "new_group", "get_rank", "get_world_size", "get_backend",
           "get_process_group_ranks", "get_global_rank", "get_group_rank"]

default_pg_timeout = datetime.timedelta(seconds=60)
_NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."


def is_mpi_available():
    """Whether the MPI backend can be used here: mpi4py is installed (MPI itself starts with the process group).

    Returns:
        bool: True when mpi4py is importable.

    PyTorch:
        ``torch.distributed.is_mpi_available``, which says whether PyTorch was built with MPI (usually False).

    Example:
        >>> import importlib.util
        >>> ember.distributed.is_mpi_available() == (importlib.util.find_spec("mpi4py") is not None)
        True
    """
    return importlib.util.find_spec("mpi4py") is not None


def is_available():
    """Whether ember.distributed can make a process group here: True when mpi4py is installed.

    Returns:
        bool: the same as is_mpi_available().

    PyTorch:
        ``torch.distributed.is_available``, which says whether PyTorch was built with the distributed package.

    Example:
        >>> ember.distributed.is_available() == ember.distributed.is_mpi_available()
        True
    """
    return is_mpi_available()


def is_gloo_available():
    """Whether the gloo backend is available: always False, as ember has none (backend='gloo' runs on MPI).

    Returns:
        bool: False.

    PyTorch:
        ``torch.distributed.is_gloo_available``, usually True in PyTorch.

    Example:
        >>> ember.distributed.is_gloo_available()
        False
    """
    return False


def is_nccl_available():
    """Whether the NCCL backend is available: always False, as it is not built yet (NCCL through CuPy).

    Returns:
        bool: False.

    PyTorch:
        ``torch.distributed.is_nccl_available``, True in PyTorch's CUDA builds.

    Example:
        >>> ember.distributed.is_nccl_available()
        False
    """
    return False


class Backend(str):
    """A backend name, a str: ember's one backend is ``Backend.MPI`` ("mpi").

    "gloo" (PyTorch's CPU backend), "cpu:gloo" and "cpu:mpi" are accepted in any case and become "mpi", so that
    PyTorch programs run unchanged; "nccl" and unknown names raise ValueError, so does a non-string.

    Args:
        name (str): the backend's name.

    PyTorch:
        ``torch.distributed.Backend``; same constants, but every accepted name becomes "mpi" (PyTorch keeps
        "gloo", "nccl"...).

    Example:
        >>> ember.distributed.Backend("GLOO")
        'mpi'
        >>> ember.distributed.Backend.MPI
        'mpi'
    """
    UNDEFINED, GLOO, NCCL, MPI = "undefined", "gloo", "nccl", "mpi"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got {type(name).__name__}")
        value = name.lower()
        if value == "nccl":
            raise ValueError("ember.distributed: the nccl backend is not built yet (NCCL through CuPy comes later); "
                             "use backend='mpi'")
        if value not in ("mpi", "gloo", "cpu:gloo", "cpu:mpi"):
            raise ValueError(f"ember.distributed: unknown backend {name!r} (ember runs on MPI: backend='mpi')")
        return str.__new__(cls, "mpi")


class ReduceOp:
    """The reductions of collectives: ``ReduceOp.SUM``, ``PRODUCT``, ``MIN``, ``MAX``, ``BAND``, ``BOR``,
    ``BXOR`` and ``AVG`` (the sum divided by the group's size; floating-point tensors only).

    Each is a member of the IntEnum ``ReduceOp.RedOpType``, passed as ``op=`` to all_reduce, reduce,
    reduce_scatter and reduce_scatter_tensor.

    PyTorch:
        ``torch.distributed.ReduceOp``; same names and values (no PREMUL_SUM).

    Example:
        >>> ember.distributed.ReduceOp.SUM
        <RedOpType.SUM: 0>
        >>> ember.distributed.ReduceOp.AVG == ember.distributed.ReduceOp.RedOpType.AVG
        True
    """

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7

    SUM, AVG, PRODUCT = RedOpType.SUM, RedOpType.AVG, RedOpType.PRODUCT
    MIN, MAX, BAND, BOR, BXOR = RedOpType.MIN, RedOpType.MAX, RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR


class ProcessGroup:
    """A group of ranks that run collectives together, as init_process_group and new_group make them.

    ``rank()`` and ``size()`` are this process's rank in the group and the group's size, ``name()`` the backend's
    name; ``ranks`` lists the members' global ranks; ``timeout_s`` is how long a collective may wait for the
    others before it raises DistBackendError. Code gets groups from new_group, not from this constructor.

    Args:
        mpi (module): mpi4py's MPI.
        comm (mpi4py.MPI.Comm): the group's own communicator.
        ranks (iterable of int): the members' global ranks, in group-rank order.
        timeout_s (float): the collectives' timeout in seconds.

    PyTorch:
        ``torch.distributed.ProcessGroup``; ``rank()``, ``size()`` and ``name()`` as PyTorch's.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> pg = dist.new_group([0])
        >>> pg.rank(), pg.size(), pg.ranks
        (0, 1, [0])
        >>> dist.destroy_process_group()
    """

    def __init__(self, mpi, comm, ranks, timeout_s):
        self._mpi, self.comm, self.ranks, self.timeout_s = mpi, comm, list(ranks), timeout_s
        self._rank, self._size = comm.Get_rank(), comm.Get_size()
        self._windows = []  # MPI windows made on comm (DistributedDataParallel's shared buckets): freed with it

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def name(self):
        return "mpi"

    def _timed_out(self, what, limit):
        """The error of a collective that waited past the deadline (and the job is marked to abort at exit: MPI
        cannot finish while a collective is pending)."""
        _state.failed = self._mpi
        me = self.ranks[self._rank]
        others = [r for r in self.ranks if r != me]
        return DistBackendError(
            f"ember.distributed.{what}: rank {me} timed out after {limit:g} s waiting for the other ranks of its "
            f"process group (ranks {others}): one of them stopped responding (hung, or died). Raise the timeout "
            f"with init_process_group(timeout=...) if a rank is only slow.")

    def __repr__(self):
        return f"ProcessGroup(backend=mpi, rank={self._rank}, size={self._size}, ranks={self.ranks})"


class _State:
    world = None      # the default ProcessGroup
    groups = []       # every group made, so destroy_process_group() frees them
    failed = None     # MPI, once a collective has timed out: the job is aborted at exit
    hooked = False    # the exit hooks are installed (once per process)
    mpi = None        # mpi4py's MPI, once a process group was asked for


_state = _State()


class _WorldMeta(type):
    @property
    def WORLD(cls):
        return _state.world


class GroupMember(metaclass=_WorldMeta):
    """Constants about group membership: ``GroupMember.WORLD`` is the default group (None before
    init_process_group); ``NON_GROUP_MEMBER`` is what new_group returns to a rank it leaves out (collectives on it
    do nothing on that rank).

    PyTorch:
        ``torch.distributed.GroupMember``; same constants.

    Example:
        >>> ember.distributed.GroupMember.NON_GROUP_MEMBER
        -100
        >>> ember.distributed.GroupMember.WORLD is None  # no process group yet
        True
    """
    NON_GROUP_MEMBER = -100


class group(metaclass=_WorldMeta):
    """``group.WORLD``: the default process group (None before init_process_group).

    PyTorch:
        ``torch.distributed.group``; same ``WORLD``.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.group.WORLD
        ProcessGroup(backend=mpi, rank=0, size=1, ranks=[0])
        >>> dist.destroy_process_group()
    """


def is_initialized():
    """Whether the default process group has been initialized (init_process_group called, not yet destroyed).

    Returns:
        bool: True between init_process_group and destroy_process_group.

    PyTorch:
        ``torch.distributed.is_initialized``; same semantics.

    Example:
        >>> ember.distributed.is_initialized()
        False
    """
    return _state.world is not None


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError("ember.distributed: the mpi backend needs mpi4py and an MPI library: "
                           f"pip install 'ember[mpi]' ({e})") from None
    return MPI


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None) -> None:
    """Join the default process group: every process of the job (started by ``ember launch`` or ``mpiexec``)
    calls it once.

    The rank and world size come from MPI, so a process started alone is a world of one. A second call raises
    ValueError, so does a rank or world size (given, or RANK and WORLD_SIZE in the environment) that MPI
    contradicts. Without mpi4py it raises RuntimeError.

    Args:
        backend (str, optional): a name Backend accepts ("mpi", or "gloo" which runs on MPI); None: "mpi".
            Default: None.
        init_method (str, optional): ignored: MPI needs no rendezvous. Default: None.
        timeout (timedelta or float, optional): how long a collective waits for the other ranks before it raises
            DistBackendError (seconds when a number); None: 60 s. Default: None.
        world_size (int): the number of processes, checked against MPI's; -1: not checked. Default: -1.
        rank (int): this process's rank, checked against MPI's; -1: not checked. Default: -1.
        store (object, optional): ignored: MPI needs no store. Default: None.
        group_name (str): ignored. Default: "".
        pg_options (object, optional): ignored. Default: None.
        device_id (int or device, optional): ignored (CPU tensors). Default: None.

    PyTorch:
        ``torch.distributed.init_process_group``; rank and size come from MPI instead of a rendezvous
        (init_method, store, MASTER_ADDR), and the default timeout is 60 s (PyTorch's: 30 minutes).

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.is_initialized(), dist.get_rank(), dist.get_world_size()
        (True, 0, 1)
        >>> dist.destroy_process_group()
    """
    if _state.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if backend is not None:
        Backend(backend)
    timeout_s = _seconds(default_pg_timeout if timeout is None else timeout)
    MPI = _mpi()
    world = MPI.COMM_WORLD
    size, me = world.Get_size(), world.Get_rank()
    _check_agrees("world_size", world_size, os.environ.get("WORLD_SIZE"), size)
    _check_agrees("rank", rank, os.environ.get("RANK"), me)
    _state.mpi = MPI
    if not _state.hooked:
        _state.hooked = True
        atexit.register(_abort_if_failed)
        _chain_excepthook()
    comm, request = world.Idup()  # polled against the timeout, as collectives are: a rank may never get here
    Work([request], ProcessGroup(MPI, world, range(size), timeout_s), "init_process_group").wait()
    pg = ProcessGroup(MPI, comm, range(size), timeout_s)
    _state.world, _state.groups = pg, [pg]


def _check_agrees(name, given, env, actual):
    """world_size/rank given to init_process_group or set in the environment must be MPI's."""
    for value, where in ((given, f"init_process_group({name}=...)"), (env, f"the environment ({name.upper()})")):
        if value is None or value == -1 or value == "":
            continue
        if int(value) != actual:
            raise ValueError(
                f"init_process_group: {where} says {name} {value}, but MPI gives this process {name} {actual}: "
                f"start the job with `ember launch -n N script.py` or `mpiexec -n N python script.py`, which set "
                f"both")


def end_job(status=1):
    """End this rank at once without shutting MPI down, which the MPI launcher takes as the job's failure: it
    stops the other ranks. (Unlike MPI_Abort, a plain exit lets the launcher forward all the rank's output first.)"""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def _abort_if_failed():
    """At exit after a timed-out collective, end the whole job: MPI cannot shut down while a collective is pending,
    and the rank that hung would keep running."""
    if _state.failed is not None:
        end_job(1)


def _chain_excepthook():
    """A rank that dies of an uncaught exception stops the whole job at once (the others would otherwise wait
    for it until their timeout), saying which rank failed."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        world = _state.mpi.COMM_WORLD
        if world.Get_size() > 1:
            print(f"ember.distributed: rank {world.Get_rank()} of {world.Get_size()} failed ({kind.__name__}); "
                  "stopping the job", file=sys.stderr, flush=True)
            end_job(1)

    sys.excepthook = hook


def destroy_process_group(group=None) -> None:
    """Leave a process group and free its communicator: None leaves the default group and every new_group's.

    Without a default group it raises ValueError.

    Args:
        group (ProcessGroup, optional): the group to leave; None: all of them. Default: None.

    PyTorch:
        ``torch.distributed.destroy_process_group``; same semantics.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.destroy_process_group()
        >>> dist.is_initialized()
        False
    """
    if group is None:
        if _state.world is None:
            raise ValueError(_NOT_INITIALIZED)
        groups, _state.world, _state.groups = _state.groups, None, []
    elif group is GroupMember.NON_GROUP_MEMBER:
        return
    else:
        groups = [group]
        _state.groups = [g for g in _state.groups if g is not group]
    if _state.failed is None:  # after a timeout, a pending collective still holds the communicator
        for g in groups:
            for win in g._windows:
                win.Unlock_all()
                win.Free()
            g.comm.Free()


def _default():
    if _state.world is None:
        raise ValueError(_NOT_INITIALIZED)
    return _state.world


def _resolve(group):
    """The ProcessGroup a collective runs on (None: the default), or None for a rank outside the group."""
    world = _default()
    if group is None:
        return world
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"ember.distributed: group must be a ProcessGroup, got {type(group).__name__}")
    return group


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """Make a process group of some of the ranks of the default group, for collectives among them.

    Every rank of the default group must call it, also those it leaves out (they get
    GroupMember.NON_GROUP_MEMBER). Ranks that are not distinct ranks of the world raise ValueError.

    Args:
        ranks (list of int, optional): the members' global ranks (sorted: a member's group rank is its place
            among them); None: all. Default: None.
        timeout (timedelta or float, optional): the group's collectives' timeout; None: the default group's.
            Default: None.
        backend (str, optional): a name Backend accepts; None: "mpi". Default: None.
        pg_options (object, optional): ignored. Default: None.
        use_local_synchronization (bool): ignored (every rank of the world takes part). Default: False.
        group_desc (str, optional): ignored. Default: None.
        device_id (int or device, optional): ignored. Default: None.

    Returns:
        ProcessGroup: the new group, or GroupMember.NON_GROUP_MEMBER on a rank it leaves out.

    PyTorch:
        ``torch.distributed.new_group``; same semantics, without ``sort_ranks`` (the ranks are always sorted).

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.new_group([0])
        ProcessGroup(backend=mpi, rank=0, size=1, ranks=[0])
        >>> dist.destroy_process_group()
    """
    world = _default()
    if backend is not None:
        Backend(backend)
    ranks = sorted(range(world.size()) if ranks is None else ranks)
    bad = [r for r in ranks if not 0 <= r < world.size()]
    if bad or len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks {ranks} must be distinct ranks of the world (0..{world.size() - 1})")
    member = world.rank() in ranks
    MPI = world._mpi
    comm = world.comm.Split(0 if member else MPI.UNDEFINED, ranks.index(world.rank()) if member else 0)
    if not member:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(MPI, comm, ranks, world.timeout_s if timeout is None else _seconds(timeout))
    _state.groups.append(pg)
    return pg


def get_rank(group=None):
    """This process's rank in a group: 0 to the group's size - 1.

    Without a default group it raises ValueError.

    Args:
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.

    Returns:
        int: the rank; -1 on a rank outside the group (GroupMember.NON_GROUP_MEMBER).

    PyTorch:
        ``torch.distributed.get_rank``; same semantics.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.get_rank()
        0
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    """The number of processes in a group.

    Without a default group it raises ValueError.

    Args:
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.

    Returns:
        int: the group's size; -1 on a rank outside the group (GroupMember.NON_GROUP_MEMBER).

    PyTorch:
        ``torch.distributed.get_world_size``; same semantics.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.get_world_size()
        1
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    """The backend of a group: always "mpi" in ember.

    Without a default group it raises ValueError.

    Args:
        group (ProcessGroup, optional): the process group; None: the default group. Default: None.

    Returns:
        Backend: ``Backend.MPI``, the string "mpi".

    PyTorch:
        ``torch.distributed.get_backend``; the backend is always "mpi" (a group made with "gloo" too).

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.get_backend()
        'mpi'
        >>> dist.destroy_process_group()
    """
    _resolve(group)
    return Backend.MPI


def get_process_group_ranks(group):
    """The global ranks of the members of a group, in group-rank order.

    Args:
        group (ProcessGroup): the group; None: the default group.

    Returns:
        list of int: the global ranks; [] on a rank outside the group.

    PyTorch:
        ``torch.distributed.get_process_group_ranks``; same semantics.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.get_process_group_ranks(dist.new_group([0]))
        [0]
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    return list(pg.ranks) if pg is not None else []


def get_global_rank(group, group_rank):
    """The global rank of the member of a group with the given group rank.

    A group rank outside the group raises ValueError.

    Args:
        group (ProcessGroup): the group; None: the default group.
        group_rank (int): the member's rank in the group.

    Returns:
        int: its global rank (its rank in the default group).

    PyTorch:
        ``torch.distributed.get_global_rank``; same semantics.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.get_global_rank(dist.new_group([0]), 0)
        0
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None or not 0 <= group_rank < pg.size():
        raise ValueError(f"get_global_rank: group rank {group_rank} is not part of the group")
    return pg.ranks[group_rank]


def get_group_rank(group, global_rank):
    """The rank in a group of the process with the given global rank.

    A process outside the group raises ValueError.

    Args:
        group (ProcessGroup): the group; None: the default group.
        global_rank (int): the process's global rank.

    Returns:
        int: its rank in the group.

    PyTorch:
        ``torch.distributed.get_group_rank``; same semantics.

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> dist.get_group_rank(dist.new_group([0]), 0)
        0
        >>> dist.destroy_process_group()
    """
    pg = _resolve(group)
    if pg is None or global_rank not in pg.ranks:
        raise ValueError(f"get_group_rank: global rank {global_rank} is not part of the group")
    return pg.ranks.index(global_rank)
