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
    seed: 0                           # null: do not seed; else an integer in [0, 2**64 - 1]
    device: cpu
    threads: null                     # CPU threads (ember.set_num_threads); null: 1, see ember.cli (--threads)
    grad_clip: null                   # clip the total gradient norm to this value
    compile: false                    # true: the training, evaluation and prediction steps run compiled
                                      # (ember.compile; Trainer(compile=True)), with the same results
    precision: "32"                   # bf16 or fp16: mixed precision (ember.autocast; fp16 with a GradScaler)
    early_stopping: null              # true, or EarlyStopping's arguments: {patience: 3, monitor: val_loss, ...}
    tensorboard: null                 # true, or {log_dir: DIR, update_freq: epoch}; default log_dir <out>/tensorboard
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
``ember.data.transforms``. TextFile takes ``path`` (a file, or ``module:NAME`` for the source file of an installed
Python module, found on sys.path and read without importing anything), ``seq_len``, ``stride`` (between windows,
default seq_len), ``level`` (char or byte) and ``test_split`` (the last part of the text). All take
``batch_size, val_split`` (the fraction of the training data held out for validation), ``num_workers, shuffle``
and ``limit`` (at most this many samples per split, for quick runs).

YAML floats may be written ``2e-3`` (PyYAML alone would read that as a string).
"""
from .schema import DEFAULT_CONFIG, ConfigError, DataError, resolve  # noqa: F401
from .files import apply_overrides, dump_yaml, load_config, parse_yaml  # noqa: F401
from .build import (  # noqa: F401
    Data, build_callbacks, build_data, build_layer, build_loss, build_metrics, build_model, build_optimizer,
    build_scheduler, data_info, logits_only, text_path,
)

__all__ = ["ConfigError", "DataError", "DEFAULT_CONFIG", "load_config", "apply_overrides", "resolve", "data_info",
           "build_data", "build_model", "build_optimizer", "build_scheduler", "build_loss", "build_metrics",
           "build_callbacks", "build_layer", "Data"]
