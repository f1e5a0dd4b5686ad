"""Config files for ``ember train``: load YAML, apply ``--set`` overrides, check every key, build the objects.

A config is a mapping; only ``model`` and ``data`` are required::

    name: digits_cnn                  # names the default out dir: runs/<name>-<YYYYmmdd-HHMMSS>
    model: {zoo: lenet5}              # a zoo model, or a list of layers (below)
    data: {dataset: MNIST, batch_size: 64, val_split: 0.1}
    optimizer: {name: SGD, lr: 0.05, momentum: 0.9}   # an ember.optim class and its keyword arguments
    scheduler: {name: StepLR, step_size: 5}          # optional; `interval: step` steps it after every batch
    loss: cross_entropy               # or CrossEntropyLoss, or {name: CrossEntropyLoss, label_smoothing: 0.1}
    metrics: [accuracy]
    epochs: 10
    seed: 0                           # null: do not seed
    device: cpu
    grad_clip: null                   # clip the total gradient norm to this value
    out: null                         # the run directory (default runs/<name>-<timestamp>)

Models. ``{zoo: NAME, ...}`` calls ``ember.zoo.get_model(NAME, ...)``; the arguments that the data determines
(in_channels, in_features, num_classes, vocab_size, block_size) are filled in when the builder takes them and the
config leaves them out. A list of layers becomes an ``nn.Sequential``: each item is the name of an ``ember.nn``
class, alone when it takes no arguments, or a one-key mapping from the name to its arguments -- a list of
positional arguments whose last item may be a mapping of keyword arguments, a mapping of keyword arguments, or a
single value::

    model:
      - Conv2d: [1, 16, 3, {padding: 1}]
      - ReLU
      - MaxPool2d: 2
      - Flatten
      - Linear: {in_features: 128, out_features: 10}

Data. ``dataset`` is Digits (bundled), MNIST, FashionMNIST, CIFAR10 (read from ``root``/EMBER_DATA, downloaded
when ``download: true``) or TextFile. Image datasets take ``root, download, transforms`` (every split) and
``train_transforms`` (training only, applied before ``transforms``), written like layers with the classes of
``ember.data.transforms``. TextFile takes ``path`` (a file, or ``module:NAME`` for the source of an installed Python
module), ``seq_len``, ``stride`` (between windows, default seq_len), ``level`` (char or byte) and ``test_split``
(the last part of the text). All take ``batch_size, val_split`` (the fraction of the training data held out for
validation), ``num_workers, shuffle`` and ``limit`` (at most this many samples per split, for quick runs).

YAML floats may be written ``2e-3`` (PyYAML alone would read that as a string).
"""
import copy
import difflib
import functools
import json
import importlib.util
import inspect
import os
import re

import numpy as np

from .data.dataset import Dataset as _Dataset

__all__ = ["ConfigError", "DataError", "DEFAULT_CONFIG", "load_config", "apply_overrides", "resolve", "data_info",
           "build_data", "build_model", "build_optimizer", "build_scheduler", "build_loss", "build_metrics",
           "build_layer", "Data"]


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
            "grad_clip", "out"]
IMAGE_DATASETS = {"Digits": ((1, 8, 8), 10), "MNIST": ((1, 28, 28), 10), "FashionMNIST": ((1, 28, 28), 10),
                  "CIFAR10": ((3, 32, 32), 10)}
DATASETS = list(IMAGE_DATASETS) + ["TextFile"]
_COMMON_DATA = {"batch_size": 32, "val_split": 0.0, "num_workers": 0, "shuffle": True, "limit": None}
_IMAGE_DATA = {"root": None, "download": True, "transforms": [], "train_transforms": []}
_TEXT_DATA = {"path": None, "seq_len": 64, "stride": None, "level": "char", "test_split": 0.1}
_SCHEDULERS = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
               "OneCycleLR", "LinearLR", "ConstantLR", "ReduceLROnPlateau"]
_TRANSFORMS = ["ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip"]


# --- YAML --------------------------------------------------------------------------------------------------------
def _yaml():
    try:
        import yaml
    except ImportError:
        raise ConfigError("config files need PyYAML, which is not installed: pip install pyyaml") from None
    return yaml


@functools.lru_cache(maxsize=None)
def _loader():
    """PyYAML's SafeLoader, also reading YAML 1.2 floats such as 1e-3 (PyYAML reads them as strings)."""
    yaml = _yaml()

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
        list("-+0123456789."))
    return Loader


def _have_yaml():
    try:
        import yaml  # noqa: F401
    except ImportError:
        return False
    return True


def parse_yaml(text, src):
    """Parse YAML text; syntax errors become ConfigErrors that name src and the line.

    Without PyYAML, JSON (a subset of YAML, which dump_yaml then writes) is still read."""
    if not _have_yaml():
        try:
            return json.loads(text)
        except ValueError:
            pass
    yaml = _yaml()
    try:
        return yaml.load(text, Loader=_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{src}: not valid YAML{where}: {problem}") from None


def dump_yaml(cfg):
    """YAML text of a config, with each layer's arguments on one line (``- Conv2d: [1, 16, 3, {padding: 1}]``).

    Without PyYAML the config is written as JSON, which is valid YAML, so a plain `pip install .` can train."""
    if not _have_yaml():
        return json.dumps(cfg, indent=2) + "\n"
    yaml = _yaml()

    def flat(v):
        if isinstance(v, dict):
            return all(flat(x) and not isinstance(x, (dict, list)) for x in v.values())
        if isinstance(v, list):
            return all(not isinstance(x, (dict, list)) for x in v)
        return True

    class Dumper(yaml.SafeDumper):
        def represent_list(self, data):
            flow = all(flat(x) for x in data)
            return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

        def represent_dict(self, data):
            flow = len(data) > 1 and flat(data)
            return self.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)

    Dumper.add_representer(list, Dumper.represent_list)
    Dumper.add_representer(dict, Dumper.represent_dict)
    return yaml.dump(cfg, Dumper=Dumper, sort_keys=False, default_flow_style=None, width=120)


def load_config(path):
    """The raw mapping in a YAML config file (a directory means its config.yaml, as a run directory holds)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "config.yaml")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file ({e.strerror})") from None
    raw = parse_yaml(text, path)
    if raw is None:
        raise ConfigError(f"{path}: the file is empty (expected a mapping with at least: model, data)")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (model, data, ...) at top level, got {_kind(raw)}")
    return raw


def apply_overrides(cfg, assignments, src="config"):
    """Apply ``key.sub=value`` strings (values parsed as YAML scalars) to a copy of cfg; list items by index."""
    cfg = copy.deepcopy(cfg)
    for text in assignments or ():
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {text!r}: expected key=value, e.g. --set optimizer.lr=0.01")
        parts = key.split(".")
        node = cfg
        for i, part in enumerate(parts[:-1]):
            node = _child(node, part, ".".join(parts[:i + 1]), create=True)
        last = parts[-1]
        parsed = parse_yaml(value, f"--set {key}") if value.strip() else None
        if isinstance(node, list):
            node[_index(node, last, key)] = parsed
        elif isinstance(node, dict):
            node[last] = parsed
        else:
            raise ConfigError(f"--set {key}: {'.'.join(parts[:-1])} is {_kind(node)}, not a mapping")
    return cfg


def _child(node, part, where, create):
    if isinstance(node, list):
        return node[_index(node, part, where)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {where}: cannot go into {_kind(node)}")
    if part not in node or node[part] is None:
        if not create:
            raise KeyError(part)
        node[part] = {}
    return node[part]


def _index(node, part, key):
    try:
        i = int(part)
        node[i]  # noqa: B018 - bounds check
        return i
    except (ValueError, IndexError):
        raise ConfigError(f"--set {key}: {part!r} is not an index of a list of {len(node)} items") from None


# --- checking -----------------------------------------------------------------------------------------------------
def _kind(v):
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


class _Checker:
    """Validation helpers bound to the config's source name, raising ConfigErrors that name the key."""

    def __init__(self, src):
        self.src = src

    def fail(self, key, msg):
        raise ConfigError(f"{self.src}: {key}: {msg}" if key else f"{self.src}: {msg}")

    def expect(self, key, value, what):
        self.fail(key, f"expected {what}, got {_kind(value)}")

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

    def integer(self, key, v, lo=None, null=False):
        if v is None and null:
            return v
        if isinstance(v, bool) or not isinstance(v, int) or (lo is not None and v < lo):
            self.expect(key, v, (f"an integer >= {lo}" if lo is not None else "an integer")
                        + (" or null" if null else ""))
        return v

    def number(self, key, v, lo=None, hi=None, hi_open=False, lo_open=False, null=False):
        if v is None and null:
            return v
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
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
            self.fail(key, f"expected {what}, got {_kind(v)}{hint}")
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
    c = _Checker(src)
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
        "seed": c.integer("seed", raw.get("seed", 0), null=True),
        "device": c.string("device", raw.get("device", "cpu")),
        "grad_clip": c.number("grad_clip", raw.get("grad_clip"), lo=0, lo_open=True, null=True),
        "out": c.string("out", raw.get("out"), null=True),
    }
    return cfg


# --- layers and other "Name: arguments" specs ---------------------------------------------------------------------
def _split_spec(c, key, item, what):
    """(name, args list, kwargs dict) of a 'Name' or {Name: args} item."""
    if isinstance(item, str):
        return item, [], {}
    if not isinstance(item, dict) or len(item) != 1:
        extra = f" with keys {', '.join(map(str, item))}" if isinstance(item, dict) else ""
        c.fail(key, f"expected {what}: a name such as ReLU, or a one-key mapping from the name to its arguments "
                    f"such as {{Conv2d: [1, 16, 3, {{padding: 1}}]}} (keyword arguments go inside), got {_kind(item)}"
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


def _nn_names():
    from . import nn
    return sorted(n for n in dir(nn) if isinstance(getattr(nn, n), type) and issubclass(getattr(nn, n), nn.Module)
                  and n not in ("Module",))


def _check_layer(c, key, item):
    from . import nn
    name, args, kwargs = _split_spec(c, key, item, "a layer")
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
        from . import zoo
        name = model["zoo"]
        c.string("model.zoo", name)
        if name.lower() not in zoo.list_models():
            close = difflib.get_close_matches(name.lower(), zoo.list_models(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            c.fail("model.zoo", f"unknown zoo model {name!r} (available: {', '.join(zoo.list_models())}){hint}")
        kwargs = {k: v for k, v in model.items() if k != "zoo"}
        _check_call(c, "model", _zoo_builder(name), [], kwargs, f"zoo model {name}", partial=True)
        return model
    c.expect("model", model, "a list of layers or a mapping {zoo: NAME, ...}")


def _zoo_builder(name):
    from . import zoo
    return zoo._MODELS[name.lower()] if hasattr(zoo, "_MODELS") else getattr(zoo, name.lower())


def _check_transforms(c, key, items):
    from .data import transforms
    c.listing(key, items, "a list of transforms")
    for i, item in enumerate(items):
        name, args, kwargs = _split_spec(c, f"{key}[{i}]", item, "a transform")
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
    from . import optim
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
    from .optim import lr_scheduler
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


def _loss_classes():
    from .nn import loss
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
    table = _loss_classes()
    key = "loss" if isinstance(spec, str) else "loss.name"
    cls = _lookup(c, key, spec_d["name"], _Namespace(table), sorted(table), "loss",
                  " (an ember.nn loss, e.g. cross_entropy or CrossEntropyLoss)")
    _check_call(c, "loss", cls, [], {k: v for k, v in spec_d.items() if k != "name"}, spec_d["name"])
    return spec


class _Namespace:
    def __init__(self, table):
        self.__dict__.update(table)


def _check_metrics(c, metrics):
    from .train.metrics import get_metric
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


# --- building -----------------------------------------------------------------------------------------------------
def _call(c, key, fn, args, kwargs, label):
    """fn(*args, **kwargs); the errors a bad argument value raises become ConfigErrors naming key."""
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError, KeyError, RuntimeError, IndexError) as e:
        c.fail(key, f"{label}: {e}")


def build_layer(item, key="layer", src="config", namespace=None):
    """The module (or transform) of one 'Name' / {Name: args} item."""
    from . import nn
    c = _Checker(src)
    name, args, kwargs = _split_spec(c, key, item, "a layer")
    ns = namespace or nn
    cls = getattr(ns, name, None)
    if cls is None:
        c.fail(key, f"unknown name {name!r}")
    return _call(c, key, cls, args, kwargs, name)


def text_path(path):
    """A TextFile path: a file, or module:NAME for the source file of an installed Python module."""
    if path.startswith("module:"):
        name = path[len("module:"):]
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = getattr(spec, "origin", None)
        if not origin or not origin.endswith(".py") or not os.path.exists(origin):
            raise DataError(f"data.path {path!r}: no Python source file found for module {name!r}")
        return origin
    return os.path.expanduser(path)


def _read_text_ids(data):
    from .data.datasets import TextFile
    path = text_path(data["path"])
    try:
        ds = TextFile(path, seq_len=data["seq_len"], level=data["level"])
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise DataError(f"data.path {data['path']!r}: {e}") from None
    return ds


def data_info(cfg, text=None):
    """What the model needs to know of the data, without loading image data: input_shape (per sample), dtype
    ('float32' images or 'int64' tokens), num_classes, vocab_size (tokens), seq_len (tokens)."""
    data = cfg["data"]
    if data["dataset"] == "TextFile":
        text = text or _read_text_ids(data)
        return {"input_shape": (data["seq_len"],), "dtype": "int64", "num_classes": text.vocab_size,
                "vocab_size": text.vocab_size, "seq_len": data["seq_len"]}
    shape, classes = IMAGE_DATASETS[data["dataset"]]
    return {"input_shape": shape, "dtype": "float32", "num_classes": classes, "vocab_size": None, "seq_len": None}


class Data:
    """The train / val / test DataLoaders of a config (val is None without val_split) and the data_info."""

    def __init__(self, train, val, test, info):
        self.train, self.val, self.test, self.info = train, val, test, info

    def sizes(self):
        return {k: len(getattr(self, k).dataset) for k in ("train", "val", "test") if getattr(self, k) is not None}


def build_data(cfg, splits=("train", "val", "test"), src="config"):
    """DataLoaders for the config's data (only the splits asked for; the others are None)."""
    from .data import DataLoader
    data = cfg["data"]
    seed = cfg["seed"] if cfg.get("seed") is not None else 0
    if data["dataset"] == "TextFile":
        text = _read_text_ids(data)
        info = data_info(cfg, text)
        parts = _text_splits(text.ids, data, seed)
    else:
        info = data_info(cfg)
        parts = _image_splits(data, seed, splits, src)
    loaders = {}
    for split in ("train", "val", "test"):
        ds = parts.get(split)
        if split not in splits or ds is None or len(ds) == 0:
            loaders[split] = None
            continue
        loaders[split] = DataLoader(ds, batch_size=data["batch_size"], shuffle=split == "train" and data["shuffle"],
                                    num_workers=data["num_workers"])
    return Data(loaders["train"], loaders["val"], loaders["test"], info)


def _image_splits(data, seed, splits, src):
    from .data import datasets, transforms
    cls = getattr(datasets, data["dataset"])
    common = [build_layer(t, f"data.transforms[{i}]", src, transforms) for i, t in enumerate(data["transforms"])]
    augment = [build_layer(t, f"data.train_transforms[{i}]", src, transforms)
               for i, t in enumerate(data["train_transforms"])]
    train_tf = transforms.Compose(augment + common) if augment + common else None
    eval_tf = transforms.Compose(common) if common else None
    limit = data["limit"]
    parts = {}

    def load(train):
        try:
            return cls(root=data["root"], train=train, download=data["download"])
        except (RuntimeError, OSError, ValueError) as e:
            raise DataError(f"data: {data['dataset']}: {e}") from None

    if "train" in splits or "val" in splits:
        base = load(True)
        order = np.random.default_rng(seed).permutation(len(base))
        n_val = int(round(len(base) * data["val_split"]))
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        parts["train"] = _View(base, train_idx[:limit], train_tf)
        parts["val"] = _View(base, val_idx[:limit], eval_tf) if n_val else None
    if "test" in splits:
        base = load(False)
        parts["test"] = _View(base, np.arange(len(base))[:limit], eval_tf)
    return parts


def _text_splits(ids, data, seed):
    n = len(ids)
    n_test = int(round(n * data["test_split"]))
    n_rest = n - n_test
    n_val = int(round(n_rest * data["val_split"]))
    stride = data["stride"] or data["seq_len"]
    bounds = {"train": (0, n_rest - n_val), "val": (n_rest - n_val, n_rest), "test": (n_rest, n)}
    parts = {}
    for split, (lo, hi) in bounds.items():
        view = _TextWindows(ids[lo:hi], data["seq_len"], stride, data["limit"])
        parts[split] = view if len(view) else None
    if parts["train"] is None:
        raise DataError(f"data.path {data['path']!r}: the training part of the text ({bounds['train'][1]} tokens) is "
                        f"shorter than seq_len + 1 = {data['seq_len'] + 1}")
    return parts


class _View(_Dataset):
    """Samples `indices` of an image dataset, with a transform; batches gathered at once when there is none."""

    def __init__(self, base, indices, transform=None):
        self.base, self.indices, self.transform = base, np.asarray(indices, dtype=np.int64), transform

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        x, y = self.base[int(self.indices[i])]
        return (self.transform(x) if self.transform is not None else x), y

    def get_batch(self, idx):
        if self.transform is None:
            return self.base.get_batch(self.indices[np.asarray(idx)])
        from .data.dataloader import default_collate
        return default_collate([self[i] for i in idx])


class _TextWindows(_Dataset):
    """(input, target) windows of seq_len tokens every `stride` tokens, targets shifted by one."""

    def __init__(self, ids, seq_len, stride, limit=None):
        self.ids, self.seq_len = ids, seq_len
        self.starts = np.arange(0, max(len(ids) - seq_len, 0), stride, dtype=np.int64)[:limit]

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        x, y = self.get_batch([i])
        return x[0], y[0]

    def get_batch(self, idx):
        from .tensor import Tensor
        rows = self.ids[self.starts[np.asarray(idx)][:, None] + np.arange(self.seq_len + 1)]
        return [Tensor._wrap(np.ascontiguousarray(rows[:, :-1])), Tensor._wrap(np.ascontiguousarray(rows[:, 1:]))]


def build_model(cfg, info, src="config"):
    """(model, resolved model spec): the zoo model or Sequential the config names; a zoo spec gets the arguments
    taken from the data (vocab_size, num_classes, ...) filled in."""
    from . import nn
    c = _Checker(src)
    spec = cfg["model"]
    if isinstance(spec, list):
        layers = [build_layer(item, f"model[{i}]", src) for i, item in enumerate(spec)]
        return nn.Sequential(*layers), spec
    from . import zoo
    name = spec["zoo"]
    kwargs = {k: v for k, v in spec.items() if k != "zoo"}
    kwargs.update(_from_data(_zoo_builder(name), kwargs, info))
    model = _call(c, "model", zoo.get_model, [name], kwargs, f"zoo model {name}")
    model.register_forward_hook(_logits_only)
    return model, {"zoo": name, **kwargs}


def _from_data(builder, given, info):
    """Builder arguments the data determines and the config left out."""
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return {}
    shape = info["input_shape"]
    found = {"in_channels": shape[0] if len(shape) == 3 else None,
             "in_features": int(np.prod(shape)) if info["dtype"] != "int64" else None,
             "num_classes": info["num_classes"] if info["vocab_size"] is None else None,
             "vocab_size": info["vocab_size"], "block_size": info["seq_len"]}
    return {k: v for k, v in found.items() if k in params and k not in given and v is not None}


def _logits_only(module, args, out):
    """Models that return (logits, loss) -- GPT without targets gives (logits, None) -- train on the logits."""
    if isinstance(out, tuple) and len(out) == 2 and out[1] is None:
        return out[0]
    return None


def build_optimizer(cfg, model, src="config"):
    from . import optim
    spec = cfg["optimizer"]
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    return _call(_Checker(src), "optimizer", getattr(optim, spec["name"]), [model.parameters()], kwargs,
                 spec["name"])


def build_scheduler(cfg, optimizer, steps_per_epoch, src="config"):
    """(scheduler or None, interval): T_max of CosineAnnealingLR and OneCycleLR's length default to the run's."""
    spec = cfg["scheduler"]
    if spec is None:
        return None, "epoch"
    from .optim import lr_scheduler
    kwargs = {k: v for k, v in spec.items() if k not in ("name", "interval")}
    name, interval = spec["name"], spec["interval"]
    if name == "CosineAnnealingLR" and "T_max" not in kwargs:
        kwargs["T_max"] = max(1, cfg["epochs"] * (steps_per_epoch if interval == "step" else 1))
    if name == "OneCycleLR" and "total_steps" not in kwargs and "steps_per_epoch" not in kwargs:
        kwargs.setdefault("epochs", max(1, cfg["epochs"]))
        kwargs["steps_per_epoch"] = max(1, steps_per_epoch)
    return _call(_Checker(src), "scheduler", getattr(lr_scheduler, name), [optimizer], kwargs, name), interval


def build_loss(cfg, src="config"):
    spec = cfg["loss"]
    spec = {"name": spec} if isinstance(spec, str) else spec
    cls = _loss_classes()[spec["name"]]
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    loss = _call(_Checker(src), "loss", cls, [], kwargs, spec["name"])
    from .nn.loss import CrossEntropyLoss, NLLLoss
    return _ClassLastLoss(loss) if isinstance(loss, (CrossEntropyLoss, NLLLoss)) else loss


class _ClassLastLoss:
    """A class-index loss that also takes (..., C) outputs with (...) targets (a language model's (B, T, V)),
    besides PyTorch's (N, C, ...)."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, outputs, targets):
        o, t = tuple(outputs.shape), tuple(targets.shape)
        if len(o) == len(t) + 1 and len(o) >= 3 and o[:1] + o[2:] != t and o[:-1] == t:
            return self.loss(outputs.reshape(-1, o[-1]), targets.reshape(-1))
        return self.loss(outputs, targets)

    def __repr__(self):
        return repr(self.loss)


def build_metrics(cfg):
    return list(cfg["metrics"])
