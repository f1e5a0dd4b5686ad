"""``ember launch -n N [--hosts HOSTS] script.py ARGS``: start N processes of a script over the MPI launcher
(mpiexec), each with RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE set as torchrun sets them."""
import argparse
import os
import shutil
import subprocess
import sys

__all__ = ["mpiexec_command", "rerun_command", "main"]


def _mpiexec():
    """The MPI launcher: the one installed beside this Python (the mpich wheel puts it there), else on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.access(here, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        raise RuntimeError("ember launch: mpiexec not found: pip install 'ember[mpi]' (mpi4py and mpich)")
    return found


def mpiexec_command(nproc, script, args=(), hosts=None, python=None, mpiexec=None):
    """The mpiexec command line that runs script with args on nproc ranks. hosts: a hostfile (MPI's: one host a
    line, ``host:slots``) or a comma-separated list of hosts (``a:2,b:2``); None: this machine."""
    cmd = [mpiexec or _mpiexec(), "-n", str(nproc)]
    if hosts:
        cmd += ["-f", hosts] if os.path.isfile(hosts) else ["-hosts", hosts]
    return cmd + [python or sys.executable, "-m", "ember.distributed.run", script, *args]


def rerun_command(argv, nproc, extra=()):
    """The mpiexec command line that runs `ember ARGV` (less its --nproc option, plus extra) on nproc ranks: how
    `ember train --nproc N` starts its ranks."""
    child, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            child.append(a)
    return [_mpiexec(), "-n", str(nproc), sys.executable, "-m", "ember", *child, *extra]


def _parser():
    p = argparse.ArgumentParser(
        prog="ember launch", description="Run a training script on several processes over MPI, each with RANK, "
        "WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE set (as torchrun); the script calls "
        "ember.distributed.init_process_group().")
    p.add_argument("-n", "--nproc", type=int, required=True, metavar="N", help="the number of processes (ranks)")
    p.add_argument("--hosts", help="the machines: an MPI hostfile (one host a line, host:slots), or a comma-separated "
                                   "list such as node1:2,node2:2 (default: this machine)")
    p.add_argument("script", help="the Python script each rank runs")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return p


def main(argv):
    """Run the job; returns its exit status, with a line naming what happened when a rank failed or died."""
    args = _parser().parse_args(argv)
    if args.nproc < 1:
        print("ember launch: error: -n must be at least 1", file=sys.stderr)
        return 2
    if not os.path.isfile(args.script):
        print(f"ember launch: error: {args.script}: no such script", file=sys.stderr)
        return 2
    try:
        cmd = mpiexec_command(args.nproc, args.script, args.args, args.hosts)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    status = subprocess.run(cmd).returncode
    if status != 0:
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        print(f"ember launch: the job of {args.nproc} ranks failed ({how}): a rank failed, died or timed out "
              "waiting for another (its messages are above); the other ranks were stopped", file=sys.stderr)
    return status
