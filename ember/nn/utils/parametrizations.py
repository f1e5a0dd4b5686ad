"""Weight and spectral normalization as parametrizations (torch.nn.utils.parametrizations): the weight is computed
on every access from ``parametrizations.<name>.original*`` (no forward hook)."""
from ...autograd import no_grad
from ...ops.distance import normalize
from ...tensor import Tensor
from .. import conv
from ..hooks import add_hook
from ..module import Module
from . import parametrize
from .weight_norm import norm_except_dim, weight_norm_of

__all__ = ["spectral_norm", "weight_norm"]

_CONV_TRANSPOSE = tuple(getattr(conv, n) for n in conv.__all__ if n.startswith("ConvTranspose"))  # dim 1 is output


class _WeightNorm(Module):
    """g * v / ||v|| from (g, v) = (original0, original1)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_norm_of(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Reparametrize a parameter of a module as magnitude times direction, ``w = g * v / ||v||``, by parametrization.

    ``module.<name>`` is computed on every access from ``parametrizations.<name>.original0`` (g, the norm of each
    slice along ``dim``) and ``parametrizations.<name>.original1`` (v). A state_dict of the hook-based
    ``nn.utils.weight_norm`` (keys ``<name>_g`` and ``<name>_v``) loads too. Wrap several reads in
    ``parametrize.cached()`` to compute the weight once.

    Args:
        module (Module): the module holding the parameter.
        name (str): the parameter's name. Default: ``'weight'``.
        dim (int or None): the dimension whose slices are normalised separately; None (or -1) normalises the
            whole tensor. Default: 0.

    Returns:
        Module: ``module`` itself, parametrized.

    PyTorch:
        ``torch.nn.utils.parametrizations.weight_norm``; same semantics and state_dict keys.

    Example:
        >>> m = nn.utils.parametrizations.weight_norm(nn.Linear(4, 3))
        >>> list(m.state_dict())
        ['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
        >>> m.parametrizations.weight.original0.shape
        ember.Size([3, 1])
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                 error_msgs):
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    add_hook(module._load_state_dict_pre_hooks, _weight_norm_compat_hook)
    return module


class _SpectralNorm(Module):
    """weight / sigma, sigma estimated by power iteration on the buffers ``_u`` and ``_v`` (in training mode)."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but "
                             f"got n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:  # a vector is normalised exactly (forward)
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.size()
            with no_grad():
                u = weight_mat.new_empty(h).normal_(0, 1)
                v = weight_mat.new_empty(w).normal_(0, 1)
                self.register_buffer("_u", normalize(u, dim=0, eps=self.eps))
                self.register_buffer("_v", normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)  # start from reasonable estimates

    def _reshape_weight_to_matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat, n_power_iterations):
        # in place (out=): the buffers keep their identity, as DataParallel replicas rely on in PyTorch
        with no_grad():
            for _ in range(n_power_iterations):
                normalize(weight_mat.mv(self._v), dim=0, eps=self.eps, out=self._u)
                normalize(weight_mat.t().mv(self._u), dim=0, eps=self.eps, out=self._v)

    def forward(self, weight):
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        # copies, so that a later in-place update does not change what this forward's graph saved
        u = self._u.clone()
        v = self._v.clone()
        sigma = u.vdot(weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide a parameter of a module by its spectral norm (its largest singular value), by parametrization.

    ``module.<name>`` is computed on every access as ``original / sigma``, ``sigma = u . (W v)`` with W the
    weight reshaped to a matrix with ``dim`` first; the estimates u and v (buffers ``parametrizations.<name>.0._u``
    and ``._v``, drawn from a normal distribution, normalised, then refined by 15 power-iteration steps) are updated
    by ``n_power_iterations`` steps at each access in training mode only. A 1-d tensor is normalised exactly.

    Args:
        module (Module): the module holding the parameter or buffer.
        name (str): its name. Default: ``'weight'``.
        n_power_iterations (int): power-iteration steps per access in training mode (positive). Default: 1.
        eps (float): the smallest norm when normalising u and v. Default: 1e-12.
        dim (int, optional): the dimension of the outputs; None means 1 for ConvTranspose modules, else 0.
            Default: None.

    Returns:
        Module: ``module`` itself, parametrized.

    PyTorch:
        ``torch.nn.utils.parametrizations.spectral_norm``; same semantics, state_dict keys and errors; u and v start
        from ember's random generator, so their values differ from PyTorch's for the same seed.

    Example:
        >>> m = nn.utils.parametrizations.spectral_norm(nn.Linear(4, 3))
        >>> list(m.state_dict())
        ['bias', 'parametrizations.weight.original', 'parametrizations.weight.0._u', 'parametrizations.weight.0._v']
        >>> round(float(np.linalg.norm(m.weight.detach().numpy(), 2)), 3)  # the largest singular value
        1.0
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, _CONV_TRANSPOSE) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
