"""ember.distributed, DistributedDataParallel, DistributedSampler and `ember launch` (issue 12).

The programs in tests/distributed/ run on 2 ranks over MPI on this machine (loopback); the fault tests give the
process group a 2 s timeout. Without mpi4py those tests are skipped."""
import os
import re
import subprocess
import sys
import time

import pytest

import ember
import ember.distributed as dist
from ember import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = os.path.join(ROOT, "tests", "distributed")
TIMEOUT_S = 2  # the process group's timeout in the fault tests


def _env():
    return dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


def _mpiexec():
    pytest.importorskip("mpi4py")
    from ember.distributed.launch import _mpiexec
    try:
        return _mpiexec()
    except RuntimeError:
        pytest.skip("no mpiexec")


def _program(program, *args, launch=False, ranks=2):
    """The command that runs tests/distributed/program ARGS on 2 ranks (or ranks): plain mpiexec, or `ember
    launch`."""
    path = os.path.join(PROGRAMS, program)
    if launch:
        return [sys.executable, "-m", "ember", "launch", "-n", str(ranks), path, *args]
    return [_mpiexec(), "-n", str(ranks), sys.executable, path, *args]


# The 2-rank programs, started together with the README's commands, `ember train --nproc 2` and the benchmark's
# smoke run (most of their time is process start-up and waiting, so together they take about as long as the
# slowest): name -> arguments.
JOBS = {"collectives": ("collectives.py",),
        "ddp": ("ddp_matches_one_process.py",),  # plain mpiexec: the process group reads its rank and size from MPI
        "ddp on 3": ("ddp_matches_one_process.py",),  # the shared-memory window's one-shot sums of three parts
        "ddp on 4": ("ddp_matches_one_process.py",),  # and its two-shot reduction beyond
        "hang": ("faults.py", "hang", str(TIMEOUT_S)),  # rank 1 sleeps 120 s at step 2
        "kill": ("faults.py", "kill", "60"),  # rank 1 is killed at step 2; 60 s: the job must not wait for it
        "raise": ("faults.py", "raise", "60")}
LAUNCHED = {"collectives", "hang", "kill"}  # these through `ember launch` (its variables, its message)
RANKS = {"ddp on 3": 3, "ddp on 4": 4}  # the others on 2


class _Job:
    def __init__(self, cmd):
        self.start = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=ROOT)
        self.result = None

    def wait(self):
        """(exit status, stdout, stderr, seconds from start to end)."""
        if self.result is None:
            out, err = self.proc.communicate(timeout=180)
            self.result = (self.proc.returncode, out, err, time.monotonic() - self.start)
        return self.result


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    _mpiexec()
    commands = {name: _program(*args, launch=name in LAUNCHED, ranks=RANKS.get(name, 2)) for name, args in JOBS.items()}
    readme = _readme_commands()
    for name, line in (("readme ember launch", readme[1]), ("readme mpiexec", readme[2])):  # as written
        argv = line.split()
        commands[name] = [sys.executable, "-m", "ember", *argv[1:]] if argv[0] == "ember" else \
            [_mpiexec(), *argv[1:3], sys.executable, *argv[4:]]
    run = str(tmp_path_factory.mktemp("ember-train") / "run")
    commands["train"] = [sys.executable, "-m", "ember", "train", os.path.join(ROOT, "examples", "configs",
                         "digits_mlp.yaml"), "--nproc", "2", "--set", "epochs=1", "--set", "scheduler=null", "--out",
                         run, "--no-plot"]
    compiled_run = str(tmp_path_factory.mktemp("ember-train-compiled") / "run")
    commands["train compiled"] = commands["train"][:-3] + ["--out", compiled_run, "--no-plot", "--compile"]
    commands["bench"] = [sys.executable, "-m", "bench.distributed", "--smoke"]
    started = {name: _Job(cmd) for name, cmd in commands.items()}
    started["train"].run_dir = run
    started["train compiled"].run_dir = compiled_run
    yield started
    for job in started.values():
        if job.proc.poll() is None:
            job.proc.kill()
        job.wait()


# --- on two ranks -------------------------------------------------------------------------------------------------
def test_every_collective_on_two_ranks(jobs):
    status, out, err, _ = jobs["collectives"].wait()
    assert status == 0 and out.strip() == "ok", err


@pytest.mark.parametrize("job", ["ddp", "ddp on 3", "ddp on 4"])
def test_ddp_gives_the_parameters_of_one_process_on_the_whole_batch(jobs, job):
    status, out, err, _ = jobs[job].wait()
    assert status == 0 and out.strip().endswith("ok"), out + err
    for case in ("buckets of 1 KB", "one bucket", "no_sync", "find_unused_parameters", "gradient_as_bucket_view",
                 "1 MB weight"):
        for path in ("shared memory", "Iallreduce"):
            assert any(case in line and path in line for line in out.splitlines()), (case, path)
    assert "DistributedTrainer, accumulate 4: max difference" in out  # one all-reduce per update
    for case in ("accumulate 1", "accumulate 2", "an unused parameter", "batch norm"):  # compile=True
        assert f"compiled DistributedTrainer, {case}: max difference" in out


def test_a_rank_that_hangs_makes_the_other_raise_within_the_timeout(jobs):
    # rank 0's gradient all-reduce raises after 2 s, and the job ends (aborted) long before rank 1 wakes up
    status, out, err, seconds = jobs["hang"].wait()
    assert status != 0 and seconds < 90, (status, seconds)
    assert "step 1" in out and "step 2" not in out
    assert f"DistBackendError: ember.distributed.DistributedDataParallel gradient all-reduce: rank 0 timed out " \
           f"after {TIMEOUT_S} s waiting for the other ranks" in err
    assert "ember launch: the job of 2 ranks failed" in err


def test_a_rank_that_is_killed_ends_the_job_with_a_message(jobs):
    status, out, err, seconds = jobs["kill"].wait()
    assert status != 0 and seconds < 50, (status, seconds)  # not waiting for the 60 s timeout
    assert "step 1" in out and "step 2" not in out
    assert "ember launch: the job of 2 ranks failed (exit status 9)" in err


def test_a_rank_that_raises_stops_the_job_at_once_and_names_itself(jobs):
    status, out, err, seconds = jobs["raise"].wait()
    assert status != 0 and seconds < 50, (status, seconds)
    assert "ValueError: rank 1 broke" in err and "ember.distributed: rank 1 of 2 failed (ValueError)" in err


# --- in this process ------------------------------------------------------------------------------------------
def test_without_a_process_group_it_answers_as_pytorch(torch):
    assert dist.is_initialized() is torch.distributed.is_initialized() is False
    for name in ("get_rank", "get_world_size"):
        with pytest.raises(ValueError) as ours:
            getattr(dist, name)()
        with pytest.raises(ValueError) as theirs:
            getattr(torch.distributed, name)()
        assert str(ours.value) == str(theirs.value)
    for call in (lambda: dist.all_reduce(ember.zeros(2)), dist.barrier, dist.destroy_process_group):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    theirs = torch.distributed.ReduceOp.RedOpType.__members__
    assert {k: int(v) for k, v in dist.ReduceOp.RedOpType.__members__.items()} == \
        {k: int(v) for k, v in theirs.items() if k != "PREMUL_SUM" and k != "UNUSED"}
    assert dist.ReduceOp.SUM != dist.ReduceOp.MAX
    with pytest.raises(ValueError, match="nccl backend is not built yet"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="unknown backend 'tcp'"):
        dist.init_process_group("tcp")
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):  # as PyTorch
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_post_accumulate_grad_hooks_run_as_soon_as_the_leaf_is_done_as_pytorch(torch):
    def events(lib):
        lib.manual_seed(0)
        first, second = lib.nn.Linear(3, 4), lib.nn.Linear(4, 2)
        log = []
        for name, p in (("first", first.weight), ("second", second.weight)):
            p.register_post_accumulate_grad_hook(lambda t, name=name: log.append((name, t.grad is not None)))
        h = first(lib.ones(5, 3))
        h.register_hook(lambda g: log.append(("h", True)))
        second(h).sum().backward()
        handle = second.bias.register_post_accumulate_grad_hook(lambda t: log.append(("bias", True)))
        handle.remove()
        second(first(lib.ones(5, 3))).sum().backward()
        return log

    # second.weight's gradient is complete before the backward reaches h: its hook runs first
    assert events(ember) == events(torch) == [("second", True), ("h", True), ("first", True), ("second", True),
                                              ("first", True)]
    with pytest.raises(RuntimeError, match="non-leaf"):
        (ember.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 4, False), (10, 4, True), (3, 4, False), (8, 2, True)])
def test_distributed_sampler_without_shuffle_is_pytorch(torch, n, replicas, drop_last):
    from ember.utils.data import DistributedSampler
    assert DistributedSampler is ember.data.DistributedSampler
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch.utils.data.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(ValueError, match=r"Invalid rank 4, rank should be in the interval \[0, 3\]"):
        DistributedSampler(range(n), 4, 4)


def test_distributed_sampler_shuffles_one_permutation_per_epoch_split_across_ranks():
    from ember.data import DistributedSampler
    samplers = [DistributedSampler(range(11), 3, r, seed=5) for r in range(3)]
    first = [list(s) for s in samplers]
    assert all(len(part) == 4 for part in first)
    together = [i for part in zip(*first) for i in part]
    assert sorted(together[:11]) == list(range(11)) and together[11:] == together[:1]  # padded with the first
    assert [list(s) for s in samplers] == first  # the same epoch: the same order
    for s in samplers:
        s.set_epoch(1)
    assert [list(s) for s in samplers] != first
    assert {i for s in samplers for i in s} == set(range(11))


def test_launch_builds_mpiexec_commands_and_sets_torchrun_variables(tmp_path):
    pytest.importorskip("mpi4py")  # rerun_command finds mpiexec
    from ember.distributed.launch import mpiexec_command, rerun_command
    from ember.distributed.run import set_rank_environment
    cmd = mpiexec_command(2, "train.py", ["--lr", "0.1"], python="py", mpiexec="mpiexec")
    assert cmd == ["mpiexec", "-n", "2", "py", "-m", "ember.distributed.run", "train.py", "--lr", "0.1"]
    assert mpiexec_command(4, "t.py", hosts="a:2,b:2", python="py", mpiexec="m")[3:5] == ["-hosts", "a:2,b:2"]
    hostfile = tmp_path / "hosts"
    hostfile.write_text("node1:2\nnode2:2\n")
    assert mpiexec_command(4, "t.py", hosts=str(hostfile), python="py", mpiexec="m")[3:5] == ["-f", str(hostfile)]
    rerun = rerun_command(["train", "c.yaml", "--nproc", "2", "--set", "epochs=1", "--nproc=3"], 2, ["--out", "r"])
    assert rerun[1:] == ["-n", "2", sys.executable, "-m", "ember", "train", "c.yaml", "--set", "epochs=1", "--out",
                         "r"]
    env = {"PMI_RANK": "3", "PMI_SIZE": "4", "MPI_LOCALRANKID": "1", "MPI_LOCALNRANKS": "2"}
    assert set_rank_environment(env) == {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}


def test_ember_launch_checks_its_arguments(capsys):
    from ember.cli import main
    assert main(["launch", "-n", "2", "no/such/script.py"]) == 2
    assert "no/such/script.py: no such script" in capsys.readouterr().err


def _readme_commands():
    """The shell commands of the README's section on several processes."""
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text[text.index("## Training on several processes (MPI)"):]
    block = section[section.index("```bash\n") + 8:section.index("```\n", section.index("```bash\n") + 8)]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_the_readme_commands_run(jobs):
    commands = _readme_commands()
    assert commands[0] == "pip install '.[mpi]'" and len(commands) == 4
    printed = []
    for name in ("readme ember launch", "readme mpiexec"):  # the two ways to start 2 processes on this machine
        status, out, err, _ = jobs[name].wait()
        assert status == 0, err
        printed.append(out.strip())
    assert printed[0] == printed[1] and printed[0].startswith("2 ranks, 2 epochs: test accuracy"), printed
    assert float(printed[0].split()[-1]) > 0.9
    # the two-machine line: ember launch's parser and mpiexec's command
    from ember.distributed.launch import _parser, mpiexec_command
    args = _parser().parse_args(commands[3].split()[2:])
    assert (args.nproc, args.hosts, args.script) == (4, "node1:2,node2:2", "examples/digits_ddp.py")
    assert mpiexec_command(args.nproc, args.script, hosts=args.hosts, mpiexec="mpiexec", python="py") == \
        ["mpiexec", "-n", "4", "-hosts", "node1:2,node2:2", "py", "-m", "ember.distributed.run",
         "examples/digits_ddp.py"]


def test_ember_train_on_two_ranks_prints_and_writes_once_and_resumes_on_one(jobs):
    status, out, err, _ = jobs["train"].wait()
    run = jobs["train"].run_dir
    assert status == 0, err
    assert out.count("ember train:") == 1 and "; 2 processes;" in out  # rank 0 alone prints
    assert out.count("Epoch 1/1") == 1 and out.count("run saved to") == 1
    assert sorted(os.listdir(run)) == ["best.safetensors", "config.yaml", "last.safetensors", "metrics.csv",
                                       "results.json"]
    ember_cmd = [sys.executable, "-m", "ember"]
    p = subprocess.run([*ember_cmd, "resume", run, "--set", "epochs=2", "--no-plot"], env=_env(),
                       capture_output=True, text=True, timeout=120)  # one process continues the 2-rank run
    assert p.returncode == 0 and "from " in p.stdout and "Epoch 2/2" in p.stdout, p.stderr
    with open(os.path.join(run, "metrics.csv")) as f:
        assert [line.split(",")[0] for line in f.read().splitlines()] == ["epoch", "0", "1"]


def test_ember_train_on_two_ranks_compiled_trains_as_eagerly(jobs):
    """`ember train --nproc 2 --compile`: the compiled steps on each rank, the gradients averaged before each
    update; the run prints the eager 2-rank run's losses and metrics (to the 4 digits printed)."""
    status, out, err, _ = jobs["train compiled"].wait()
    assert status == 0, err
    assert out.count("ember train:") == 1 and "compiled (ember.compile); 2 processes;" in out
    eager_status, eager_out, eager_err, _ = jobs["train"].wait()
    assert eager_status == 0, eager_err

    def numbers(text):  # the epoch's logs (without its memory, speed and time) and the test results
        lines = [line for line in text.splitlines() if line.startswith(("Epoch 1/1", "test (last weights"))]
        return [[f for f in line.split(" - ") if not re.fullmatch(r"peak_memory_mib: .*|\d+ samples/s|[\d.]+s", f)]
                for line in lines]

    assert len(numbers(out)) == 2 and numbers(out) == numbers(eager_out)


def test_the_mpi_extra_brings_mpi4py_and_mpich_and_ci_installs_it():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    assert sorted(r.split(">")[0] for r in extras["mpi"]) == ["mpi4py", "mpich"]
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        assert "pip install -q '.[mpi]'" in f.read().splitlines()


def test_bench_distributed_smoke(jobs):
    status, out, err, _ = jobs["bench"].wait()
    assert status == 0, err
    assert "all_reduce, 2 ranks" in out and "DDP on 2 ranks" in out
