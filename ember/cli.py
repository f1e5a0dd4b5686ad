"""The `ember` command line: train from a config file, evaluate, predict, resume, time and summarise models, info.

    ember train [CONFIG.yaml] [--set key=value ...] [--out DIR [--force]] [--compile]  # no config: digits CNN
    ember eval CONFIG --checkpoint PATH                          # test metrics of a checkpoint
    ember predict CONFIG --checkpoint PATH [--input x.npy] [--output preds.npy]
    ember resume RUN_DIR                                         # continue a run from its last checkpoint
    ember time MODEL_OR_CONFIG [--batch N] [--iterations N] [--input-shape C,H,W] [--compile]
    ember summary MODEL_OR_CONFIG [--input-shape C,H,W]
    ember export MODEL_OR_RUN_DIR --format onnx -o model.onnx    # a zoo name, a run directory or a config
    ember info
    ember --version                                              # also: python -m ember ...

The config format is described in ember/config.py (and examples/configs/). A bad config or bad usage exits with
status 2 and a message naming the file and the key; data that cannot be read, a model that does not fit its data,
a file that cannot be written exit with status 1; each with one line `ember COMMAND: error: ...` on stderr.
Diagnostics (notes, warnings) go through the `logging` logger "ember" to stderr; stdout has the command's output.

Threads: the commands that compute run on --threads N CPU threads (the config's `threads`, else 1). One thread is
the default because a multi-threaded BLAS collapses when the cores are busy (see _default_threads).
"""
import argparse
import contextlib
import json
import logging
import os
import pickle
import re
import shutil
import sys
import time

log = logging.getLogger("ember.cli")


def _info(args):
    """Print the version, NumPy and its BLAS, devices, and which optional packages are installed."""
    import importlib.util

    import numpy as np

    import ember

    print(f"ember {ember.__version__}")
    print(f"python {sys.version.split()[0]}")
    print(f"numpy {np.__version__} (BLAS: {_blas_name()})")
    print(f"threads: {ember.get_num_threads()} (ember.set_num_threads)")
    print(f"threads of the ember commands: {_default_threads()} (--threads N, or threads: N in a config)")
    gpus = range(ember.cuda.device_count()) if ember.cuda.is_available() else ()
    print("devices: " + ", ".join(["cpu"] + [f"cuda:{i}" for i in gpus]))
    print("GPU: " + _gpu_status(ember, gpus))
    for what, names in [("optional packages", _OPTIONAL), ("test references", _TEST_REFERENCES)]:
        found = [name for name in names if importlib.util.find_spec(name) is not None]
        missing = [name for name in names if name not in found]
        print(f"{what} found: " + (", ".join(f"{n} ({names[n]})" for n in found) or "none"))
        print(f"{what} missing: " + (", ".join(f"{n} ({names[n]})" for n in missing) or "none"))
    return 0


def _gpu_status(ember, gpus):
    """The GPUs that `ember info` lists (name, compute capability, memory), or why there are none."""
    if not ember.backends.cuda.is_built():
        return "none (CUDA runs through CuPy, which is not installed: pip install ember[gpu])"
    if not gpus:
        return "none (CuPy is installed, but it finds no GPU or no driver)"
    described = []
    for i in gpus:
        p = ember.cuda.get_device_properties(i)
        described.append(f"cuda:{i} {p.name} (sm_{p.major}{p.minor}, {p.total_memory >> 20} MiB)")
    return "; ".join(described)


# The packages ember imports when they are installed, and what for (`ember info` lists them) ...
_OPTIONAL = {"ml_dtypes": "bfloat16, float8", "cupy": "CUDA devices", "yaml": "YAML configs",
             "tqdm": "progress bars", "matplotlib": "run plots", "threadpoolctl": "threads of other BLAS libraries",
             "mpi4py": "training on several processes, ember launch"}
# ... and those only the test suite and the benchmarks use, to compare ember with.
_TEST_REFERENCES = {"torch": "comparisons, benchmarks", "safetensors": "file format checks",
                    "tensorboard": "reads ember's event files"}


def _blas_name():
    import numpy as np
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        return "unknown"


# --- configs --------------------------------------------------------------------------------------------------
def _config(path, sets, threads=None):
    """(resolved config, source name): the file at path (a run directory means its config.yaml), or the built-in
    default when path is None, with the --set overrides applied (and --threads, which wins over the config's)."""
    from ember import config as C
    if path is None:
        raw, src = C.DEFAULT_CONFIG, "default config"
    else:
        src = os.path.join(path, "config.yaml") if os.path.isdir(path) else path
        raw = C.load_config(src)
    cfg = C.resolve(C.apply_overrides(raw, sets, src), src)
    if threads is not None:
        cfg["threads"] = threads
    return cfg, src


def _default_threads():
    """The CPU threads of a command that neither --threads nor the config sets: 1, unless the environment names a
    count (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS: then the BLAS's count, as the user chose).

    Why 1: a multi-threaded BLAS (OpenBLAS spins its threads) collapses when other processes hold the cores, and
    at most halves a step on an idle 2-core machine. Measured on this project's 2-core machine, shared with other
    jobs (load average 1.5 to 8): `ember train` (digits CNN, 5 epochs, wall time with start-up) 1.7-2.7 s on 1
    thread against 2.9-3.7 s on 2, and with two more busy processes 3.3-4.5 s against 4.5-11.8 s; a training step of
    an MLP 784-512-512-10 at batch 128 (matmul-bound) 9-12 ms against 39-142 ms, and with two busy processes
    38-47 ms against 347 ms. A dedicated machine gains by asking for more: --threads N or `threads: N`."""
    import ember
    if any(os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")):
        return ember.get_num_threads()
    return 1


def _use_threads(n):
    """Run ember's CPU ops on n threads (None: the default); returns the count."""
    import ember
    n = n or _default_threads()
    ember.set_num_threads(n)
    return n


class _Run:
    """Everything a config builds: data loaders, model, optimizer, scheduler, loss and a Trainer."""

    def __init__(self, cfg, src, splits=("train", "val", "test")):
        import ember
        from ember import config as C
        from ember.device import to_device
        from ember.train import Trainer
        self.cfg, self.src = cfg, src
        try:
            to_device(cfg["device"]).xp  # the array module: CuPy must be there for a cuda device
        except (ValueError, RuntimeError, TypeError, AssertionError) as e:
            raise C.ConfigError(f"{src}: device: {e}") from None
        cfg["threads"] = _use_threads(cfg["threads"])
        if cfg["seed"] is not None:
            ember.manual_seed(cfg["seed"])
        self.data = C.build_data(cfg, splits, src)
        self.model, cfg["model"] = C.build_model(cfg, self.data.info, src)
        self.optimizer = C.build_optimizer(cfg, self.model, src)
        steps = len(self.data.train) if self.data.train is not None else 1
        trainer_class = Trainer
        if _world_size() > 1:  # ember train --nproc: this rank's share of each batch, and DDP steps
            from ember.train.distributed import DistributedTrainer, shard_loader
            try:
                self.data.train = shard_loader(self.data.train, cfg["seed"] or 0)
            except ValueError as e:
                raise C.ConfigError(f"{src}: data.batch_size: {e}") from None
            trainer_class = DistributedTrainer
            steps = len(self.data.train)
        self.scheduler, interval = C.build_scheduler(cfg, self.optimizer, steps, src)
        self.trainer = trainer_class(self.model, self.optimizer, C.build_loss(cfg, src), C.build_metrics(cfg),
                                     scheduler=self.scheduler, device=cfg["device"], grad_clip=cfg["grad_clip"],
                                     scheduler_interval=interval, compile=cfg["compile"],
                                     precision=cfg["precision"])

    def describe(self):
        n = sum(p.numel() for p in self.model.parameters())
        sizes = ", ".join(f"{v} {k}" for k, v in self.data.sizes().items())
        return f"model {_model_name(self.cfg)} ({n:,} parameters); data {self.cfg['data']['dataset']} ({sizes})"


def _model_name(cfg):
    m = cfg["model"]
    return m["zoo"] if isinstance(m, dict) else f"Sequential of {len(m)} layers"


def _format_metrics(metrics):
    return " ".join(f"{k} {v:.4f}" for k, v in metrics.items())


def _default_out(cfg, src):
    name = cfg["name"] or (os.path.splitext(os.path.basename(src))[0] if src != "default config" else "run")
    base = os.path.join("runs", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    out, i = base, 1
    while os.path.exists(out):
        out, i = f"{base}-{i}", i + 1
    return out


# the files of a run directory (`ember train --force` removes them before a new run is written there)
_RUN_FILES = ("config.yaml", "metrics.csv", "results.json", "curves.png", "best.safetensors", "last.safetensors",
              "interrupted.safetensors", "tensorboard")


def _run_files(out):
    """The files (and the tensorboard folder) an earlier run left in directory out."""
    if not os.path.isdir(out):
        return []
    return [name for name in sorted(os.listdir(out))
            if name in _RUN_FILES or re.fullmatch(r"epoch\d+\.safetensors", name)]


def _check_out(out, force):
    """The files of the run already in out: an error unless --force (which then replaces that run)."""
    found = _run_files(out)
    if found and not force:
        raise _Failure(f"--out {out} already holds a run ({', '.join(found)}): continue it with `ember resume "
                       f"{out}`, write elsewhere with another --out, or replace it with --force")
    return found


def _clear_run(out, names):
    for name in names:
        path = os.path.join(out, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def _callbacks(out, append, plot=True):
    from ember.train import CSVLogger, ModelCheckpoint, PlotHistory
    cbs = [ModelCheckpoint(dirpath=out), CSVLogger(os.path.join(out, "metrics.csv"), append=append)]
    if not plot:
        return cbs
    try:
        cbs.append(PlotHistory(os.path.join(out, "curves.png"), title=os.path.basename(os.path.abspath(out))))
    except ImportError:
        log.warning("matplotlib is not installed, so curves.png is not drawn (pip install matplotlib)")
    return cbs


def _fit(run, out, resume_from=None, verbose=None, plot=True, callbacks=()):
    """Train (or continue) the run, writing to out; print and save the test metrics of its last and its best
    weights. Returns 0, or 130 when Ctrl-C stopped training (no test then: the run is not finished)."""
    from ember import config as C
    cfg = run.cfg
    writer = _rank() == 0  # on several ranks, rank 0 alone writes the run directory
    os.makedirs(out, exist_ok=True)
    if writer:
        with open(os.path.join(out, "config.yaml"), "w", encoding="utf-8") as f:
            f.write(C.dump_yaml(cfg))
    if verbose is None:
        verbose = 1 if getattr(sys.stdout, "isatty", lambda: False)() else 2
    if resume_from is not None and writer:
        _restore_metrics(os.path.join(out, "metrics.csv"), run.trainer.history)
        with contextlib.suppress(FileNotFoundError):  # the results of the run before it goes on
            os.remove(os.path.join(out, "results.json"))
    # ModelCheckpoint after EarlyStopping: a checkpoint holds the callbacks' state as it is when it is written
    callbacks = [*callbacks, *C.build_callbacks(cfg, out, has_val=run.data.val is not None),
                 *_callbacks(out, append=resume_from is not None, plot=plot)]
    if not writer:  # the other ranks keep the callbacks that decide (EarlyStopping), not those that write
        from ember.train import CSVLogger, ModelCheckpoint, PlotHistory, TensorBoard
        writers = (CSVLogger, ModelCheckpoint, PlotHistory, TensorBoard)
        callbacks = [c for c in callbacks if not isinstance(c, writers)]
    run.trainer.resume_hint = f"ember resume {out}"
    try:
        with _model_errors("training", run):
            run.trainer.fit(run.data.train, epochs=cfg["epochs"], val=run.data.val, callbacks=callbacks,
                            resume_from=resume_from, verbose=verbose)
    except OSError as e:  # a full disk: what failed, and what is left to resume from
        kept = _latest_checkpoint(out)
        then = (f"the run is kept up to its last checkpoint ({kept}): make room, then continue with: ember resume "
                f"{out}" if kept else "no checkpoint was saved yet")
        raise _Failure(f"{_os_error(e)}; {then}") from None
    if run.trainer.interrupted:  # the trainer printed where it stopped and how to continue
        return 130
    if not writer:
        return 0
    results = {"epochs": run.trainer.epoch, **_test_last_and_best(run, out)}
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    files = [f for f in ("config.yaml", "best.safetensors", "last.safetensors", "metrics.csv", "curves.png",
                         "results.json") if os.path.exists(os.path.join(out, f))]
    peaks = run.trainer.history.history.get("peak_memory_mib") or []
    if peaks:
        print(f"peak tensor memory of an epoch above the model: {max(peaks):.2f} MiB (ember.memory; per epoch in "
              "metrics.csv)")
    print(f"run saved to {out} ({', '.join(files)})")
    return 0


def _test_last_and_best(run, out):
    """The test metrics of the last weights and of the run's best checkpoint, printed with which weights each line
    used; {"last": {epoch, test}, "best": {epoch, monitor, value, test}} for results.json."""
    import ember
    if run.data.test is None:
        return {}
    with _model_errors("evaluation", run):
        last = run.trainer.evaluate(run.data.test)
    print(f"test (last weights, epoch {run.trainer.epoch}): {_format_metrics(last)}")
    results = {"last": {"epoch": run.trainer.epoch, "test": last}}
    path = os.path.join(out, "best.safetensors")
    if os.path.isfile(path):
        try:
            state = ember.load(path)
            run.model.load_state_dict(state["model"])
        except _CHECKPOINT_ERRORS as e:
            log.warning(f"the best weights are not tested: {_about(path, e)}")
            return results
        with _model_errors("evaluation", run):
            best = run.trainer.evaluate(run.data.test)
        print(f"test ({_weights_label(path, state)}): {_format_metrics(best)}")
        extra = state.get("extra") or {}
        results["best"] = {"epoch": state.get("epoch"), "monitor": extra.get("monitor"),
                           "value": extra.get("monitor_value"), "test": best}
    return results


def _weights_label(path, state):
    """Which weights a checkpoint holds, e.g. 'best weights, epoch 13, val_loss 0.0712'."""
    kind = {"best.safetensors": "best weights", "last.safetensors": "last weights",
            "interrupted.safetensors": "weights saved on Ctrl-C"}.get(os.path.basename(path), "weights")
    if not isinstance(state, dict) or type(state.get("epoch")) is not int:
        return kind
    extra = state.get("extra") if isinstance(state.get("extra"), dict) else {}
    position = extra.get("position") if isinstance(extra.get("position"), dict) else {}
    label = f"{kind}, epoch {state['epoch']}"
    if position.get("batches"):
        label += f" + {position['batches']} batches"
    monitor, value = extra.get("monitor"), extra.get("monitor_value")
    if kind == "best weights" and isinstance(monitor, str) and isinstance(value, (int, float)):
        label += f", {monitor} {value:.4f}"
    return label


def _restore_metrics(path, history):
    """Rewrite metrics.csv from the history of the checkpoint a run resumes from: a crash, Ctrl-C or a full disk
    between a checkpoint and its row of metrics.csv can leave the file behind or ahead of the checkpoint."""
    from ember.train.loggers import CSVWriter
    tmp = path + ".tmp"
    try:
        writer = CSVWriter(tmp)
        try:
            for i, epoch in enumerate(history.epoch):
                writer.write({"epoch": epoch, **{k: v[i] for k, v in history.history.items() if i < len(v)}})
        finally:
            writer.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def _model_errors(what, run):
    """A model that does not fit its data (shapes, classes, dtypes) fails in the middle of training: one error
    line naming the model and the data, not a traceback."""
    try:
        yield
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        raise _Failure(f"{what} failed: {run.describe()}: {_one_line(e)}") from None


def _world_size():
    """The number of processes of the MPI job this command runs in (1 outside mpiexec)."""
    from ember.distributed.run import rank_environment
    return int(rank_environment()["WORLD_SIZE"])


def _rank():
    from ember.distributed.run import rank_environment
    return int(rank_environment()["RANK"])


def _relaunch(args, extra):
    """Run this command again on args.nproc ranks over MPI (without --nproc); returns the job's exit status."""
    import subprocess
    from ember.distributed.launch import rerun_command
    try:
        cmd = rerun_command(args.argv, args.nproc, extra)
    except RuntimeError as e:
        raise _Failure(str(e).replace("ember launch: ", "")) from None
    return subprocess.run(cmd).returncode


def _join_world():
    """On several MPI ranks: join the process group, and keep stdout and ember's log to rank 0. Returns the rank."""
    if _world_size() == 1:
        return 0
    import ember.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group("mpi")
    rank = dist.get_rank()
    if rank != 0:
        _drop_stdout()
        logging.getLogger("ember").setLevel(logging.WARNING)
    return rank


def _train(args):
    cfg, src = _config(args.config, args.set, args.threads)
    if args.compile:
        cfg["compile"] = True
    if args.print_config:
        from ember import config as C
        print(C.dump_yaml(cfg), end="")
        return 0
    out = args.out or cfg["out"] or _default_out(cfg, src)
    cfg["out"] = out
    if (args.nproc or 1) > 1 and _world_size() == 1:  # each rank runs this command again, with the same --out
        _check_out(out, args.force)
        return _relaunch(args, ["--out", out])
    rank = _join_world()
    earlier = _check_out(out, args.force) if rank == 0 else []
    run = _Run(cfg, src)
    _clear_run(out, earlier)  # --force, once the new run is known to build
    compiled = "; compiled (ember.compile)" if cfg["compile"] else ""
    compiled += f"; {cfg['precision']} mixed precision (ember.autocast)" if cfg["precision"] != "32" else ""
    ranks = f"; {_world_size()} processes" if _world_size() > 1 else ""
    print(f"ember train: {run.describe()}; {cfg['epochs']} epochs{compiled}{ranks}; writing to {out}")
    return _fit(run, out, verbose=0 if args.quiet else None, plot=not args.no_plot)


def _resume(args):
    run_dir = args.run_dir
    if not os.path.isfile(os.path.join(run_dir, "config.yaml")):
        raise _Failure(f"{run_dir}: not a run directory (no config.yaml in it)")
    ckpt = _latest_checkpoint(run_dir)
    if ckpt is None:
        raise _Failure(f"{run_dir}: no checkpoint to resume from (last.safetensors is missing)")
    if (args.nproc or 1) > 1 and _world_size() == 1:
        return _relaunch(args, [])
    _join_world()
    cfg, src, tuned = _resume_config(run_dir, args.set, args.threads)
    cfg["out"] = run_dir
    run = _Run(cfg, src)
    wanted = [{k: g[k] for k in tuned} for g in run.optimizer.param_groups]  # as the optimizer took them
    try:  # a corrupt or foreign checkpoint is an error line, before anything is written to the run
        done = run.trainer.load_checkpoint(ckpt)
    except _CHECKPOINT_ERRORS as e:
        raise _Failure(f"cannot resume: {_about(ckpt, e)}") from None
    print(f"ember resume: {run.describe()}; from {ckpt} (epoch {done}) to epoch {cfg['epochs']}")
    for k in tuned:
        log.info(f"optimizer.{k}: {run.optimizer.param_groups[0][k]} in the checkpoint, {wanted[0][k]} from here on")
    if done >= cfg["epochs"]:
        log.warning(f"already trained for {done} epochs (the config asks for {cfg['epochs']}; raise it with "
                    "--set epochs=N)")
    callbacks = []
    if tuned:  # after fit has loaded the checkpoint, whose optimizer state holds the old values
        from ember.train import LambdaCallback

        def retune(logs=None):
            for group, values in zip(run.optimizer.param_groups, wanted):
                group.update(values)
        callbacks.append(LambdaCallback(on_train_begin=retune))
    return _fit(run, run_dir, resume_from=ckpt, verbose=0 if args.quiet else None, plot=not args.no_plot,
                callbacks=callbacks)


# What `ember resume --set` may not change: the checkpoint fixes the model, the data and its split, the loss and
# the metrics (the columns of metrics.csv), the random state (seed), the optimizer's kind and the scheduler's state.
_FIXED_ON_RESUME = ("model", "data", "loss", "metrics", "seed", "scheduler", "optimizer.name", "out")
_FREE_DATA_KEYS = ("data.root", "data.download", "data.num_workers")  # where the data comes from, not what it is
_MISSING = object()


def _resume_config(run_dir, sets, threads):
    """(config, source, the optimizer hyper-parameters that --set changes) of a resumed run.

    --set may change what the checkpoint does not fix: epochs, grad_clip, device, threads, the callbacks' keys, and
    the optimizer's hyper-parameters (lr, momentum, weight_decay, ...), which apply from the resumed step on, as
    setting them in param_groups after optimizer.load_state_dict does in PyTorch; config.yaml records them. The
    rest is refused, as is a change the scheduler would silently undo (lr, or epochs that laid out its length)."""
    from ember import config as C
    saved, src = _config(run_dir, [], threads)
    cfg, _ = _config(run_dir, sets, threads)
    before, after = _flat(saved), _flat(cfg)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k, _MISSING) != after.get(k, _MISSING))
    for key in changed:
        why = _fixed_on_resume(key, saved)
        if why:  # named as the user wrote it (--set model.0.Conv2d=... changes the list `model`)
            given = [k.strip() for k, _, _ in (item.partition("=") for item in sets)]
            key = next((k for k in given if key == k or key.startswith(k + ".") or k.startswith(key + ".")), key)
            raise C.ConfigError(f"{src}: --set {key}: {why}, and a resumed run continues its checkpoint; start a "
                                f"new run for that: ember train {run_dir} --set {key}=... --out NEW_DIR")
    return cfg, src, [k.split(".", 1)[1] for k in changed if k.startswith("optimizer.")]


def _fixed_on_resume(key, saved):
    """Why --set key cannot change on resume, or None."""
    if key in _FREE_DATA_KEYS:
        return None
    sched = saved["scheduler"]
    if key == "optimizer.lr" and sched is not None:
        return f"the scheduler ({sched['name']}) sets the learning rate, from its saved state"
    if key == "epochs" and sched is not None and (
            (sched["name"] == "CosineAnnealingLR" and "T_max" not in sched)
            or (sched["name"] == "OneCycleLR" and not {"total_steps", "steps_per_epoch", "epochs"} & set(sched))):
        return f"the {sched['name']} schedule was laid out for epochs={saved['epochs']} (its saved state keeps that)"
    fixed = next((f for f in _FIXED_ON_RESUME if key == f or key.startswith(f + ".")), None)
    return None if fixed is None else f"the checkpoint fixes {fixed}"


def _flat(cfg, prefix=""):
    """{dotted key: value} of a config's leaves (lists are leaves)."""
    flat = {}
    for k, v in cfg.items():
        if isinstance(v, dict) and v:
            flat.update(_flat(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def _latest_checkpoint(run_dir):
    """last.safetensors, or interrupted.safetensors (Ctrl-C) when that one is newer."""
    paths = [os.path.join(run_dir, n) for n in ("last.safetensors", "interrupted.safetensors")]
    paths = [p for p in paths if os.path.isfile(p)]
    return max(paths, key=os.path.getmtime) if paths else None


def _load_weights(model, path):
    """Load a checkpoint from `ember train` (or ember.io.save_checkpoint), or a plain state_dict file, into model;
    returns what the file holds."""
    import ember
    if not os.path.isfile(path):
        raise _Failure(f"{path}: no such checkpoint file")
    try:
        saved = state = ember.load(path)
    except _CHECKPOINT_ERRORS as e:
        raise _Failure(f"cannot read the checkpoint: {_about(path, e)}") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise _Failure(f"{path}: not a checkpoint or state dict (it holds a {type(state).__name__})")
    try:
        model.load_state_dict(state)
    except _CHECKPOINT_ERRORS as e:
        raise _Failure(f"{path}: the checkpoint does not fit the config's model: {_one_line(e)}") from None
    return saved


# what reading a corrupt, foreign or mismatched checkpoint raises (ember.serialization.InvalidCheckpointError is a
# ValueError; a pickled object refused by weights-only loading, pickle.UnpicklingError)
_CHECKPOINT_ERRORS = (ValueError, RuntimeError, OSError, KeyError, TypeError, pickle.UnpicklingError)


def _one_line(error):
    return " ".join(str(error).split())


def _about(path, error):
    """The error's message on one line, naming the checkpoint file once."""
    message = _one_line(error)
    return message if str(path) in message else f"{path}: {message}"


def _checkpoint_arg(args):
    if args.checkpoint:
        return args.checkpoint
    if os.path.isdir(args.config):
        return os.path.join(args.config, "best.safetensors")
    raise _Failure("--checkpoint PATH is needed (or give a run directory instead of a config)")


def _eval(args):
    cfg, src = _config(args.config, args.set, args.threads)
    run = _Run(cfg, src, splits=("test",))
    ckpt = _checkpoint_arg(args)
    state = _load_weights(run.model, ckpt)
    if run.data.test is None:
        raise _Failure(f"{src}: the data has no test split")
    with _model_errors("evaluation", run):
        metrics = run.trainer.evaluate(run.data.test)
    print(f"test ({ckpt}: {_weights_label(ckpt, state)}): {_format_metrics(metrics)}")
    return 0


def _predict(args):
    import numpy as np

    cfg, src = _config(args.config, args.set, args.threads)
    run = _Run(cfg, src, splits=() if args.input else ("test",))
    _load_weights(run.model, _checkpoint_arg(args))
    if args.input:
        data = _read_input(args.input, run.data.info)
    else:
        if run.data.test is None:
            raise _Failure(f"{src}: the data has no test split; give --input FILE.npy")
        data = run.data.test
    with _model_errors("prediction", run):
        outputs = run.trainer.predict(data, batch_size=cfg["data"]["batch_size"])
    outputs = outputs[0] if isinstance(outputs, tuple) else outputs
    arr = outputs.numpy()
    classes = arr.argmax(axis=-1 if arr.ndim > 2 else 1) if arr.ndim >= 2 and arr.shape[1] > 1 else None
    result = classes if args.argmax and classes is not None else arr
    if args.output:
        np.save(args.output, result)
        print(f"saved {'class predictions' if result is classes else 'outputs'} of shape {result.shape} to "
              f"{args.output}")
    else:
        print(f"outputs: shape {arr.shape}")
    if classes is not None:
        shown = classes.reshape(len(classes), -1)[:, 0] if classes.ndim > 1 else classes
        print("predicted classes (first 20): " + " ".join(str(int(c)) for c in shown[:20]))
    return 0


def _read_input(path, info):
    import numpy as np

    from ember import get_default_dtype, tensor
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise _Failure(f"{path}: cannot read a .npy array ({e})") from None
    shape = tuple(info["input_shape"])
    if tuple(arr.shape) == shape:
        arr = arr[None]
    if tuple(arr.shape[1:]) != shape:
        raise _Failure(f"{path}: expected an array of shape (N, {', '.join(map(str, shape))}) for this model, got "
                       f"{arr.shape}")
    if info["dtype"] == "int64":
        return tensor(arr.astype(np.int64))
    return tensor(arr.astype(get_default_dtype().np))


# --- time and summary -----------------------------------------------------------------------------------------
def _model_and_input(args):
    """(model, InputSpec, description, default batch) for a zoo name or a config file / run directory."""
    from ember import profile
    target = args.target
    try:
        shape = profile.parse_shape(args.input_shape) if args.input_shape else None
    except ValueError as e:
        raise _Failure(str(e)) from None
    is_config = target is None or target.endswith((".yaml", ".yml")) or os.path.exists(target)
    if is_config:
        import ember
        from ember import config as C
        if args.arg:
            raise _Failure("--arg sets a zoo model's builder arguments; for a config use --set model.NAME=VALUE")
        cfg, src = _config(target, args.set)
        _use_threads(args.threads or cfg["threads"])
        if cfg["seed"] is not None:
            ember.manual_seed(cfg["seed"])
        info = C.data_info(cfg)
        model, _ = C.build_model(cfg, info, src)
        spec = profile.InputSpec(shape or info["input_shape"], info["dtype"], info["vocab_size"])
        return model, spec, f"{src} ({_model_name(cfg)})", cfg["data"]["batch_size"]
    from ember import zoo
    if args.set:
        raise _Failure("--set changes a config; for a zoo model give builder arguments with --arg NAME=VALUE")
    if target.lower() not in zoo.list_models():
        raise _Failure(f"{target!r} is neither a config file nor a zoo model (zoo models: "
                       f"{', '.join(zoo.list_models())})")
    from ember import config as C
    _use_threads(args.threads)
    given = dict(_parse_assignments(args.arg))
    try:
        kwargs = profile.zoo_kwargs(target, given)
        model = zoo.get_model(target, **kwargs)
    except (TypeError, ValueError, RuntimeError, IndexError) as e:  # a bad value (num_classes=-3) fails inside
        raise _Failure(f"zoo model {target}: {_one_line(e)}") from None
    model.register_forward_hook(C.logits_only)
    return model, profile.zoo_input_spec(target, kwargs, shape), f"zoo model {target}", 1


def _parse_assignments(items):
    from ember import config as C
    for text in items or ():
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise _Failure(f"--arg {text!r}: expected name=value")
        yield key.strip(), (C.parse_yaml(value, f"--arg {key}") if value.strip() else None)


def _example(args, spec, batch):
    from ember import profile
    if spec.dtype == "int64" and len(spec.shape) != 1:
        raise _Failure(f"--input-shape {args.input_shape}: token models take a sequence length, e.g. 64")
    return profile.make_inputs(spec, batch)


def _summary(args):
    from ember import profile
    model, spec, what, _ = _model_and_input(args)
    x = _example(args, spec, args.batch if args.batch is not None else 1)
    title = f"Model: {what}; input {tuple(x.shape)} {spec.dtype}"
    try:
        print(profile.summary(model, [x], title=title))
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        raise _Failure(f"{what}: the model does not run on an input of shape {tuple(x.shape)}: {e} "
                       "(set it with --input-shape)") from None
    return 0


def _time(args):
    from ember import profile
    model, spec, what, default_batch = _model_and_input(args)
    batch = args.batch if args.batch is not None else default_batch
    x = _example(args, spec, batch)
    progress = _TimeProgress()
    try:
        if args.compile:  # the whole step only: layers inside a graph cannot be timed one by one
            times = profile.time_step(model, [x], iterations=args.iterations, warmup=args.warmup,
                                      progress=progress)
        else:
            rows, total = profile.time_layers(model, [x], iterations=args.iterations, warmup=args.warmup,
                                              progress=progress, memory=args.memory)
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        raise _Failure(f"{what}: the model does not run on an input of shape {tuple(x.shape)}: {e} "
                       "(set it with --input-shape)") from None
    finally:
        progress.close()
    title = f"Model: {what}; input {tuple(x.shape)} {spec.dtype}; training mode; times per iteration"
    if args.compile:
        print(profile.format_step_times(times, title=title, iterations=args.iterations))
    else:
        print(profile.format_times(rows, total, title=title, iterations=args.iterations))
    return 0


# --- export -----------------------------------------------------------------------------------------------------
def _export_onnx(model, x, out, args):
    """The model as an ONNX file, with a dynamic batch axis (input "input", output "output"); returns a note for
    the summary line."""
    import ember.onnx
    try:
        ember.onnx.export(model, (x,), out, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=args.opset)
    except ImportError as e:
        raise _Failure(str(e)) from None
    except (ember.onnx.OnnxExporterError, ValueError) as e:
        raise _Failure(_one_line(e)) from None
    return f"opset {args.opset}, batch axis dynamic"


def _export_c(model, x, out, args):
    """The model as standalone C in the directory out (ember.export.export_c); returns a note for the summary."""
    from ember.export import ExportError, export_c
    try:
        result = export_c(model, (x,), out, description=f"input {tuple(x.shape)} {x.dtype}")
    except ExportError as e:
        raise _Failure(str(e)) from None
    print(result.summary())
    return (f"build: make -C {out}; run: {os.path.join(out, 'model')} in.bin out.bin (raw float32, "
            f"{result.input_shape} in, {', '.join(str(s) for s in result.output_shapes)} out)")


# format -> writer(model, example input, output path, args) -> a note for the summary line
EXPORT_FORMATS = {"onnx": _export_onnx, "c": _export_c}


def _export(args):
    """`ember export MODEL_OR_RUN_DIR --format onnx|c -o OUT`: a zoo model, config or run directory (its best
    weights, or --checkpoint) as ONNX (ember.onnx.export) or standalone C (ember.export.export_c)."""
    model, spec, what, _ = _model_and_input(args)
    ckpt = args.checkpoint
    if ckpt is None and args.target and os.path.isdir(args.target):  # a run directory: its best weights
        best = os.path.join(args.target, "best.safetensors")
        ckpt = best if os.path.isfile(best) else _latest_checkpoint(args.target)
        if ckpt is None:
            raise _Failure(f"{args.target}: the run directory has no checkpoint (best.safetensors, last.safetensors)")
    weights = "initial weights"
    if ckpt is not None:
        weights = f"{ckpt}: {_weights_label(ckpt, _load_weights(model, ckpt))}"
    x = _example(args, spec, args.batch if args.batch is not None else 1)
    note = EXPORT_FORMATS[args.format](model, x, args.output, args)
    print(f"exported {what} ({weights}) to {args.output} as {args.format}, input {tuple(x.shape)} {spec.dtype} "
          f"({note})")
    return 0


class _TimeProgress:
    """Progress of a long `ember time` run on stderr, once it has taken `after` seconds: a line rewritten in place
    on a terminal, else (a log file) a log line every `every` seconds."""

    def __init__(self, after=2.0, every=10.0):
        self.start, self.after, self.every, self.shown, self.width = time.perf_counter(), after, every, None, 0
        self.tty = getattr(sys.stderr, "isatty", lambda: False)()

    def __call__(self, done, total):
        now = time.perf_counter()
        elapsed = now - self.start
        if elapsed < self.after or done == total:
            return
        text = (f"timing: {done} of {total} iterations done (warm-up included), {elapsed:.0f} s, about "
                f"{elapsed / done * (total - done):.0f} s left")
        if not self.tty and self.shown is not None and now - self.shown < self.every:
            return
        self.shown = now
        if self.tty:
            print("\r" + text.ljust(self.width), end="", file=sys.stderr, flush=True)
            self.width = len(text)
        else:
            log.info(text)

    def close(self):
        if self.tty and self.width:
            print("\r" + " " * self.width + "\r", end="", file=sys.stderr, flush=True)


def _bench(bench_args):
    """Run the benchmark suite (`python -m bench`) of the source checkout in the current directory, passing it
    bench_args (its own options, which ember's parser does not read)."""
    import os
    import subprocess
    if not os.path.isfile(os.path.join("bench", "__main__.py")):
        raise _Failure("the benchmarks live in the source repository's bench/ (they are not installed): run "
                       "`ember bench` from the repository root")
    # run as `python -m bench` would (the checkout on sys.path), its usage and errors naming `ember bench`
    code = "import sys; from bench.__main__ import main; sys.exit(main(sys.argv[1:], prog='ember bench'))"
    return subprocess.call([sys.executable, "-c", code] + list(bench_args))


# --- the parser -----------------------------------------------------------------------------------------------
class _Failure(Exception):
    """A runtime problem (a missing checkpoint or data file): message on stderr, exit status 1."""


def _add_set(p, what="override a config key (a dotted path; the value is read as YAML), e.g. --set "
                     "optimizer.lr=0.01; repeatable"):
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=what)


_EXAMPLES = """examples:
  ember train                                   a small CNN on the bundled digits (~98% in seconds)
  ember train examples/configs/mnist_lenet.yaml --set epochs=3 --set optimizer.lr=0.01
  ember eval runs/digits_cnn-20250101-120000    test metrics of the run's best checkpoint
  ember resume runs/digits_cnn-20250101-120000 --set epochs=30
  ember time resnet18 --batch 8                 milliseconds per layer, forward and backward
  ember summary gpt --arg vocab_size=65         layers, output shapes, parameter counts
  ember bench --workloads mlp,lenet             ember against PyTorch (from the repository root)
"""


def _positive_int(text):
    """argparse type: an integer >= 1 (a batch, a count of iterations or threads)."""
    return _int_at_least(text, 1, "a positive integer")


def _count(text):
    return _int_at_least(text, 0, "an integer >= 0")


def _int_at_least(text, lo, what):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < lo:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _add_nproc(p):
    p.add_argument("--nproc", type=_positive_int, metavar="N",
                   help="train on N processes over MPI (data parallel, `pip install 'ember[mpi]'`): the config's "
                        "batch_size is the global batch, split among the ranks; only rank 0 prints and writes the run, "
                        "which resumes on any number of processes")


def _add_threads(p):
    p.add_argument("--threads", type=_positive_int, metavar="N",
                   help="CPU threads (ember.set_num_threads); default: the config's threads, else 1, which does "
                        "not collapse when other processes keep the cores busy")


class _Version(argparse.Action):
    """--version: ember's version (importing ember only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        import ember
        print(f"ember {ember.__version__}")
        parser.exit()


def _parser():
    parser = argparse.ArgumentParser(prog="ember", description="ember: deep learning you can read end to end",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EXAMPLES)
    parser.add_argument("--version", action=_Version, help="print ember's version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="version, NumPy/BLAS, devices and optional packages")
    p_info.set_defaults(func=_info)

    p = sub.add_parser("train", help="train from a YAML config (default: a small CNN on the bundled digits)")
    p.add_argument("config", nargs="?", help="the config file (see examples/configs); none: the built-in default")
    _add_set(p)
    p.add_argument("--out", help="the run directory (default: the config's out, else runs/<name>-<timestamp>)")
    p.add_argument("--force", action="store_true",
                   help="replace the run already in --out (its checkpoints, metrics, plot and results)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch output")
    p.add_argument("--no-plot", action="store_true", help="do not draw curves.png")
    p.add_argument("--print-config", action="store_true",
                   help="print the complete config (defaults filled in, --set applied) and exit without training")
    p.add_argument("--compile", action="store_true",
                   help="run the training and evaluation steps compiled (ember.compile), as the config key "
                        "compile: true")
    _add_threads(p)
    _add_nproc(p)
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="test metrics of a checkpoint")
    p.add_argument("config", help="the config file, or a run directory")
    p.add_argument("--checkpoint", help="a checkpoint (default for a run directory: its best.safetensors)")
    _add_set(p)
    _add_threads(p)
    p.set_defaults(func=_eval)

    p = sub.add_parser("predict", help="model outputs for the test split or an .npy file of inputs")
    p.add_argument("config", help="the config file, or a run directory")
    p.add_argument("--checkpoint", help="a checkpoint (default for a run directory: its best.safetensors)")
    p.add_argument("--input", help="an .npy array of inputs (N, *sample shape); default: the test split")
    p.add_argument("--output", help="save the outputs to this .npy file")
    p.add_argument("--argmax", action="store_true", help="save class indices instead of the raw outputs")
    _add_set(p)
    _add_threads(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("resume", help="continue a run from its last checkpoint to the configured epochs")
    p.add_argument("run_dir", help="the run directory `ember train` wrote")
    _add_set(p, "override a key of the saved config, e.g. --set epochs=30; repeatable")
    p.add_argument("--quiet", action="store_true", help="no per-epoch output")
    p.add_argument("--no-plot", action="store_true", help="do not redraw curves.png")
    _add_threads(p)
    _add_nproc(p)
    p.set_defaults(func=_resume)

    # listed for --help only: main() hands `ember bench ...` to the suite before parsing
    sub.add_parser("bench", help="ember against PyTorch, from the repository root (options: ember bench --help)")
    sub.add_parser("launch", help="run a script on several processes over MPI: ember launch -n 2 script.py ARGS "
                                  "(options: ember launch --help)")

    for name, func, text in (("time", _time, "forward and backward milliseconds per layer (like caffe time)"),
                             ("summary", _summary, "layers, output shapes and parameter counts")):
        p = sub.add_parser(name, help=text)
        p.add_argument("target", nargs="?", metavar="MODEL_OR_CONFIG",
                       help="a zoo model name (e.g. resnet18), a config file or a run directory; none: the default")
        p.add_argument("--input-shape", help="the shape of one sample, e.g. 3,224,224 (token models: a length)")
        p.add_argument("--batch", type=_positive_int,
                       help="the batch size (default: the config's, or 1 for a zoo model)")
        p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                       help="an argument of the zoo model's builder, e.g. --arg num_classes=10; repeatable")
        _add_set(p)
        _add_threads(p)
        if name == "time":
            p.add_argument("--iterations", type=_positive_int, default=10, help="timed iterations (default 10)")
            p.add_argument("--warmup", type=_count, default=1, help="untimed iterations first (default 1)")
            p.add_argument("--compile", action="store_true",
                           help="time the compiled step (ember.compile) as a whole: layers inside a graph cannot "
                                "be timed one by one")
            p.add_argument("--memory", action="store_true",
                           help="also each layer's activation memory and the step's peak (ember.memory)")
        p.set_defaults(func=func)

    p = sub.add_parser("export", help="write a model for deployment: ONNX, or standalone C (--format c)")
    p.add_argument("target", metavar="MODEL_OR_RUN_DIR",
                   help="a zoo model name (e.g. resnet18), a run directory of `ember train` or a config file")
    p.add_argument("--format", choices=sorted(EXPORT_FORMATS), default="onnx",
                   help="onnx (default): a file; c: a directory with model.c, model.h, main.c, a Makefile and "
                        "weights.bin")
    p.add_argument("-o", "--output", required=True, help="where to write: a file (onnx) or a directory (c)")
    p.add_argument("--checkpoint", help="the weights (default for a run directory: its best.safetensors)")
    p.add_argument("--input-shape", help="the shape of one sample, e.g. 3,224,224 (token models: a length)")
    p.add_argument("--batch", type=_positive_int, help="the batch size of the example input (default 1; ONNX's "
                   "batch axis is dynamic, C's is this size)")
    p.add_argument("--opset", type=_positive_int, default=17, help="the ONNX opset version (default 17)")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                   help="an argument of the zoo model's builder, e.g. --arg num_classes=10; repeatable")
    _add_set(p)
    _add_threads(p)
    p.set_defaults(func=_export)
    return parser


def main(argv=None):
    """Run the ember command line; returns the exit status (0 ok, 1 runtime failure, 2 bad usage or config, 141
    when the reader of stdout went away, as for a program that SIGPIPE ends)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # the suite parses its own options
        command, run, arg = "bench", _bench, argv[1:]
    elif argv[:1] == ["launch"]:  # as the script's arguments follow, ember.distributed.launch parses them
        from ember.distributed import launch
        return launch.main(argv[1:])
    else:
        arg = _parser().parse_args(argv)
        command, run = arg.command, arg.func
        arg.argv = argv
    import ember
    from ember.config import ConfigError, DataError
    threads = ember.get_num_threads()
    try:
        with _diagnostics(command):
            return run(arg)
    except ConfigError as e:
        return _error(command, e, 2)
    except (DataError, _Failure) as e:
        return _error(command, e, 1)
    except MemoryError as e:  # NumPy's names the array: "Unable to allocate 37.3 GiB for an array with shape ..."
        return _error(command, f"out of memory{': ' + _one_line(e) if str(e) else ''} (a smaller batch or "
                               "model needs less)", 1)
    except KeyboardInterrupt:  # Ctrl-C outside training (which stops cleanly and returns 130 itself)
        return _error(command, "interrupted", 130)
    except BrokenPipeError:  # `ember summary resnet50 | head -1`: the reader has all it wanted
        _drop_stdout()
        return 141
    except OSError as e:  # a file or directory that cannot be written or read: --out, a full disk
        return _error(command, _os_error(e), 1)
    finally:
        if ember.get_num_threads() != threads:  # in-process callers get their thread count back
            ember.set_num_threads(threads)


def _error(command, message, status):
    print(f"ember {command}: error: {message}", file=sys.stderr)
    return status


def _os_error(e):
    what = e.strerror or _one_line(e)
    names = [n for n in (e.filename, e.filename2) if n is not None]
    return f"{' -> '.join(map(str, names))}: {what}" if names else what


def _drop_stdout():
    """Point stdout at /dev/null, so that Python's flush at exit does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # in-process callers: a stream without a file descriptor
        pass


class _Diagnostics(logging.Formatter):
    def __init__(self, command):
        super().__init__()
        self.command = command

    def format(self, record):
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return f"ember {self.command}: {level}{record.getMessage()}"


@contextlib.contextmanager
def _diagnostics(command):
    """While a command runs, ember's log records (logger "ember") and Python warnings go to stderr as
    `ember COMMAND: warning: ...` lines; stdout keeps the command's output."""
    import warnings
    logger = logging.getLogger("ember")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Diagnostics(command))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # one line per record, whatever the root logger does
    warn = logging.getLogger("ember.warnings")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = lambda message, category, *args, **kw: warn.warning(str(message))
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


if __name__ == "__main__":
    sys.exit(main())
