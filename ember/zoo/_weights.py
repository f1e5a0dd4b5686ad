"""torchvision's ``weights=`` and ``progress=`` keywords for the zoo builders: ember ships no pretrained weights, so
``weights=None`` (random initialization, torchvision's default) is the only value, and any other is a clear error."""
import functools
import inspect

__all__ = ["takes_weights"]


def takes_weights(builder):
    """``builder`` with the keyword-only arguments ``weights=None`` and ``progress=True`` (accepted and unused, as
    nothing is downloaded), shown in its signature."""
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
    return build
