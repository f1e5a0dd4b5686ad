"""Weight normalization by a forward pre-hook (torch.nn.utils.weight_norm): weight = g * v / ||v||, recomputed from
the parameters ``<name>_g`` and ``<name>_v`` before every forward."""
import warnings

from ...tensor import Tensor
from ..parameter import Parameter

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of v over every dimension but ``dim``, kept as size-1 dimensions; dim=-1: of the whole tensor
    (a 0-d tensor), as ``torch.norm_except_dim``."""
    if not isinstance(v, Tensor):
        raise TypeError(f"norm_except_dim(): argument 'v' (position 1) must be Tensor, not {type(v).__name__}")
    if dim == -1:
        return v.norm(pow)
    n = max(v.ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"norm_except_dim: Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    others = tuple(d for d in range(v.ndim) if d != dim % n)
    return v.norm(pow, others, keepdim=True) if others else v.abs()


def weight_norm_of(v, g, dim):
    """``v * (g / ||v||)``, the norm taken over every dimension but dim (torch._weight_norm)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that sets ``module.<name>`` to g * v / ||v|| (torch.nn.utils.weight_norm.WeightNorm)."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        return weight_norm_of(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"), self.dim)

    @staticmethod
    def apply(module, name, dim):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        g = norm_except_dim(weight, 2, fn.dim)  # checks dim before the module changes
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(g.data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))  # a plain attribute: its gradient reaches g and v
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrize a parameter of a module as magnitude times direction: ``w = g * v / ||v||``.

    The parameter ``name`` is replaced by two parameters, ``<name>_g`` (the norm of each slice along ``dim``, with
    size-1 dimensions elsewhere) and ``<name>_v`` (its initial value), and a forward pre-hook recomputes
    ``module.<name>`` (a plain tensor, whose gradient flows to both) before every forward. Deprecated, as in
    PyTorch, in favour of ``nn.utils.parametrizations.weight_norm`` (it warns with a FutureWarning).

    Args:
        module (Module): the module holding the parameter.
        name (str): the parameter's name. Default: ``'weight'``.
        dim (int or None): the dimension whose slices are normalised separately; None (or -1) normalises the
            whole tensor with one scalar g. Default: 0.

    Returns:
        Module: ``module`` itself, with the hook.

    PyTorch:
        ``torch.nn.utils.weight_norm``; same parameters, state_dict keys, warning and errors.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", FutureWarning)
        ...     m = nn.utils.weight_norm(nn.Linear(4, 3))
        >>> m.weight_g.shape, m.weight_v.shape
        (ember.Size([3, 1]), ember.Size([3, 4]))
        >>> [name for name, _ in m.named_parameters()]
        ['bias', 'weight_g', 'weight_v']
    """
    warnings.warn("`ember.nn.utils.weight_norm` is deprecated in favor of "
                  "`ember.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``module.<name>`` becomes a plain Parameter again, holding the current g * v / ||v||.

    Args:
        module (Module): the module with a weight_norm hook.
        name (str): the parameter's name. Default: ``'weight'``.

    Returns:
        Module: ``module`` itself; ValueError if it has no weight_norm on ``name``.

    PyTorch:
        ``torch.nn.utils.remove_weight_norm``; same semantics and error.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", FutureWarning)
        ...     m = nn.utils.weight_norm(nn.Linear(4, 3))
        >>> m = nn.utils.remove_weight_norm(m)
        >>> [name for name, _ in m.named_parameters()]
        ['bias', 'weight']
    """
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
