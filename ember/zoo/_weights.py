"""torchvision's ``weights=`` and ``progress=`` keywords for the zoo builders: ember ships no pretrained weights, so
``weights=None`` (random initialization, torchvision's default) is the only value, and any other is a clear error.

Also the builders' docstrings: ``takes_weights`` adds the Args entries of the two keywords it adds, and
``builder_doc`` writes the docstring of a family of builders (resnet18 ... resnet152, vgg11 ... vgg19_bn)."""
import functools
import inspect
import re
import textwrap

__all__ = ["takes_weights", "builder_doc"]

_WEIGHTS_ARGS = (
    "weights (None): torchvision's pretrained weights (keyword-only). ember ships none, so only None (random "
    "initialization) is accepted; any other value raises ValueError. Default: None.",
    "progress (bool): torchvision's download progress bar (keyword-only); accepted and unused, as nothing is "
    "downloaded. Default: True.")


def _with_weights_args(doc):
    """doc with the Args entries of weights and progress after the builder's own (before a ``**kwargs`` entry)."""
    if not doc or "Args:" not in doc:
        return doc
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Args:")
    indent = " " * (len(lines[start]) - len(lines[start].lstrip()) + 4)
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(indent)):
        end += 1
    while not lines[end - 1].strip():  # the blank line before the next section stays after the entries
        end -= 1
    kwargs_at = next((i for i in range(start + 1, end) if re.match(r"\s*\*\*\w+", lines[i])), end)
    entries = [textwrap.fill(e, 116, initial_indent=indent, subsequent_indent=indent + "    ") for e in _WEIGHTS_ARGS]
    return "\n".join(lines[:kwargs_at] + entries + lines[kwargs_at:])


def takes_weights(builder):
    """``builder`` with the keyword-only arguments ``weights=None`` and ``progress=True`` (accepted and unused, as
    nothing is downloaded), shown in its signature and in the Args of its docstring."""
    name = builder.__name__

    @functools.wraps(builder)
    def build(*args, weights=None, progress=True, **kwargs):
        if weights is not None:
            raise ValueError(f"{name}: ember has no pretrained weights (got weights={weights!r}); build with "
                             f"weights=None (random initialization), then load weights saved from PyTorch with "
                             f"model.load_state_dict(ember.load('{name}.safetensors'))")
        return builder(*args, **kwargs)

    sig = inspect.signature(builder)
    params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    var_kw = [p for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD]
    extra = [inspect.Parameter("weights", inspect.Parameter.KEYWORD_ONLY, default=None),
             inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=True)]
    build.__signature__ = sig.replace(parameters=params + extra + var_kw)
    build.__doc__ = _with_weights_args(builder.__doc__)
    return build


def builder_doc(summary, model, num_classes, kwargs, pytorch, example):
    """A decorator giving a builder of the family ``builder(num_classes=..., **kwargs)`` its docstring: summary
    (paragraphs, wrapped here), the class it returns, the default of num_classes, what ``**kwargs`` passes on,
    the PyTorch section's text and the example's lines (not indented)."""
    def fill(text, indent):
        return textwrap.fill(text, 116, initial_indent=indent, subsequent_indent=indent + "    ").lstrip()

    def document(builder):
        body = "\n".join(f"        {line}" for line in example.strip().splitlines())
        text = "\n\n".join(textwrap.fill(part, 116, initial_indent="    ", subsequent_indent="    ")
                           for part in summary.split("\n\n")).lstrip()
        builder.__doc__ = f"""{text}

    Args:
        num_classes (int): the number of classes, the width of the last Linear. Default: {num_classes}.
        {fill("**kwargs: " + kwargs, "        ")}

    Returns:
        {model}: the model, randomly initialized (as torchvision initializes its models).

    PyTorch:
        {textwrap.fill(pytorch, 116, subsequent_indent="        ")}

    Example:
{body}
    """
        return builder
    return document
