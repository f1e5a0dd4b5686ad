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
    "autograd.functional": ("ember.autograd.functional", "ember.autograd.functional"),
    "func": ("ember.func", "ember.func"),
    "distributions": ("ember.distributions", "ember.distributions"),
    "linalg": ("ember.linalg", "ember.linalg"),
    "special": ("ember.special", "ember.special"),
    "nn": ("ember.nn", "ember.nn"),
    "nn.functional": ("ember.nn.functional", "ember.nn.functional"),
    "nn.init": ("ember.nn.init", "ember.nn.init"),
    "nn.utils": ("ember.nn.utils", "ember.nn.utils"),
    "nn.utils.rnn": ("ember.nn.utils.rnn", "ember.nn.utils.rnn"),
    "nn.utils.parametrize": ("ember.nn.utils.parametrize", "ember.nn.utils.parametrize"),
    "nn.utils.parametrizations": ("ember.nn.utils.parametrizations", "ember.nn.utils.parametrizations"),
    "nn.utils.stateless": ("ember.nn.utils.stateless", "ember.nn.utils.stateless"),
    "optim": ("ember.optim", "ember.optim"),
    "optim.lr_scheduler": ("ember.optim.lr_scheduler", "ember.optim.lr_scheduler"),
    "optim.swa_utils": ("ember.optim.swa_utils", "ember.optim.swa_utils"),
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


# --- the house format of a docstring (Google style, read by napoleon; "Shape" and "PyTorch" are custom sections)
SECTION_ALIASES = {"arguments": "args", "parameters": "args", "return": "returns", "examples": "example"}
_HEADER = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")
_ARG = re.compile(r"^(\*{0,2}\w+(?:,\s*\*{0,2}\w+)*)\s*(?:\([^)]*\))?\s*:")
# Modules that hold other modules: their input and output are their children's, so they have no Shape section
CONTAINERS = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"}


def sections(doc):
    """{section name (lower case, aliases merged): its text} of a docstring; the summary is under ""."""
    found, name, lines = {}, "", []
    for line in inspect.cleandoc(doc).splitlines():
        header = _HEADER.match(line)
        if header:
            found[name] = "\n".join(lines)
            name, lines = header.group(1).lower(), []
            name = SECTION_ALIASES.get(name, name)
        else:
            lines.append(line)
    found[name] = "\n".join(lines)
    return found


def documented_args(text):
    """The parameter names an Args section describes (``name (type): text``, one level in; ``a, b: text``)."""
    block = [line for line in text.splitlines() if line.strip()]
    if not block:
        return set()
    indent = min(len(line) - len(line.lstrip()) for line in block)
    names = set()
    for line in block:
        if len(line) - len(line.lstrip()) == indent:
            entry = _ARG.match(line.strip())
            if entry:
                names.update(n.strip().lstrip("*") for n in entry.group(1).split(","))
    return names


def _parameters(obj):
    """The parameter names a caller passes (self, cls and private ones left out), or None where Python cannot tell.
    A layer with Module's own constructor (``Module(*args, **kwargs)``, which refuses any argument) takes none."""
    if isinstance(obj, type) and obj.__init__ is __import__("ember").nn.Module.__init__:
        return []
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [p for p in signature.parameters if p not in ("self", "cls") and not p.startswith("_")]


def _returns_none(obj):
    try:
        return inspect.signature(obj).return_annotation in (None, "None")
    except (TypeError, ValueError):
        return False


def docstring_problems(obj):
    """What the docstring of a public name lacks against the house format: a summary line; Args naming every
    parameter; Returns (functions not annotated ``-> None``); Shape (layers); PyTorch (the name it mirrors and
    any difference, or that it has none); an Example that runs. Exceptions need only the summary and PyTorch."""
    doc = own_doc(obj)
    if isinstance(obj, types.MemberDescriptorType) or not (callable(obj) or isinstance(obj, (property, type))
                                                           or isinstance(obj, (staticmethod, classmethod))):
        return [] if doc.strip() else ["no docstring"]
    if not doc.strip():
        return ["no docstring"]
    found = sections(doc)
    problems = []
    if not found.get("", "").strip():
        problems.append("no summary line")
    if "pytorch" not in found:
        problems.append("no PyTorch section")
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return problems
    if ">>>" not in doc:
        problems.append("no example")
    if isinstance(obj, property):
        return problems
    function = getattr(obj, "__func__", obj)
    parameters = _parameters(function)
    if parameters:
        missing = [p for p in parameters if p not in documented_args(found.get("args", ""))]
        if missing:
            problems.append(f"Args lacks {', '.join(missing)}")
    if isinstance(obj, type):
        module = __import__("ember").nn.Module
        if issubclass(obj, module) and obj.__name__ not in CONTAINERS and "shape" not in found:
            problems.append("no Shape section")
    elif "returns" not in found and "yields" not in found and not _returns_none(function):
        problems.append("no Returns section (or a -> None annotation)")
    return problems


def documented_objects():
    """(qualified name, object) of every public name of every page, and the public methods and properties that
    classes of WITH_MEMBERS define themselves; each object once."""
    seen = set()
    for page in PAGES:
        module = PAGES[page][0]
        for name, obj in public_names(page):
            members = []
            if isinstance(obj, type) and name in WITH_MEMBERS:
                members = [(f"{name}.{m}", v) for m, v in sorted(vars(obj).items())
                           if not m.startswith("_") and (callable(v) or isinstance(v, (property, classmethod,
                                                                                         staticmethod)))]
            for qualified, item in [(name, obj), *members]:
                key = id(getattr(item, "__func__", item))
                if key not in seen:
                    seen.add(key)
                    yield f"{module}.{qualified}", item
