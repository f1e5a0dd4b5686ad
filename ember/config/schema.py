"""The schema of a config: its keys and defaults, and the checks that resolve() runs (ConfigErrors name the key)."""
import difflib
import inspect
import math
import re


class ConfigError(Exception):
    """A bad config: the message names the file, the key and what was expected."""


class DataError(Exception):
    """The data a config names cannot be read (a missing file, no network for a download)."""


DEFAULT_CONFIG = {
    "name": "digits_cnn",
    "model": [{"Conv2d": [1, 16, 3, {"padding": 1}]}, "ReLU", {"MaxPool2d": 2},
              {"Conv2d": [16, 32, 3, {"padding": 1}]}, "ReLU", {"MaxPool2d": 2},
              "Flatten", {"Linear": [128, 64]}, "ReLU", {"Dropout": 0.1}, {"Linear": [64, 10]}],
    "data": {"dataset": "Digits", "batch_size": 32, "val_split": 0.1},
    "optimizer": {"name": "Adam", "lr": 0.002},
    "loss": "cross_entropy",
    "metrics": ["accuracy"],
    "epochs": 15,
    "seed": 0,
}

TOP_KEYS = ["name", "model", "data", "optimizer", "scheduler", "loss", "metrics", "epochs", "seed", "device",
            "threads", "grad_clip", "compile", "early_stopping", "tensorboard", "out", "precision", "checkpoint"]
SEED_MAX = 2 ** 64 - 1  # torch.manual_seed's upper bound
IMAGE_DATASETS = {"Digits": ((1, 8, 8), 10), "MNIST": ((1, 28, 28), 10), "FashionMNIST": ((1, 28, 28), 10),
                  "CIFAR10": ((3, 32, 32), 10)}
DATASETS = list(IMAGE_DATASETS) + ["TextFile"]
_COMMON_DATA = {"batch_size": 32, "val_split": 0.0, "num_workers": 0, "shuffle": True, "limit": None}
_IMAGE_DATA = {"root": None, "download": True, "transforms": [], "train_transforms": []}
_TEXT_DATA = {"path": None, "seq_len": 64, "stride": None, "level": "char", "test_split": 0.1}
_SCHEDULERS = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
               "OneCycleLR", "LinearLR", "ConstantLR", "ReduceLROnPlateau"]
_TRANSFORMS = ["ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip"]




# --- checking -----------------------------------------------------------------------------------------------------
def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"a boolean ({v})"
    if isinstance(v, int):
        return f"an integer ({v})"
    if isinstance(v, float):
        return f"a number ({v})"
    if isinstance(v, str):
        return f"a string ({v!r})"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


class Checker:
    """Validation helpers bound to the config's source name, raising ConfigErrors that name the key."""

    def __init__(self, src):
        self.src = src

    def fail(self, key, msg):
        raise ConfigError(f"{self.src}: {key}: {msg}" if key else f"{self.src}: {msg}")

    def expect(self, key, value, what):
        self.fail(key, f"expected {what}, got {kind(value)}")

    def keys(self, mapping, allowed, where, required=()):
        for k in mapping:
            if k not in allowed:
                place = "at top level" if not where else f"in {where}"
                close = difflib.get_close_matches(str(k), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{self.src}: unknown key {k!r} {place} (expected one of: "
                                  f"{', '.join(allowed)}){hint}")
        for k in required:
            if k not in mapping:
                place = "at top level" if not where else f"in {where}"
                raise ConfigError(f"{self.src}: missing required key {k!r} {place}")

    def integer(self, key, v, lo=None, null=False, hi=None):
        if v is None and null:
            return v
        if (isinstance(v, bool) or not isinstance(v, int) or (lo is not None and v < lo)
                or (hi is not None and v > hi)):
            what = (f"an integer in [{lo}, {hi}]" if lo is not None and hi is not None
                    else f"an integer >= {lo}" if lo is not None else "an integer")
            self.expect(key, v, what + (" or null" if null else ""))
        return v

    def number(self, key, v, lo=None, hi=None, hi_open=False, lo_open=False, null=False):
        if v is None and null:
            return v
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v == v  # NaN != NaN
        if ok and lo is not None:
            ok = v > lo if lo_open else v >= lo
        if ok and hi is not None:
            ok = v < hi if hi_open else v <= hi
        if not ok:
            rng = ""
            if lo is not None and hi is not None:
                rng = f" in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
            elif lo is not None:
                rng = f" {'>' if lo_open else '>='} {lo}"
            self.expect(key, v, f"a number{rng}" + (" or null" if null else ""))
        return v

    def string(self, key, v, null=False, choices=None):
        if v is None and null:
            return v
        if not isinstance(v, str) or (choices is not None and v not in choices):
            what = f"one of: {', '.join(choices)}" if choices is not None else "a string"
            what += " or null" if null else ""
            close = difflib.get_close_matches(v, choices, n=1) if isinstance(v, str) and choices else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.fail(key, f"expected {what}, got {kind(v)}{hint}")
        return v

    def boolean(self, key, v):
        if not isinstance(v, bool):
            self.expect(key, v, "true or false")
        return v

    def mapping(self, key, v, what="a mapping"):
        if not isinstance(v, dict):
            self.expect(key, v, what)
        return v

    def listing(self, key, v, what="a list"):
        if not isinstance(v, list):
            self.expect(key, v, what)
        return v


def resolve(raw, src="config"):
    """Check a raw config and return a complete copy with every default filled in (ConfigError if bad)."""
    c = Checker(src)
    c.mapping("", raw, "a mapping of keys at top level")
    c.keys(raw, TOP_KEYS, "", required=("model", "data"))
    cfg = {
        "name": c.string("name", raw.get("name"), null=True),
        "model": _check_model(c, raw["model"]),
        "data": _check_data(c, raw["data"]),
        "optimizer": _check_optimizer(c, raw.get("optimizer", {"name": "Adam", "lr": 0.001})),
        "scheduler": _check_scheduler(c, raw.get("scheduler")),
        "loss": _check_loss(c, raw.get("loss", "cross_entropy")),
        "metrics": _check_metrics(c, raw.get("metrics", ["accuracy"])),
        "epochs": c.integer("epochs", raw.get("epochs", 10), lo=0),
        "seed": c.integer("seed", raw.get("seed", 0), lo=0, hi=SEED_MAX, null=True),
        "device": c.string("device", raw.get("device", "cpu")),
        "threads": c.integer("threads", raw.get("threads"), lo=1, null=True),
        "grad_clip": c.number("grad_clip", raw.get("grad_clip"), lo=0, lo_open=True, null=True),
        "compile": c.boolean("compile", raw.get("compile", False)),
        "precision": c.string("precision", _precision(raw.get("precision", "32")), choices=["32", "bf16", "fp16"]),
        "early_stopping": _check_early_stopping(c, raw.get("early_stopping")),
        "tensorboard": _check_tensorboard(c, raw.get("tensorboard")),
        "out": c.string("out", raw.get("out"), null=True),
        # activation checkpointing: the model in N segments, all but the last recomputed in backward (0: off)
        "checkpoint": c.integer("checkpoint", raw.get("checkpoint", 0), lo=0),
    }
    return cfg


def _precision(v):
    """precision as Trainer takes it: YAML reads `precision: 32` as a number."""
    return "32" if v == 32 and not isinstance(v, bool) else v


# --- layers and other "Name: arguments" specs ---------------------------------------------------------------------
def split_spec(c, key, item, what):
    """(name, args list, kwargs dict) of a 'Name' or {Name: args} item."""
    if isinstance(item, str):
        return item, [], {}
    if not isinstance(item, dict) or len(item) != 1:
        extra = f" with keys {', '.join(map(str, item))}" if isinstance(item, dict) else ""
        c.fail(key, f"expected {what}: a name such as ReLU, or a one-key mapping from the name to its arguments "
                    f"such as {{Conv2d: [1, 16, 3, {{padding: 1}}]}} (keyword arguments go inside), got {kind(item)}"
                    f"{extra}")
    (name, args), = item.items()
    if not isinstance(name, str):
        c.expect(key, name, f"{what} name (a string)")
    if args is None:
        return name, [], {}
    if isinstance(args, dict):
        return name, [], dict(args)
    if isinstance(args, list):
        if args and isinstance(args[-1], dict):
            return name, list(args[:-1]), dict(args[-1])
        return name, list(args), {}
    return name, [args], {}


def _lookup(c, key, name, namespace, names, what, extra=""):
    cls = getattr(namespace, name, None) if name in names else None
    if cls is None:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        c.fail(key, f"unknown {what} {name!r}{extra}{hint}")
    return cls


def _check_call(c, key, fn, args, kwargs, label, skip=0, partial=False, numbers=False):
    """Check that fn accepts args and kwargs (after `skip` leading parameters, e.g. the params of an optimizer):
    no unknown names, no missing required ones (unless partial); with numbers, a string given for a parameter
    whose default is a number is an error too."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    params = list(sig.parameters.values())[skip:]
    sig = sig.replace(parameters=params)
    try:
        bound = sig.bind_partial(*args, **kwargs) if partial else sig.bind(*args, **kwargs)
    except TypeError as e:
        names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        c.fail(key, f"{label}: {e} (it takes: {', '.join(names)})")
    if numbers:
        for name, value in bound.arguments.items():
            default = sig.parameters[name].default
            if isinstance(default, (int, float)) and not isinstance(default, bool) and isinstance(value, str):
                c.expect(f"{key}.{name}", value, "a number")
            _check_finite(c, f"{key}.{name}", value)


def _check_finite(c, key, value):
    """NaN or infinity anywhere in an argument (betas: [0.9, .nan] included) is an error: it would train on NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        c.expect(key, value, "a finite number")
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(c, f"{key}[{i}]", v)


def _nn_names():
    from .. import nn
    return sorted(n for n in dir(nn) if isinstance(getattr(nn, n), type) and issubclass(getattr(nn, n), nn.Module)
                  and n not in ("Module",))


def _check_layer(c, key, item):
    from .. import nn
    name, args, kwargs = split_spec(c, key, item, "a layer")
    cls = _lookup(c, key, name, nn, _nn_names(), "layer", " (not a class of ember.nn)")
    _check_call(c, key, cls, args, kwargs, name)
    return item


def _check_model(c, model):
    if isinstance(model, list):
        if not model:
            c.fail("model", "expected at least one layer, got an empty list")
        for i, item in enumerate(model):
            _check_layer(c, f"model[{i}]", item)
        return model
    if isinstance(model, dict):
        if "zoo" not in model:
            c.fail("model", "missing required key 'zoo' (a zoo model name, e.g. {zoo: resnet20, num_classes: 10}; "
                            "or give a list of layers)")
        from .. import zoo
        name = model["zoo"]
        c.string("model.zoo", name)
        if name.lower() not in zoo.list_models():
            close = difflib.get_close_matches(name.lower(), zoo.list_models(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            c.fail("model.zoo", f"unknown zoo model {name!r} (available: {', '.join(zoo.list_models())}){hint}")
        kwargs = {k: v for k, v in model.items() if k != "zoo"}
        _check_call(c, "model", zoo_builder(name), [], kwargs, f"zoo model {name}", partial=True)
        return model
    c.expect("model", model, "a list of layers or a mapping {zoo: NAME, ...}")


def zoo_builder(name):
    from .. import zoo
    return zoo._MODELS[name.lower()] if hasattr(zoo, "_MODELS") else getattr(zoo, name.lower())


def _check_transforms(c, key, items):
    from ..data import transforms
    c.listing(key, items, "a list of transforms")
    for i, item in enumerate(items):
        name, args, kwargs = split_spec(c, f"{key}[{i}]", item, "a transform")
        cls = _lookup(c, f"{key}[{i}]", name, transforms, _TRANSFORMS, "transform")
        _check_call(c, f"{key}[{i}]", cls, args, kwargs, name)
    return items


def _check_data(c, data):
    c.mapping("data", data, "a mapping with at least a dataset, e.g. {dataset: Digits}")
    if "dataset" not in data:
        c.fail("data", f"missing required key 'dataset' (one of: {', '.join(DATASETS)})")
    ds = c.string("data.dataset", data["dataset"], choices=DATASETS)
    defaults = {**_COMMON_DATA, **(_TEXT_DATA if ds == "TextFile" else _IMAGE_DATA)}
    c.keys(data, ["dataset"] + list(defaults), f"data (for dataset {ds})")
    out = {"dataset": ds, **defaults, **data}
    c.integer("data.batch_size", out["batch_size"], lo=1)
    c.number("data.val_split", out["val_split"], lo=0, hi=1, hi_open=True)
    c.integer("data.num_workers", out["num_workers"], lo=0)
    c.boolean("data.shuffle", out["shuffle"])
    c.integer("data.limit", out["limit"], lo=1, null=True)
    if ds == "TextFile":
        if out["path"] is None:
            c.fail("data", "missing required key 'path' for dataset TextFile (a text file, or module:NAME for the "
                           "source of a Python module)")
        c.string("data.path", out["path"])
        c.integer("data.seq_len", out["seq_len"], lo=1)
        c.integer("data.stride", out["stride"], lo=1, null=True)
        c.string("data.level", out["level"], choices=["char", "byte"])
        c.number("data.test_split", out["test_split"], lo=0, hi=1, hi_open=True)
    else:
        c.string("data.root", out["root"], null=True)
        c.boolean("data.download", out["download"])
        _check_transforms(c, "data.transforms", out["transforms"])
        _check_transforms(c, "data.train_transforms", out["train_transforms"])
    return out


def _check_early_stopping(c, spec):
    """null or false: off; true: EarlyStopping's defaults; a mapping: its arguments (monitor defaults to val_loss
    with validation data, else loss)."""
    spec = _callback_spec(c, "early_stopping", spec)
    if spec is None:
        return None
    c.keys(spec, _EARLY_STOPPING, "early_stopping")
    if "monitor" in spec:
        c.string("early_stopping.monitor", spec["monitor"])
    c.integer("early_stopping.patience", spec.get("patience", 0), lo=0)
    c.number("early_stopping.min_delta", spec.get("min_delta", 0.0), lo=0)
    c.string("early_stopping.mode", spec.get("mode", "auto"), choices=["auto", "min", "max"])
    c.boolean("early_stopping.restore_best_weights", spec.get("restore_best_weights", False))
    c.boolean("early_stopping.verbose", spec.get("verbose", False))
    return spec


def _check_tensorboard(c, spec):
    """null or false: off; true: scalars to <run dir>/tensorboard every epoch; a mapping: log_dir (default
    <run dir>/tensorboard) and update_freq ('epoch', or every N optimizer steps)."""
    spec = _callback_spec(c, "tensorboard", spec)
    if spec is None:
        return None
    c.keys(spec, ["log_dir", "update_freq"], "tensorboard")
    c.string("tensorboard.log_dir", spec.get("log_dir"), null=True)
    freq = spec.get("update_freq", "epoch")
    if freq != "epoch" and (isinstance(freq, bool) or not isinstance(freq, int) or freq < 1):
        c.expect("tensorboard.update_freq", freq, "'epoch' or an integer >= 1 (every N optimizer steps)")
    return spec


_EARLY_STOPPING = ["monitor", "patience", "min_delta", "mode", "restore_best_weights", "verbose"]


def _callback_spec(c, key, spec):
    if spec is None or spec is False:
        return None
    if spec is True:
        return {}
    c.mapping(key, spec, "true, false, null or a mapping of the callback's arguments")
    return dict(spec)


def _check_named(c, key, spec, what):
    """A {name: X, ...kwargs} mapping (a bare string means {name: X})."""
    if isinstance(spec, str):
        spec = {"name": spec}
    c.mapping(key, spec, f"a mapping {{name: ..., <arguments>}} naming the {what}")
    if "name" not in spec:
        c.fail(key, f"missing required key 'name' (the {what})")
    c.string(f"{key}.name", spec["name"])
    return dict(spec)


def _check_optimizer(c, spec):
    from .. import optim
    spec = _check_named(c, "optimizer", spec, "optimizer class, e.g. Adam")
    names = sorted(n for n in dir(optim) if isinstance(getattr(optim, n), type)
                   and issubclass(getattr(optim, n), optim.Optimizer) and n != "Optimizer")
    cls = _lookup(c, "optimizer.name", spec["name"], optim, names, "optimizer", f" (one of: {', '.join(names)})")
    _check_call(c, "optimizer", cls, [], {k: v for k, v in spec.items() if k != "name"}, spec["name"], skip=1,
                numbers=True)
    return spec


def _check_scheduler(c, spec):
    if spec is None:
        return None
    from ..optim import lr_scheduler
    spec = _check_named(c, "scheduler", spec, "scheduler class, e.g. StepLR")
    cls = _lookup(c, "scheduler.name", spec["name"], lr_scheduler, _SCHEDULERS, "scheduler",
                  f" (one of: {', '.join(_SCHEDULERS)})")
    spec.setdefault("interval", "step" if spec["name"] == "OneCycleLR" else "epoch")
    c.string("scheduler.interval", spec["interval"], choices=["epoch", "step"])
    kwargs = {k: v for k, v in spec.items() if k not in ("name", "interval")}
    if spec["name"] == "CosineAnnealingLR":  # build_scheduler fills these in from the run
        kwargs.setdefault("T_max", 1)
    _check_call(c, "scheduler", cls, [], kwargs, spec["name"], skip=1, numbers=True)
    return spec


def loss_classes():
    from ..nn import loss
    table = {}
    for cls_name in loss.__all__:
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls_name).lower()
        table[cls_name] = table[snake] = table[snake[:-len("_loss")] if snake.endswith("_loss") else snake] = \
            getattr(loss, cls_name)
    return table


def _check_loss(c, spec):
    if isinstance(spec, str):
        spec_d = {"name": spec}
    else:
        spec_d = _check_named(c, "loss", spec, "loss, e.g. cross_entropy")
    table = loss_classes()
    key = "loss" if isinstance(spec, str) else "loss.name"
    cls = _lookup(c, key, spec_d["name"], _Namespace(table), sorted(table), "loss",
                  " (an ember.nn loss, e.g. cross_entropy or CrossEntropyLoss)")
    _check_call(c, "loss", cls, [], {k: v for k, v in spec_d.items() if k != "name"}, spec_d["name"])
    return spec


class _Namespace:
    def __init__(self, table):
        self.__dict__.update(table)


def _check_metrics(c, metrics):
    from ..train.metrics import get_metric
    c.listing("metrics", metrics, "a list of metric names, e.g. [accuracy]")
    for i, m in enumerate(metrics):
        c.string(f"metrics[{i}]", m)
        try:
            get_metric(m)
        except (ValueError, TypeError) as e:
            c.fail(f"metrics[{i}]", str(e))
        if m == "loss":
            c.fail(f"metrics[{i}]", "'loss' is always reported; list only other metrics")
    if len(set(metrics)) != len(metrics):
        c.fail("metrics", f"names must be unique, got {metrics}")
    return list(metrics)


