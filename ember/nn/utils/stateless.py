"""functional_call: call a module with some of its parameters and buffers replaced for that one call
(torch.nn.utils.stateless / torch.func.functional_call)."""
import contextlib
from collections.abc import Sequence

from ...tensor import Tensor
from ..module import structure_version

__all__ = ["functional_call"]

_MISSING = object()  # what a name that the module did not have is restored to


def _swap_tensor(module, name, tensor):
    """Put tensor at module.<name> (remove it for _MISSING) and return what was there (_MISSING if nothing)."""
    if tensor is not _MISSING and tensor is not None and not isinstance(tensor, Tensor):
        raise TypeError(f"{tensor} is not an instance of ember.Tensor")
    structure_version[0] += 1  # a compiled function rechecks the tensors it reads
    for store in (module._parameters, module._buffers):
        if name in store:
            orig = store[name]
            if tensor is _MISSING:
                del store[name]
            else:
                store[name] = tensor
            return orig
    orig = getattr(module, name) if hasattr(module, name) else _MISSING
    if orig is not _MISSING and orig is not None and not isinstance(orig, Tensor):
        raise TypeError(f"attribute `{name}`: {orig} is not an instance of ember.Tensor")
    if tensor is not _MISSING:
        setattr(module, name, tensor)
    elif hasattr(module, name):
        delattr(module, name)
    return orig


def _swap(module, path, tensor):
    prefix, _, name = path.rpartition(".")
    return _swap_tensor(module.get_submodule(prefix), name, tensor)


def _named_tensors(module):
    yield from module.named_parameters(remove_duplicate=False)
    yield from module.named_buffers(remove_duplicate=False)


def _untie_named_tensors_map(module, parameters_and_buffers):
    """parameters_and_buffers with each given tensor also under the names of the tensors tied to it."""
    names_of = {}
    for name, t in dict(_named_tensors(module)).items():
        names_of.setdefault(id(t), set()).add(name)
    tied = {name: names for names in names_of.values() if len(names) > 1 for name in names}
    given = [name for name in parameters_and_buffers if name in tied]
    for name in given:
        given_tied = tied[name].intersection(given)
        if len(given_tied) > 1 and len({id(parameters_and_buffers[n]) for n in given_tied}) != 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(tied[name])}, "
                             "which are tied. Consider using tie_weights=False")
    untied = dict(parameters_and_buffers)
    for name in given:
        for tied_name in tied[name]:
            untied[tied_name] = parameters_and_buffers[name]
    return untied


@contextlib.contextmanager
def _reparametrize_module(module, parameters_and_buffers, tie_weights=False, strict=False):
    untied = _untie_named_tensors_map(module, parameters_and_buffers) if tie_weights else parameters_and_buffers
    if strict:
        valid = {name for name, _ in _named_tensors(module)}
        missing, unexpected = sorted(valid - set(untied)), sorted(set(untied) - valid)
        error_msgs = []
        if unexpected:
            error_msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            error_msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if error_msgs:
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(module._get_name(),
                                                                                 "\n\t".join(error_msgs)))
    originals = {}
    try:
        for name, tensor in untied.items():
            originals[name] = _swap(module, name, tensor)
        yield
    finally:
        current = {name: _swap(module, name, tensor) for name, tensor in originals.items()}
        # a module that replaced a buffer (self.count = self.count + 1) hands the new value back in the caller's dict
        parameters_and_buffers.update({k: current[k] for k in parameters_and_buffers if k in current})


def _merged(parameter_and_buffer_dicts):
    if isinstance(parameter_and_buffer_dicts, dict):
        return parameter_and_buffer_dicts
    if not isinstance(parameter_and_buffer_dicts, Sequence):
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, "
                         f"but got {type(parameter_and_buffer_dicts)}")
    if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
        raise ValueError("Expected all elements of parameter_and_buffer_dicts to be dictionaries")
    counts = {}
    for d in parameter_and_buffer_dicts:
        for k in d:
            counts[k] = counts.get(k, 0) + 1
    repeated = [k for k, n in counts.items() if n > 1]
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
    return {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """Call ``module(*args, **kwargs)`` with some parameters and buffers replaced by the given tensors, for this
    call only.

    The tensors are put in place by their ``named_parameters``/``named_buffers`` names (e.g. ``"0.weight"``) and the
    module's own are put back afterwards, even on error; gradients flow to the given tensors, not to the module's
    parameters. Names the module does not have are set as attributes for the call. On a parametrized module, give
    ``...parametrizations.<name>.original`` to keep the parametrization.

    Args:
        module (Module): the module to call.
        parameter_and_buffer_dicts (dict or sequence of dict): name -> tensor; several dicts must have distinct
            keys.
        args (Any or tuple, optional): the positional arguments (a non-tuple is the only one). Default: None.
        kwargs (dict, optional): the keyword arguments. Default: None.
        tie_weights (bool): a tensor given for one of several tied names (one tensor registered twice) replaces it
            under all of them; different values for tied names are a ValueError (keyword only). Default: True.
        strict (bool): require exactly the module's parameter and buffer names (keyword only). Default: False.

    Returns:
        Any: what the module returns.

    PyTorch:
        ``torch.func.functional_call`` (and the deprecated ``torch.nn.utils.stateless.functional_call``, which
        takes one dict); same semantics and errors. ember has no ``ember.func``; this does not warn.

    Example:
        >>> from ember.nn.utils.stateless import functional_call
        >>> layer = nn.Linear(2, 1)
        >>> params = {"weight": ember.ones(1, 2, requires_grad=True), "bias": ember.zeros(1)}
        >>> out = functional_call(layer, params, (ember.tensor([[1.0, 2.0]]),))
        >>> out
        tensor([[3.]], grad_fn=<LinearBackward0>)
        >>> out.sum().backward()
        >>> params["weight"].grad, layer.weight.grad
        (tensor([[1., 2.]]), None)
    """
    from ..parallel import DataParallel  # nn.parallel loads ember.distributed: on first use, not at import
    parameters_and_buffers = _merged(parameter_and_buffer_dicts)
    if isinstance(module, DataParallel):
        raise RuntimeError("The stateless API can't be used with nn.DataParallel module")
    kwargs = {} if kwargs is None else kwargs
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _reparametrize_module(module, parameters_and_buffers, tie_weights=tie_weights, strict=strict):
        return module(*args, **kwargs)
