"""One rank of a job that ``ember launch`` started: ``python -m ember.distributed.run script.py ARGS``.

Sets RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE from the MPI launcher's environment (as torchrun does),
then runs the script as ``__main__``. A rank that dies of an uncaught exception stops the whole job at once, saying
which rank failed (the other ranks would otherwise wait for it until their timeout).
"""
import os
import runpy
import sys
import traceback

# the environment of MPICH's launcher (hydra), then Open MPI's
_RANK = ("PMI_RANK", "OMPI_COMM_WORLD_RANK")
_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_LOCAL_RANK = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK")
_LOCAL_SIZE = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")


def _first(env, names, default):
    return next((env[n] for n in names if n in env), default)


def rank_environment(env=os.environ):
    """torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE) as the MPI launcher's environment
    gives them (a process outside MPI: rank 0 of 1)."""
    return {"RANK": _first(env, _RANK, "0"), "WORLD_SIZE": _first(env, _SIZE, "1"),
            "LOCAL_RANK": _first(env, _LOCAL_RANK, "0"), "LOCAL_WORLD_SIZE": _first(env, _LOCAL_SIZE, "1")}


def set_rank_environment(env=os.environ):
    """Fill in torchrun's variables from the MPI launcher's (what is already set is kept); returns them."""
    values = rank_environment(env)
    for k, v in values.items():
        env.setdefault(k, v)
    return {k: env[k] for k in values}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m ember.distributed.run script.py [ARGS...]", file=sys.stderr)
        return 2
    env = set_rank_environment()
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit:
        raise
    except BaseException as e:
        traceback.print_exc()
        print(f"ember launch: rank {env['RANK']} of {env['WORLD_SIZE']} failed ({type(e).__name__}); stopping the "
              "job", file=sys.stderr, flush=True)
        from .process_group import end_job
        end_job(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
