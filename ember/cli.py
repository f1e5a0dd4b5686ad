"""The `ember` command line: train from a config file, evaluate, predict, resume, time and summarise models, info.

    ember train [CONFIG.yaml] [--set key=value ...] [--out DIR]   # no config: a small CNN on the bundled digits
    ember eval CONFIG --checkpoint PATH                          # test metrics of a checkpoint
    ember predict CONFIG --checkpoint PATH [--input x.npy] [--output preds.npy]
    ember resume RUN_DIR                                         # continue a run from its last checkpoint
    ember time MODEL_OR_CONFIG [--batch N] [--iterations N] [--input-shape C,H,W]
    ember summary MODEL_OR_CONFIG [--input-shape C,H,W]
    ember info

The config format is described in ember/config.py (and examples/configs/). A bad config exits with status 2 and
a message naming the file and the key; data that cannot be read exits with status 1.
"""
import argparse
import json
import os
import pickle
import sys
import time


def _info(args):
    """Print the version, NumPy and its BLAS, devices, and which optional packages are installed."""
    import importlib.util

    import numpy as np

    import ember
    from ember.device import cuda_available

    print(f"ember {ember.__version__}")
    print(f"python {sys.version.split()[0]}")
    print(f"numpy {np.__version__} (BLAS: {_blas_name()})")
    print(f"threads: {ember.get_num_threads()} (ember.set_num_threads)")
    devices = ["cpu"]
    if cuda_available():
        import cupy
        devices += [f"cuda:{i}" for i in range(cupy.cuda.runtime.getDeviceCount())]
    print("devices: " + ", ".join(devices))
    optional = ["ml_dtypes", "cupy", "safetensors", "yaml", "tqdm", "matplotlib", "onnx", "onnxruntime", "mpi4py",
                "torch"]
    found = [name for name in optional if importlib.util.find_spec(name) is not None]
    missing = [name for name in optional if name not in found]
    print("optional packages found: " + (", ".join(found) or "none"))
    print("optional packages missing: " + (", ".join(missing) or "none"))
    return 0


def _blas_name():
    import numpy as np
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        return "unknown"


# --- configs --------------------------------------------------------------------------------------------------
def _config(path, sets):
    """(resolved config, source name): the file at path (a run directory means its config.yaml), or the built-in
    default when path is None, with the --set overrides applied."""
    from ember import config as C
    if path is None:
        raw, src = C.DEFAULT_CONFIG, "default config"
    else:
        src = os.path.join(path, "config.yaml") if os.path.isdir(path) else path
        raw = C.load_config(src)
    return C.resolve(C.apply_overrides(raw, sets, src), src), src


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
        except (ValueError, RuntimeError, TypeError) as e:
            raise C.ConfigError(f"{src}: device: {e}") from None
        if cfg["seed"] is not None:
            ember.manual_seed(cfg["seed"])
        self.data = C.build_data(cfg, splits, src)
        self.model, cfg["model"] = C.build_model(cfg, self.data.info, src)
        self.optimizer = C.build_optimizer(cfg, self.model, src)
        steps = len(self.data.train) if self.data.train is not None else 1
        self.scheduler, interval = C.build_scheduler(cfg, self.optimizer, steps, src)
        self.trainer = Trainer(self.model, self.optimizer, C.build_loss(cfg, src), C.build_metrics(cfg),
                               scheduler=self.scheduler, device=cfg["device"], grad_clip=cfg["grad_clip"],
                               scheduler_interval=interval)

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


def _callbacks(out, append, plot=True):
    from ember.train import CSVLogger, ModelCheckpoint, PlotHistory
    cbs = [ModelCheckpoint(dirpath=out), CSVLogger(os.path.join(out, "metrics.csv"), append=append)]
    if not plot:
        return cbs
    try:
        cbs.append(PlotHistory(os.path.join(out, "curves.png")))
    except ImportError:
        print("note: matplotlib is not installed, so curves.png is not drawn (pip install matplotlib)")
    return cbs


def _fit(run, out, resume_from=None, verbose=None, plot=True):
    """Train (or continue) the run, writing to out; print and save the test metrics; returns 0."""
    from ember import config as C
    cfg = run.cfg
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.yaml"), "w", encoding="utf-8") as f:
        f.write(C.dump_yaml(cfg))
    if verbose is None:
        verbose = 1 if getattr(sys.stdout, "isatty", lambda: False)() else 2
    callbacks = _callbacks(out, append=resume_from is not None, plot=plot)
    run.trainer.fit(run.data.train, epochs=cfg["epochs"], val=run.data.val, callbacks=callbacks,
                    resume_from=resume_from, verbose=verbose)
    if run.trainer.epoch < cfg["epochs"]:  # stopped by Ctrl-C
        print(f"stopped after {run.trainer.epoch} of {cfg['epochs']} epochs; continue with: ember resume {out}")
    results = {"epochs": run.trainer.epoch}
    if run.data.test is not None:
        results["test"] = run.trainer.evaluate(run.data.test)
        print(f"test: {_format_metrics(results['test'])}")
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    files = [f for f in ("config.yaml", "best.safetensors", "last.safetensors", "metrics.csv", "curves.png",
                         "results.json") if os.path.exists(os.path.join(out, f))]
    print(f"run saved to {out} ({', '.join(files)})")
    return 0


def _train(args):
    cfg, src = _config(args.config, args.set)
    out = args.out or cfg["out"] or _default_out(cfg, src)
    cfg["out"] = out
    run = _Run(cfg, src)
    print(f"ember train: {run.describe()}; {cfg['epochs']} epochs; writing to {out}")
    return _fit(run, out, verbose=0 if args.quiet else None, plot=not args.no_plot)


def _resume(args):
    run_dir = args.run_dir
    if not os.path.isfile(os.path.join(run_dir, "config.yaml")):
        raise _Failure(f"{run_dir}: not a run directory (no config.yaml in it)")
    ckpt = _latest_checkpoint(run_dir)
    if ckpt is None:
        raise _Failure(f"{run_dir}: no checkpoint to resume from (last.safetensors is missing)")
    cfg, src = _config(run_dir, args.set)
    cfg["out"] = run_dir
    run = _Run(cfg, src)
    try:  # a corrupt or foreign checkpoint is an error line, before anything is written to the run
        done = run.trainer.load_checkpoint(ckpt)
    except _CHECKPOINT_ERRORS as e:
        raise _Failure(f"cannot resume: {_about(ckpt, e)}") from None
    print(f"ember resume: {run.describe()}; from {ckpt} (epoch {done}) to epoch {cfg['epochs']}")
    if done >= cfg["epochs"]:
        print(f"already trained for {done} epochs (the config asks for {cfg['epochs']}; raise it with "
              "--set epochs=N)")
    return _fit(run, run_dir, resume_from=ckpt, verbose=0 if args.quiet else None, plot=not args.no_plot)


def _latest_checkpoint(run_dir):
    """last.safetensors, or interrupted.safetensors (Ctrl-C) when that one is newer."""
    paths = [os.path.join(run_dir, n) for n in ("last.safetensors", "interrupted.safetensors")]
    paths = [p for p in paths if os.path.isfile(p)]
    return max(paths, key=os.path.getmtime) if paths else None


def _load_weights(model, path):
    """Load a checkpoint from `ember train` (or ember.io.save_checkpoint), or a plain state_dict file."""
    import ember
    if not os.path.isfile(path):
        raise _Failure(f"{path}: no such checkpoint file")
    try:
        state = ember.load(path)
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
    cfg, src = _config(args.config, args.set)
    run = _Run(cfg, src, splits=("test",))
    ckpt = _checkpoint_arg(args)
    _load_weights(run.model, ckpt)
    if run.data.test is None:
        raise _Failure(f"{src}: the data has no test split")
    print(f"test: {_format_metrics(run.trainer.evaluate(run.data.test))}")
    return 0


def _predict(args):
    import numpy as np

    cfg, src = _config(args.config, args.set)
    run = _Run(cfg, src, splits=() if args.input else ("test",))
    _load_weights(run.model, _checkpoint_arg(args))
    if args.input:
        data = _read_input(args.input, run.data.info)
    else:
        if run.data.test is None:
            raise _Failure(f"{src}: the data has no test split; give --input FILE.npy")
        data = run.data.test
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
    given = dict(_parse_assignments(args.arg))
    try:
        kwargs = profile.zoo_kwargs(target, given)
        model = zoo.get_model(target, **kwargs)
    except (TypeError, ValueError) as e:
        raise _Failure(f"zoo model {target}: {e}") from None
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
    x = _example(args, spec, args.batch or 1)
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
    batch = args.batch or default_batch
    x = _example(args, spec, batch)
    if args.iterations < 1:
        raise _Failure("--iterations must be at least 1")
    try:
        rows, total = profile.time_layers(model, [x], iterations=args.iterations, warmup=args.warmup)
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        raise _Failure(f"{what}: the model does not run on an input of shape {tuple(x.shape)}: {e} "
                       "(set it with --input-shape)") from None
    title = f"Model: {what}; input {tuple(x.shape)} {spec.dtype}; training mode; times per iteration"
    print(profile.format_times(rows, total, title=title, iterations=args.iterations))
    return 0


def _bench(bench_args):
    """Run the benchmark suite (`python -m bench`) of the source checkout in the current directory, passing it
    bench_args (its own options, which ember's parser does not read)."""
    import os
    import subprocess
    if not os.path.isfile(os.path.join("bench", "__main__.py")):
        raise _Failure("the benchmarks live in the source repository's bench/ (they are not installed): run "
                       "`ember bench` from the repository root")
    return subprocess.call([sys.executable, "-m", "bench"] + list(bench_args))


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


def _parser():
    parser = argparse.ArgumentParser(prog="ember", description="ember: deep learning you can read end to end",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EXAMPLES)
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="version, NumPy/BLAS, devices and optional packages")
    p_info.set_defaults(func=_info)

    p = sub.add_parser("train", help="train from a YAML config (default: a small CNN on the bundled digits)")
    p.add_argument("config", nargs="?", help="the config file (see examples/configs); none: the built-in default")
    _add_set(p)
    p.add_argument("--out", help="the run directory (default: the config's out, else runs/<name>-<timestamp>)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch output")
    p.add_argument("--no-plot", action="store_true", help="do not draw curves.png")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="test metrics of a checkpoint")
    p.add_argument("config", help="the config file, or a run directory")
    p.add_argument("--checkpoint", help="a checkpoint (default for a run directory: its best.safetensors)")
    _add_set(p)
    p.set_defaults(func=_eval)

    p = sub.add_parser("predict", help="model outputs for the test split or an .npy file of inputs")
    p.add_argument("config", help="the config file, or a run directory")
    p.add_argument("--checkpoint", help="a checkpoint (default for a run directory: its best.safetensors)")
    p.add_argument("--input", help="an .npy array of inputs (N, *sample shape); default: the test split")
    p.add_argument("--output", help="save the outputs to this .npy file")
    p.add_argument("--argmax", action="store_true", help="save class indices instead of the raw outputs")
    _add_set(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("resume", help="continue a run from its last checkpoint to the configured epochs")
    p.add_argument("run_dir", help="the run directory `ember train` wrote")
    _add_set(p, "override a key of the saved config, e.g. --set epochs=30; repeatable")
    p.add_argument("--quiet", action="store_true", help="no per-epoch output")
    p.add_argument("--no-plot", action="store_true", help="do not redraw curves.png")
    p.set_defaults(func=_resume)

    # listed for --help only: main() hands `ember bench ...` to the suite before parsing
    sub.add_parser("bench", help="ember against PyTorch, from the repository root (options: python -m bench --help)")

    for name, func, text in (("time", _time, "forward and backward milliseconds per layer (like caffe time)"),
                             ("summary", _summary, "layers, output shapes and parameter counts")):
        p = sub.add_parser(name, help=text)
        p.add_argument("target", nargs="?", metavar="MODEL_OR_CONFIG",
                       help="a zoo model name (e.g. resnet18), a config file or a run directory; none: the default")
        p.add_argument("--input-shape", help="the shape of one sample, e.g. 3,224,224 (token models: a length)")
        p.add_argument("--batch", type=int, help="the batch size (default: the config's, or 1 for a zoo model)")
        p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                       help="an argument of the zoo model's builder, e.g. --arg num_classes=10; repeatable")
        _add_set(p)
        if name == "time":
            p.add_argument("--iterations", type=int, default=10, help="timed iterations (default 10)")
            p.add_argument("--warmup", type=int, default=1, help="untimed iterations first (default 1)")
        p.set_defaults(func=func)
    return parser


def main(argv=None):
    """Run the ember command line; returns the exit status (0 ok, 1 runtime failure, 2 bad usage or config)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # the suite parses its own options
        command, run, arg = "bench", _bench, argv[1:]
    else:
        arg = _parser().parse_args(argv)
        command, run = arg.command, arg.func
    from ember.config import ConfigError, DataError
    try:
        return run(arg)
    except ConfigError as e:
        print(f"ember {command}: error: {e}", file=sys.stderr)
        return 2
    except (DataError, _Failure) as e:
        print(f"ember {command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
