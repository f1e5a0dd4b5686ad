"""Which public names each page of the API reference documents, read from ember itself.

Used by the Sphinx extension ``ember_api`` (which writes the pages) and by tests/test_docstrings.py (every listed
name has a docstring of its own; the examples run as doctests): a public name added to a listed module appears in
the reference and is checked without editing the docs. Needs only ember (no Sphinx).
"""
import functools
import importlib
import inspect
import re
import types

# page -> (module, title); the module's public names are its __all__, else its public attributes defined in ember
PAGES = {
    "ember": ("ember", "ember: tensor functions"),
    "tensor": ("ember.Tensor", "ember.Tensor"),
    "autograd": ("ember.autograd", "ember.autograd"),
    "nn": ("ember.nn", "ember.nn"),
    "nn.functional": ("ember.nn.functional", "ember.nn.functional"),
    "nn.init": ("ember.nn.init", "ember.nn.init"),
    "nn.utils": ("ember.nn.utils", "ember.nn.utils"),
    "optim": ("ember.optim", "ember.optim"),
    "optim.lr_scheduler": ("ember.optim.lr_scheduler", "ember.optim.lr_scheduler"),
    "data": ("ember.data", "ember.data"),
    "data.datasets": ("ember.data.datasets", "ember.data.datasets"),
    "data.transforms": ("ember.data.transforms", "ember.data.transforms"),
    "train": ("ember.train", "ember.train"),
    "zoo": ("ember.zoo", "ember.zoo"),
    "compile": ("ember.compiler", "ember.compile"),
    "amp": ("ember.amp", "ember.amp (autocast, GradScaler)"),
    "utils.checkpoint": ("ember.utils.checkpoint", "ember.utils.checkpoint"),
    "utils.tensorboard": ("ember.utils.tensorboard", "ember.utils.tensorboard"),
    "onnx": ("ember.onnx", "ember.onnx (export and import)"),
    "export": ("ember.export", "ember.export (standalone C)"),
    "memory": ("ember.memory", "ember.memory"),
    "distributed": ("ember.distributed", "ember.distributed"),
}

# names documented elsewhere, or not ember's to document here (being built in other branches)
SKIP = {
    "ember": {"Tensor"},
}
# classes whose public methods are part of the reference (the others document their constructor)
WITH_MEMBERS = {
    "Module", "Optimizer", "Trainer", "Callback", "DataLoader", "Dataset", "CompiledFunction", "OptimizedModule",
    "GradScaler", "SummaryWriter", "Function", "LRScheduler", "Metric", "Parameter", "Sequential",
}


def _defined_in_ember(obj):
    return (getattr(obj, "__module__", None) or "").startswith("ember")


@functools.lru_cache(maxsize=None)
def public_names(page):
    """(name, object) of every public name on a reference page, in the order the page lists them."""
    module_name = PAGES[page][0]
    if module_name == "ember.Tensor":
        import ember
        return tuple((n, inspect.getattr_static(ember.Tensor, n)) for n in sorted(dir(ember.Tensor))
                     if not n.startswith("_"))
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")
                 and not inspect.ismodule(getattr(module, n)) and callable(getattr(module, n))
                 and _defined_in_ember(getattr(module, n))]
    skip = SKIP.get(module_name, set())
    return tuple((n, getattr(module, n)) for n in sorted(names, key=str.lower) if n not in skip)


def own_doc(obj):
    """The docstring written for obj itself (a class's own, not one inherited from its base)."""
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, type):
        return obj.__dict__.get("__doc__") or ""
    if isinstance(obj, types.MemberDescriptorType):  # a __slots__ attribute: its entry under the class's Attributes
        found = re.search(rf"^\s+{obj.__name__}: (.+)$", obj.__objclass__.__doc__ or "", re.M)
        return found.group(1) if found else ""
    return getattr(obj, "__doc__", None) or ""
