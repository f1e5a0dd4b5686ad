"""Flatten parameters into one vector and back (parameters_to_vector, vector_to_parameters)."""
from ...autograd.graph import increment_version
from ...ops.join import cat
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_param_device(param, old):
    dev = param.device
    if old is not None and dev != old:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return dev


def parameters_to_vector(parameters):
    """Concatenate the values of ``parameters``, each flattened, into one 1-d tensor.

    The result is a new tensor, differentiable with respect to the parameters; all of them must be on one device (else
    TypeError).

    Args:
        parameters (iterable of Tensor): the parameters, e.g. ``model.parameters()``.

    Returns:
        Tensor: a 1-d tensor of the total number of elements.

    PyTorch:
        ``torch.nn.utils.parameters_to_vector``; same semantics.

    Example:
        >>> nn.utils.parameters_to_vector(nn.Linear(3, 2).parameters()).shape
        ember.Size([8])
        >>> nn.utils.parameters_to_vector([ember.ones(2, 2), ember.zeros(1)])
        tensor([1., 1., 1., 1., 0.])
    """
    device = None
    vec = []
    for param in parameters:
        device = _check_param_device(param, device)
        vec.append(param.reshape(-1))
    return cat(vec)


def vector_to_parameters(vec, parameters) -> None:
    """Make each parameter's values the matching slice of ``vec``, in order (the inverse of ``parameters_to_vector``).

    Each parameter's data becomes a view of ``vec``'s memory, as in PyTorch, so a later in-place change to ``vec``
    shows in the parameters. A ``vec`` with too few elements raises RuntimeError.

    Args:
        vec (Tensor): a 1-d tensor of at least the parameters' total number of elements.
        parameters (iterable of Tensor): the parameters to overwrite, on one device.

    PyTorch:
        ``torch.nn.utils.vector_to_parameters``; same semantics.

    Example:
        >>> layer = nn.Linear(2, 1)
        >>> nn.utils.vector_to_parameters(ember.arange(3.0), layer.parameters())
        >>> layer.weight.tolist(), layer.bias.tolist()
        ([[0.0, 1.0]], [2.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected ember.Tensor, but got: {type(vec).__name__}")
    device = None
    pointer = 0
    total = vec.numel()
    for param in parameters:
        device = _check_param_device(param, device)
        n = param.numel()
        if pointer + n > total:
            raise RuntimeError(f"vector_to_parameters: the vector has {total} elements, fewer than the parameters "
                               f"need ({pointer + n} so far)")
        param._data = vec._data.reshape(-1)[pointer:pointer + n].reshape(param._data.shape)
        increment_version(param)
        pointer += n
