"""Packaging: the license file matches the metadata, py.typed ships, the description, README and `ember info` claim
only what exists in the repository."""
import inspect
import os
import re
import typing

import pytest

import ember
from ember import cli, io as ember_io, nn, optim, serialization
from ember.nn import activation as nn_activation
from ember.optim import lr_scheduler
from ember.utils import checkpoint as ember_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def _read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
        return f.read()


def test_license_file_matches_the_metadata():
    project = _pyproject()["project"]
    text = _read("LICENSE")
    assert project["license"] == {"text": "MIT"} and "License :: OSI Approved :: MIT License" in project["classifiers"]
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the ember developers\n")
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text


def test_py_typed_is_package_data():
    assert os.path.isfile(os.path.join(ROOT, "ember", "py.typed"))
    assert "py.typed" in _pyproject()["tool"]["setuptools"]["package-data"]["ember"]


def test_description_claims_only_what_exists():
    description = _pyproject()["project"]["description"].lower()
    for word, paths in [("compiler", ("ember/compile", "ember/compiler")), ("export", ("ember/export",))]:
        assert word not in description or any(os.path.exists(os.path.join(ROOT, p)) for p in paths), word


def test_readme_links_stay_inside_the_repository():
    readme = _read("README.md")
    targets = re.findall(r"\]\(([^)#\s]+)", readme)
    assert targets, "the README links to files of the repository"
    for target in targets:
        if re.match(r"[a-z]+://", target):
            continue
        assert not target.startswith(("/", "..")) and os.path.exists(os.path.join(ROOT, target)), target
    assert "../" not in readme


def test_info_lists_only_packages_ember_uses(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    listed = [name for line in out.splitlines() if line.startswith("optional packages")
              for name in re.findall(r"(\w+) \(", line.split(":", 1)[1])]
    assert listed and "yaml" in listed
    source = "".join(_read(d, f) for d, _, files in os.walk(os.path.join(ROOT, "ember")) for f in files
                     if f.endswith(".py"))
    for name in listed:
        assert re.search(rf"^\s*(import|from) {name}\b", source, re.M), f"ember info lists {name}: never imported"


def test_ci_installs_the_references_the_comparison_tests_need():
    """PyTorch (the comparisons) and TensorBoard (reading ember's event files): skipped where missing, so CI must
    install them for those tests to run."""
    installs = [line for line in _read(".ci", "run").splitlines() if line.lstrip().startswith("pip install")]
    assert any("torch==2.13.0" in line.split() for line in installs)
    assert any("tensorboard" in line.split() for line in installs)


# --- type annotations (py.typed): the public API people call most stays annotated --------------------------------
_FUNCTIONS = [
    ember.tensor, ember.as_tensor, ember.from_numpy, ember.is_tensor,
    ember.zeros, ember.ones, ember.empty, ember.full, ember.zeros_like, ember.ones_like, ember.empty_like,
    ember.full_like, ember.arange, ember.linspace, ember.logspace, ember.eye,
    ember.manual_seed, ember.seed, ember.initial_seed, ember.get_rng_state, ember.set_rng_state, ember.rand,
    ember.randn, ember.randint, ember.normal, ember.rand_like, ember.randn_like, ember.randint_like, ember.randperm,
    ember.bernoulli, ember.multinomial,
    ember.save, ember.load, serialization.add_safe_globals, serialization.get_safe_globals,
    serialization.clear_safe_globals, serialization.get_unsafe_globals_in_checkpoint, serialization.atomic_write,
    ember_io.save_checkpoint, ember_io.load_checkpoint,
    ember_checkpoint.checkpoint, ember_checkpoint.checkpoint_sequential,
]
_TENSOR_METHODS = [
    "__init__", "shape", "size", "dtype", "device", "ndim", "dim", "numel", "element_size", "stride",
    "is_contiguous", "is_floating_point", "data_ptr", "is_leaf", "numpy", "item", "tolist", "__len__", "__iter__",
    "__bool__", "__float__", "__int__", "__index__", "backward", "requires_grad_", "detach", "detach_", "data",
    "register_hook", "retain_grad", "share_memory_", "is_shared",
]
_LAYERS = [
    nn.Identity, nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Embedding, nn.RNN, nn.GRU, nn.LSTM,
    nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.MultiheadAttention, nn.Flatten, nn.Unflatten,
] + [getattr(nn_activation, name) for name in nn_activation.__all__]
_OPTIMIZERS = [optim.Optimizer, optim.SGD, optim.Adam, optim.AdamW, optim.Adamax, optim.NAdam, optim.RAdam,
               optim.RMSprop, optim.Adagrad, optim.Adadelta, optim.Lion, optim.LBFGS]
_SCHEDULERS = [getattr(lr_scheduler, name) for name in lr_scheduler.__all__]


def _own_public_methods(cls):
    """The methods cls itself defines: its public names and its dunders (what a user calls or overrides)."""
    return [name for name, value in vars(cls).items()
            if (not name.startswith("_") or name.startswith("__") and name.endswith("__"))
            and (inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod)))]


def _function(owner, name):
    value = inspect.getattr_static(owner, name)
    if isinstance(value, property):
        return value.fget
    if isinstance(value, (classmethod, staticmethod)):
        return value.__func__
    return value


def _unannotated(fn):
    """The parameters of fn (and "return") that have no annotation; resolving them all (get_type_hints) fails on a
    misspelt or unimported name."""
    hints = typing.get_type_hints(fn)
    names = [n for n in inspect.signature(fn).parameters if n not in ("self", "cls")]
    return [n for n in names + ["return"] if n not in hints]


def _checked():
    """Every function whose annotations the tests keep, as a pytest param with its qualified name."""
    out = [(f"ember.{fn.__name__}", fn) for fn in _FUNCTIONS]
    out += [(f"Tensor.{name}", _function(ember.Tensor, name)) for name in _TENSOR_METHODS]
    members = [(cls, _own_public_methods(cls)) for cls in (
        nn.Module, nn.Parameter, nn.Buffer, nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.ParameterList,
        nn.ParameterDict, ember.Generator, serialization.safe_open, serialization.safe_globals)]
    members += [(cls, ["__init__", "forward"]) for cls in _LAYERS]
    members += [(cls, ["__init__", "step", "zero_grad", "state_dict", "load_state_dict", "add_param_group"])
                for cls in _OPTIMIZERS]
    members += [(cls, ["__init__", "step", "get_last_lr", "state_dict", "load_state_dict"]) for cls in _SCHEDULERS]
    for cls, names in members:
        out += [(f"{cls.__name__}.{name}", _function(cls, name)) for name in names]
    return [pytest.param(fn, id=name) for name, fn in out]


@pytest.mark.parametrize("fn", _checked())
def test_public_api_is_annotated(fn):
    assert _unannotated(fn) == [], f"{fn.__qualname__}: parameters without a type annotation"


def test_the_annotation_check_sees_what_is_missing():
    def half(x: int, y, *args: int, scale: float = 1):
        return x

    half.__annotations__["scale"] = "Undefined"  # a name that does not resolve
    with pytest.raises(NameError):
        _unannotated(half)
    half.__annotations__.pop("scale")
    assert _unannotated(half) == ["y", "scale", "return"]


def test_the_metadata_says_the_package_is_typed():
    assert "Typing :: Typed" in _pyproject()["project"]["classifiers"]
