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
    """One 1-D tensor holding every parameter's values, in order (differentiable).

    >>> nn.utils.parameters_to_vector(nn.Linear(3, 2).parameters()).shape
    ember.Size([8])
    """
    device = None
    vec = []
    for param in parameters:
        device = _check_param_device(param, device)
        vec.append(param.reshape(-1))
    return cat(vec)


def vector_to_parameters(vec, parameters):
    """Make each parameter's data the matching slice of vec (a view, as in PyTorch)."""
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
