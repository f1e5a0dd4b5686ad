"""Spectral normalization by a forward pre-hook (torch.nn.utils.spectral_norm): weight = weight_orig / sigma, sigma
estimated by power iteration on the buffers ``<name>_u`` and ``<name>_v`` (updated in training mode only)."""
import numpy as np

from ...autograd import no_grad
from ...ops.distance import normalize
from ...tensor import tensor
from .. import conv
from ..hooks import add_hook
from ..parameter import Parameter

__all__ = ["SpectralNorm", "SpectralNormLoadStateDictPreHook", "SpectralNormStateDictHook", "spectral_norm",
           "remove_spectral_norm"]

_CONV_TRANSPOSE = tuple(getattr(conv, n) for n in conv.__all__ if n.startswith("ConvTranspose"))  # dim 1 is output


class SpectralNorm:
    """The forward pre-hook that sets ``module.<name>`` to weight_orig / sigma (torch's SpectralNorm)."""

    _version = 1  # saved in the state_dict's metadata; 0 was PyTorch's format that stored the weight itself

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        self.name = name
        self.dim = dim
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but "
                             f"got n_power_iterations={n_power_iterations}")
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight):
        weight_mat = weight
        if self.dim != 0:
            weight_mat = weight_mat.permute(self.dim, *[d for d in range(weight_mat.dim()) if d != self.dim])
        return weight_mat.reshape(weight_mat.size(0), -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    # in place (out=): the buffers keep their identity, as DataParallel replicas rely on in PyTorch
                    v = normalize(weight_mat.t().mv(u), dim=0, eps=self.eps, out=v)
                    u = normalize(weight_mat.mv(v), dim=0, eps=self.eps, out=u)
                # copies, so that a later in-place update does not change what this forward's graph saved
                u = u.clone()
                v = v.clone()
        sigma = u.dot(weight_mat.mv(v))
        return weight / sigma

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    def _solve_v_and_rescale(self, weight_mat, u, target_sigma):
        """The v with u = W v / ||W v|| rescaled so that u . W v = target_sigma (for checkpoints of version 0)."""
        w, uu = weight_mat.detach().cpu().numpy(), u.detach().cpu().numpy()
        v = np.linalg.pinv(w.T @ w) @ w.T @ uu
        v = v * (float(target_sigma) / float(uu @ (w @ v)))
        return tensor(v, dtype=weight_mat.dtype, device=weight_mat.device)

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        with no_grad():
            weight_mat = fn.reshape_weight_to_matrix(weight)
            h, w = weight_mat.size()
            u = normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=fn.eps)
            v = normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=fn.eps)
        delattr(module, fn.name)
        module.register_parameter(fn.name + "_orig", weight)
        setattr(module, fn.name, weight.data)  # a plain attribute until the first forward computes it
        module.register_buffer(fn.name + "_u", u)
        module.register_buffer(fn.name + "_v", v)
        module.register_forward_pre_hook(fn)
        add_hook(module._state_dict_hooks, SpectralNormStateDictHook(fn))
        add_hook(module._load_state_dict_pre_hooks, SpectralNormLoadStateDictPreHook(fn))
        return fn


class SpectralNormLoadStateDictPreHook:
    """Converts a state_dict saved in PyTorch's version-0 format (which stored ``<name>`` itself) on loading."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        fn = self.fn
        version = local_metadata.get("spectral_norm", {}).get(fn.name + ".version", None)
        if version is not None and version >= 1:
            return
        weight_key = prefix + fn.name
        if (version is None and all(weight_key + s in state_dict for s in ("_orig", "_u", "_v"))
                and weight_key not in state_dict):
            return  # a current state_dict saved without metadata (e.g. keys copied by name)
        has_missing_keys = False
        for suffix in ("_orig", "", "_u"):
            key = weight_key + suffix
            if key not in state_dict:
                has_missing_keys = True
                if strict:
                    missing_keys.append(key)
        if has_missing_keys:
            return
        with no_grad():
            weight_orig = state_dict[weight_key + "_orig"]
            weight = state_dict.pop(weight_key)
            sigma = (weight_orig / weight).mean()
            weight_mat = fn.reshape_weight_to_matrix(weight_orig)
            u = state_dict[weight_key + "_u"]
            state_dict[weight_key + "_v"] = fn._solve_v_and_rescale(weight_mat, u, sigma)


class SpectralNormStateDictHook:
    """Records the format's version in the state_dict's metadata (``metadata['spectral_norm']``)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, module, state_dict, prefix, local_metadata):
        if "spectral_norm" not in local_metadata:
            local_metadata["spectral_norm"] = {}
        key = self.fn.name + ".version"
        if key in local_metadata["spectral_norm"]:
            raise RuntimeError(f"Unexpected key in metadata['spectral_norm']: {key}")
        local_metadata["spectral_norm"][key] = self.fn._version


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide a parameter of a module by its spectral norm (its largest singular value), estimated by power iteration.

    The parameter ``name`` becomes ``<name>_orig``; the buffers ``<name>_u`` and ``<name>_v`` (drawn from a normal
    distribution and normalised) hold the singular-vector estimates. Before every forward a pre-hook runs
    ``n_power_iterations`` steps of power iteration (in training mode only) and sets ``module.<name>`` (a plain
    tensor, whose gradient flows to ``<name>_orig``) to ``weight_orig / sigma`` with ``sigma = u . (W v)``, W the
    weight reshaped to a matrix with ``dim`` first.

    Args:
        module (Module): the module holding the parameter.
        name (str): the parameter's name. Default: ``'weight'``.
        n_power_iterations (int): power-iteration steps per forward in training mode (positive). Default: 1.
        eps (float): the smallest norm when normalising u and v. Default: 1e-12.
        dim (int, optional): the dimension of the outputs; None means 1 for ConvTranspose modules, else 0.
            Default: None.

    Returns:
        Module: ``module`` itself, with the hook.

    PyTorch:
        ``torch.nn.utils.spectral_norm``; same parameters, buffers, state_dict keys (and metadata) and errors; u and
        v start from ember's random generator, so their values differ from PyTorch's for the same seed.

    Example:
        >>> m = nn.utils.spectral_norm(nn.Linear(4, 3))
        >>> m.weight_u.shape, m.weight_v.shape
        (ember.Size([3]), ember.Size([4]))
        >>> list(m.state_dict())
        ['bias', 'weight_orig', 'weight_u', 'weight_v']
    """
    if dim is None:
        dim = 1 if isinstance(module, _CONV_TRANSPOSE) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``module.<name>`` becomes a plain Parameter again, holding weight_orig / sigma for the
    current u and v.

    Args:
        module (Module): the module with a spectral_norm hook.
        name (str): the parameter's name. Default: ``'weight'``.

    Returns:
        Module: ``module`` itself; ValueError if it has no spectral_norm on ``name``.

    PyTorch:
        ``torch.nn.utils.remove_spectral_norm``; same semantics and error.

    Example:
        >>> m = nn.utils.remove_spectral_norm(nn.utils.spectral_norm(nn.Linear(4, 3)))
        >>> list(m.state_dict())
        ['bias', 'weight']
    """
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            break
    else:
        raise ValueError(f"spectral_norm of '{name}' not found in {module}")
    for hooks, kind in ((module._state_dict_hooks, SpectralNormStateDictHook),
                        (module._load_state_dict_pre_hooks, SpectralNormLoadStateDictPreHook)):
        for k, hook in hooks.items():
            if isinstance(hook, kind) and hook.fn.name == name:
                del hooks[k]
                break
    return module
