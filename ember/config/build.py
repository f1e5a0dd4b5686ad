"""Building what a resolved config names: the data loaders, the model, optimizer, scheduler, loss and metrics."""
import inspect
import os
from importlib.machinery import PathFinder

import numpy as np

from ..data.dataset import Dataset as _Dataset
from .schema import IMAGE_DATASETS, Checker, DataError, loss_classes, split_spec, zoo_builder


# --- building -----------------------------------------------------------------------------------------------------
def _call(c, key, fn, args, kwargs, label):
    """fn(*args, **kwargs); the errors a bad argument value raises become ConfigErrors naming key."""
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError, KeyError, RuntimeError, IndexError) as e:
        c.fail(key, f"{label}: {e}")


def build_layer(item, key="layer", src="config", namespace=None):
    """The module (or transform) of one 'Name' / {Name: args} item: a public class of ember.nn (or of
    `namespace`), never any other attribute."""
    from .. import nn
    c = Checker(src)
    name, args, kwargs = split_spec(c, key, item, "a layer")
    ns = namespace or nn
    cls = getattr(ns, name, None) if not name.startswith("_") else None
    if not isinstance(cls, type):
        c.fail(key, f"unknown name {name!r}")
    return _call(c, key, cls, args, kwargs, name)


def text_path(path):
    """A TextFile path: a file, or module:NAME for the source file of an installed Python module (found on
    sys.path without importing it or its packages: a config names files, it never runs code)."""
    if path.startswith("module:"):
        name = path[len("module:"):]
        origin = _module_source(name)
        if origin is None:
            raise DataError(f"data.path {path!r}: no Python source file found for module {name!r} on sys.path")
        return origin
    return os.path.expanduser(path)


def _module_source(name):
    """The .py file of module `name` (a package's __init__.py), searched part by part on sys.path the way the
    import system's PathFinder does, but without executing anything; None when there is none."""
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    search, spec = None, None  # None: sys.path
    for i in range(len(parts)):
        try:
            spec = PathFinder.find_spec(".".join(parts[:i + 1]), search)
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        search = spec.submodule_search_locations
        if i < len(parts) - 1 and search is None:  # a plain module has no submodules
            return None
    origin = spec.origin
    return origin if origin and origin.endswith(".py") and os.path.isfile(origin) else None


def _read_text_ids(data):
    from ..data.datasets import TextFile
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
    from ..data import DataLoader
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
    from ..data import datasets, transforms
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
        from ..data.dataloader import default_collate
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
        from ..tensor import Tensor
        rows = self.ids[self.starts[np.asarray(idx)][:, None] + np.arange(self.seq_len + 1)]
        return [Tensor._wrap(np.ascontiguousarray(rows[:, :-1])), Tensor._wrap(np.ascontiguousarray(rows[:, 1:]))]


def build_model(cfg, info, src="config"):
    """(model, resolved model spec): the zoo model or Sequential the config names; a zoo spec gets the arguments
    taken from the data (vocab_size, num_classes, ...) filled in."""
    from .. import nn
    c = Checker(src)
    spec = cfg["model"]
    segments = cfg.get("checkpoint", 0)
    if isinstance(spec, list):
        layers = [build_layer(item, f"model[{i}]", src) for i, item in enumerate(spec)]
        if segments:
            from ..zoo._checkpoint import CheckpointedSequential
            return CheckpointedSequential(*layers, segments=segments), spec
        return nn.Sequential(*layers), spec
    from .. import zoo
    name = spec["zoo"]
    kwargs = {k: v for k, v in spec.items() if k != "zoo"}
    kwargs.update(_from_data(zoo_builder(name), kwargs, info))
    if segments:
        if "checkpoint" not in inspect.signature(zoo_builder(name)).parameters:
            c.fail("checkpoint", f"zoo model {name} has no checkpoint option (gpt and mlp have; a model given as a "
                                 "list of layers is checkpointed as a Sequential)")
        if kwargs.get("checkpoint") not in (None, False, segments):
            c.fail("checkpoint", f"given both as the top-level key ({segments}) and as model.checkpoint "
                                 f"({kwargs['checkpoint']})")
        kwargs["checkpoint"] = segments
    model = _call(c, "model", zoo.get_model, [name], kwargs, f"zoo model {name}")
    model.register_forward_hook(logits_only)
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


def logits_only(module, args, out):
    """Models that return (logits, loss) -- GPT without targets gives (logits, None) -- train on the logits."""
    if isinstance(out, tuple) and len(out) == 2 and out[1] is None:
        return out[0]
    return None


def build_optimizer(cfg, model, src="config"):
    from .. import optim
    spec = cfg["optimizer"]
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    return _call(Checker(src), "optimizer", getattr(optim, spec["name"]), [model.parameters()], kwargs,
                 spec["name"])


def build_scheduler(cfg, optimizer, steps_per_epoch, src="config"):
    """(scheduler or None, interval): T_max of CosineAnnealingLR and OneCycleLR's length default to the run's."""
    spec = cfg["scheduler"]
    if spec is None:
        return None, "epoch"
    from ..optim import lr_scheduler
    kwargs = {k: v for k, v in spec.items() if k not in ("name", "interval")}
    name, interval = spec["name"], spec["interval"]
    if name == "CosineAnnealingLR" and "T_max" not in kwargs:
        kwargs["T_max"] = max(1, cfg["epochs"] * (steps_per_epoch if interval == "step" else 1))
    if name == "OneCycleLR" and "total_steps" not in kwargs and "steps_per_epoch" not in kwargs:
        kwargs.setdefault("epochs", max(1, cfg["epochs"]))
        kwargs["steps_per_epoch"] = max(1, steps_per_epoch)
    return _call(Checker(src), "scheduler", getattr(lr_scheduler, name), [optimizer], kwargs, name), interval


def build_loss(cfg, src="config"):
    spec = cfg["loss"]
    spec = {"name": spec} if isinstance(spec, str) else spec
    cls = loss_classes()[spec["name"]]
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    loss = _call(Checker(src), "loss", cls, [], kwargs, spec["name"])
    from ..nn.loss import CrossEntropyLoss, NLLLoss
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


def build_callbacks(cfg, out, has_val):
    """The callbacks the config asks for: EarlyStopping (monitor defaults to val_loss with validation data, else
    loss) and TensorBoard (log_dir defaults to <out>/tensorboard)."""
    from ..train import EarlyStopping, TensorBoard
    callbacks = []
    spec = cfg.get("early_stopping")
    if spec is not None:
        spec = {"monitor": "val_loss" if has_val else "loss", **spec}
        callbacks.append(EarlyStopping(**spec))
    spec = cfg.get("tensorboard")
    if spec is not None:
        log_dir = spec.get("log_dir") or os.path.join(out, "tensorboard")
        callbacks.append(TensorBoard(log_dir, update_freq=spec.get("update_freq", "epoch")))
    return callbacks
