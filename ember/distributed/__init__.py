"""ember.distributed: data-parallel training across processes and machines over MPI, with torch.distributed's names
and meanings (process groups, collectives, async work handles). Start the processes with ``ember launch -n 2
script.py`` or ``mpiexec -n 2 python script.py``; each calls ``init_process_group()``.

Without a process group it answers as PyTorch does: ``is_initialized()`` is False and a collective raises
ValueError. The MPI backend needs ``pip install 'ember[mpi]'`` (mpi4py and mpich)."""
from .errors import *  # noqa: F401,F403
from .process_group import *  # noqa: F401,F403
from .collectives import *  # noqa: F401,F403
from .objects import *  # noqa: F401,F403
from .work import Work  # noqa: F401
from . import errors, process_group, collectives, objects

__all__ = [*errors.__all__, *process_group.__all__, *collectives.__all__, *objects.__all__, "Work"]
