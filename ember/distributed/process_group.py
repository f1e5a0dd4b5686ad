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
    """Whether mpi4py is installed (torch.distributed.is_mpi_available); MPI itself starts with the process group."""
    return importlib.util.find_spec("mpi4py") is not None


def is_available():
    """Whether ember.distributed can make a process group here: True when mpi4py is installed."""
    return is_mpi_available()


def is_gloo_available():
    """False: ember has no gloo backend (backend='gloo' runs on MPI)."""
    return False


def is_nccl_available():
    """False: the NCCL backend (through CuPy) is not built yet."""
    return False


class Backend(str):
    """A backend name (torch.distributed.Backend): ember's is ``Backend.MPI``; "gloo" (PyTorch's CPU backend) is
    accepted and runs on MPI, so that PyTorch programs run unchanged."""
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
    """The reductions of collectives (torch.distributed.ReduceOp): ``ReduceOp.SUM``, ``PRODUCT``, ``MIN``,
    ``MAX``, ``BAND``, ``BOR``, ``BXOR`` and ``AVG`` (the sum divided by the group's size)."""

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
    """A group of ranks that run collectives together (torch.distributed.ProcessGroup): ``rank()`` and ``size()``
    are this process's rank in the group and the group's size; ``ranks`` the members' global ranks; ``timeout_s``
    how long a collective may wait for the others before it raises."""

    def __init__(self, mpi, comm, ranks, timeout_s):
        self._mpi, self.comm, self.ranks, self.timeout_s = mpi, comm, list(ranks), timeout_s
        self._rank, self._size = comm.Get_rank(), comm.Get_size()

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
    """``GroupMember.WORLD``: the default group; ``NON_GROUP_MEMBER``: what new_group returns to a rank it leaves
    out (collectives on it do nothing on that rank)."""
    NON_GROUP_MEMBER = -100


class group(metaclass=_WorldMeta):
    """``group.WORLD``: the default process group (torch.distributed.group.WORLD)."""


def is_initialized():
    """Whether the default process group has been initialized."""
    return _state.world is not None


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError("ember.distributed: the mpi backend needs mpi4py and an MPI library: "
                           f"pip install 'ember[mpi]' ({e})") from None
    return MPI


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group: every process of the job (started by ``ember launch`` or ``mpiexec``)
    calls it. The rank and world size come from MPI; world_size and rank, when given (or RANK and WORLD_SIZE in
    the environment), must agree with them. timeout (a timedelta or seconds, default 60 s) bounds how long a
    collective waits for the other ranks. init_method and store are not needed over MPI and are ignored.

    Mirrors torch.distributed.init_process_group."""
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


def destroy_process_group(group=None):
    """Leave a process group (None: the default group and every group made with new_group)."""
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
    """A process group of the given global ranks (None: all). Every rank of the default group must call it, also
    those it leaves out (they get GroupMember.NON_GROUP_MEMBER). Mirrors torch.distributed.new_group."""
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
    """This process's rank in group (default: the world); -1 if it is not a member."""
    pg = _resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    """The number of processes in group (default: the world); -1 for a rank outside it."""
    pg = _resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    """The group's backend name: "mpi"."""
    _resolve(group)
    return Backend.MPI


def get_process_group_ranks(group):
    """The global ranks of group's members."""
    pg = _resolve(group)
    return list(pg.ranks) if pg is not None else []


def get_global_rank(group, group_rank):
    """The global rank of the member group_rank of group."""
    pg = _resolve(group)
    if pg is None or not 0 <= group_rank < pg.size():
        raise ValueError(f"get_global_rank: group rank {group_rank} is not part of the group")
    return pg.ranks[group_rank]


def get_group_rank(group, global_rank):
    """The rank in group of the process with global rank global_rank."""
    pg = _resolve(group)
    if pg is None or global_rank not in pg.ranks:
        raise ValueError(f"get_group_rank: global rank {global_rank} is not part of the group")
    return pg.ranks.index(global_rank)
