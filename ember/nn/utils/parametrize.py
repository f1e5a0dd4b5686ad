"""Parametrizations (torch.nn.utils.parametrize): ``module.<name>`` computed on access by a chain of modules from
tensors kept under ``module.parametrizations.<name>``. As in PyTorch, the module's class is swapped for a
generated subclass ``Parametrized<Class>`` holding a property per parametrized name."""
import collections.abc
import copyreg
from contextlib import contextmanager
from copy import deepcopy

from ... import _tracing
from ...autograd import no_grad
from ...tensor import Tensor
from ..containers import ModuleDict, ModuleList
from ..parameter import Parameter

__all__ = ["cached", "ParametrizationList", "register_parametrization", "is_parametrized", "remove_parametrizations",
           "type_before_parametrizations", "transfer_parametrizations_and_params"]

_cache_enabled = [0]  # the depth of nested cached() contexts
_cache = {}  # (id(module), name) -> the tensor computed in the outermost cached() context


@contextmanager
def cached():
    """Within the context, compute each parametrized tensor once (on first access) and reuse it.

    Useful when a parametrization is costly and the tensor is read several times, e.g. a recurrent layer's weight at
    every time step. The cache is emptied when the outermost context exits.

    Returns:
        ContextManager: the context.

    PyTorch:
        ``torch.nn.utils.parametrize.cached``; same semantics.

    Example:
        >>> from ember.nn.utils import parametrize
        >>> class Double(nn.Module):
        ...     def forward(self, X):
        ...         return 2 * X
        >>> m = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Double())
        >>> with parametrize.cached():
        ...     m.weight is m.weight
        True
        >>> m.weight is m.weight
        False
    """
    _cache_enabled[0] += 1
    try:
        yield
    finally:
        _cache_enabled[0] -= 1
        if not _cache_enabled[0]:
            _cache.clear()


def _register_parameter_or_buffer(module, name, X):
    if isinstance(X, Parameter):
        module.register_parameter(name, X)
    else:
        module.register_buffer(name, X)


def _maybe_set(dest, src):
    """Give dest src's values and shape, keeping dest's identity (an optimizer holding it still sees it)."""
    dest.data = src


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor and its unparametrized value(s): ``module.parametrizations.<name>``.

    Holds ``original`` (or ``original0``, ``original1``, ... when the first ``right_inverse`` returns a sequence) and
    the parametrization modules "0", "1", ...; calling it applies them in order. Built by
    ``register_parametrization``, not by hand.

    Args:
        modules (Sequence[Module]): the parametrizations (at least one).
        original (Tensor or Parameter): the tensor being parametrized; it is set to ``right_inverse(original)``
            in place.
        unsafe (bool): skip the checks that the parametrization keeps the dtype and shape. Default: False.

    Shape:
        - Output: the parametrized tensor (the original's shape unless unsafe).

    PyTorch:
        ``torch.nn.utils.parametrize.ParametrizationList``; same attributes, checks and messages.

    Example:
        >>> from ember.nn.utils import parametrize
        >>> class Symmetric(nn.Module):
        ...     def forward(self, X):
        ...         return X.triu() + X.triu(1).transpose(-1, -2)
        >>> m = parametrize.register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
        >>> m.parametrizations.weight
        ParametrizationList(
          (0): Symmetric()
        )
        >>> m.parametrizations.weight.original.shape
        ember.Size([3, 3])
    """

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        original_shape, original_dtype = original.shape, original.dtype
        with no_grad():
            new = original
            for module in reversed(self):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass
        if not isinstance(new, (Tensor, collections.abc.Sequence)):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                             f"Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if original.dtype != new.dtype:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                                 f"original.dtype: {original.dtype}\nright_inverse(original).dtype: {new.dtype}")
            if original.device != new.device:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change the device.\n"
                                 f"original.device: {original.device}\n"
                                 f"right_inverse(original).device: {new.device}")
            with no_grad():
                _maybe_set(original, new)
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, originali in enumerate(new):
                if not isinstance(originali, Tensor):
                    raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                                     f"Got element {i} of the sequence with type {type(originali).__name__}.")
                if isinstance(original, Parameter):
                    originali = Parameter(originali, original.requires_grad)
                originali.requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", originali)
        if not self.unsafe:
            Z = self()
            if not isinstance(Z, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got {type(Z).__name__}.")
            if Z.dtype != original_dtype:
                raise ValueError("Registering a parametrization may not change the dtype of the tensor, unless "
                                 f"`unsafe` flag is enabled.\nunparametrized dtype: {original_dtype}\n"
                                 f"parametrized dtype: {Z.dtype}")
            if Z.shape != original_shape:
                raise ValueError("Registering a parametrization may not change the shape of the tensor, unless "
                                 f"`unsafe` flag is enabled.\nunparametrized shape: {original_shape}\n"
                                 f"parametrized shape: {Z.shape}")

    def right_inverse(self, value):
        """Set the original tensor(s) so that the parametrized tensor is ``value``: ``module.<name> = value`` calls it.

        The parametrizations' ``right_inverse`` methods are applied last to first; each must exist.

        Args:
            value (Tensor): the new value of the parametrized tensor.

        PyTorch:
            ``ParametrizationList.right_inverse``; same semantics and messages.

        Example:
            >>> from ember.nn.utils import parametrize
            >>> class Double(nn.Module):
            ...     def forward(self, X):
            ...         return 2 * X
            ...     def right_inverse(self, Y):
            ...         return Y / 2
            >>> m = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Double())
            >>> m.weight = ember.ones(2, 2)
            >>> m.parametrizations.weight.original
            Parameter containing:
            tensor([[0.5000, 0.5000],
                    [0.5000, 0.5000]], requires_grad=True)
        """
        with no_grad():
            for module in reversed(self):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
                else:
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement right_inverse.")
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"The tensor returned by `right_inverse` has dtype {value.dtype} "
                                     f"while `original` has dtype {self.original.dtype}")
                _maybe_set(self.original, value)
            else:
                if not isinstance(value, collections.abc.Sequence):
                    raise ValueError(f"'right_inverse' must return a sequence of tensors. Got {type(value).__name__}.")
                if len(value) != self.ntensors:
                    raise ValueError("'right_inverse' must return a sequence of tensors of length "
                                     f"{self.ntensors}. Got a sequence of length {len(value)}.")
                for i, tensor in enumerate(value):
                    original_i = getattr(self, f"original{i}")
                    if not isinstance(tensor, Tensor):
                        raise ValueError("'right_inverse' must return a sequence of tensors. "
                                         f"Got element {i} of type {type(tensor).__name__}.")
                    if original_i.dtype != tensor.dtype:
                        raise ValueError(f"Tensor {i} returned by `right_inverse` has dtype {tensor.dtype} "
                                         f"while `original{i}` has dtype {original_i.dtype}")
                    _maybe_set(original_i, tensor)

    def forward(self):
        """The parametrized tensor: the parametrizations applied in order to the original tensor(s).

        Returns:
            Tensor: the value of ``module.<name>``.

        PyTorch:
            ``ParametrizationList.forward``; same semantics.

        Example:
            >>> from ember.nn.utils import parametrize
            >>> class Double(nn.Module):
            ...     def forward(self, X):
            ...         return 2 * X
            >>> m = parametrize.register_parametrization(nn.Linear(2, 2), "weight", Double())
            >>> bool((m.parametrizations.weight() == 2 * m.parametrizations.weight.original).all())
            True
        """
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _default_deepcopy(self, memo):
    obj = memo.get(id(self), None)
    if obj is not None:
        return obj
    replica = self.__new__(self.__class__)
    memo[id(self)] = replica
    replica.__dict__ = deepcopy(self.__dict__, memo)
    for slot in copyreg._slotnames(self.__class__):
        if hasattr(self, slot):
            setattr(replica, slot, deepcopy(getattr(self, slot), memo))
    return replica


def _getstate(self):
    raise RuntimeError("Serialization of parametrized modules is only supported through state_dict(). See:\n"
                       "https://pytorch.org/tutorials/beginner/saving_loading_models.html"
                       "#saving-loading-a-general-checkpoint-for-inference-and-or-resuming-training")


def _inject_new_class(module):
    """Swap the class of module for a new subclass ``Parametrized<Class>`` (which pickling refuses)."""
    cls = module.__class__
    dct = {"__getstate__": _getstate}
    if not hasattr(cls, "__deepcopy__"):  # deepcopy would otherwise go through __getstate__
        dct["__deepcopy__"] = _default_deepcopy
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), dct)


def _inject_property(module, tensor_name):
    """Add to module's (own, generated) class a property computing tensor_name on read, right-inverting on write."""
    if hasattr(module, tensor_name):
        raise AssertionError(f"Module already has an attribute named '{tensor_name}'")

    def get_parametrized(self):
        parametrization = self.parametrizations[tensor_name]
        if not _cache_enabled[0]:
            return parametrization()
        if _tracing.active[0]:
            raise RuntimeError("Cannot trace a model while caching parametrizations.")
        key = (id(self), tensor_name)
        tensor = _cache.get(key)
        if tensor is None:
            tensor = _cache[key] = parametrization()
        return tensor

    def set_original(self, value):
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


def _check_chained(module, tensor_name, parametrization):
    """PyTorch's checks that a parametrization added to a chain maps the tensor's dtype and shape to themselves."""
    Y = getattr(module, tensor_name)
    X = parametrization(Y)
    if not isinstance(X, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(X).__name__}.")
    if X.dtype != Y.dtype:
        raise ValueError("Registering a parametrization may not change the dtype of the tensor, unless the `unsafe` "
                         f"flag is enabled.\nmodule.{tensor_name}.dtype: {Y.dtype}\n"
                         f"parametrization(module.{tensor_name}).dtype: {X.dtype}")
    if X.shape != Y.shape:
        raise ValueError("Registering a parametrization may not change the shape of the tensor, unless the `unsafe` "
                         f"flag is enabled.\nmodule.{tensor_name}.shape: {Y.shape}\n"
                         f"parametrization(module.{tensor_name}).shape: {X.shape}")
    if not hasattr(parametrization, "right_inverse"):
        return
    try:
        Z = parametrization.right_inverse(X)
    except NotImplementedError:
        return
    if not isinstance(Z, Tensor):
        raise ValueError(f"parametrization.right_inverse must return a tensor. Got: {type(Z).__name__}")
    if Z.dtype != Y.dtype:
        raise ValueError("The tensor returned by parametrization.right_inverse must have the same dtype as "
                         f"module.{tensor_name}, unless the `unsafe` flag is enabled.\n"
                         f"module.{tensor_name}.dtype: {Y.dtype}\nreturned dtype: {Z.dtype}")
    if Z.shape != Y.shape:
        raise ValueError("The tensor returned by parametrization.right_inverse must have the same shape as "
                         f"module.{tensor_name}, unless the `unsafe` flag is enabled.\n"
                         f"module.{tensor_name}.shape: {Y.shape}\nreturned shape: {Z.shape}")


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` the output of ``parametrization`` applied to the tensor kept underneath.

    The parameter (or buffer) moves to ``module.parametrizations.<tensor_name>.original`` (state_dict key
    ``parametrizations.<tensor_name>.original``); reading ``module.<tensor_name>`` computes
    ``parametrization(original)``, so gradients reach ``original``. A ``right_inverse(X)`` method of the
    parametrization, where present, sets the original from the current value at registration and on assignment
    (``module.<tensor_name> = X``); returning a sequence of tensors stores them as ``original0``, ``original1``, ...
    Registering again on the same name chains the parametrizations. The module's class becomes a subclass
    ``Parametrized<Class>``.

    Args:
        module (Module): the module holding the tensor.
        tensor_name (str): the name of a parameter, buffer or already parametrized tensor.
        parametrization (Module): the module computing the tensor (its ``forward`` takes the original tensor(s)).
        unsafe (bool): skip the checks that dtype and shape are kept (keyword only). Default: False.

    Returns:
        Module: ``module`` itself.

    PyTorch:
        ``torch.nn.utils.parametrize.register_parametrization``; same semantics, state_dict keys, class name and
        errors.

    Example:
        >>> from ember.nn.utils import parametrize
        >>> class Symmetric(nn.Module):
        ...     def forward(self, X):
        ...         return X.triu() + X.triu(1).transpose(-1, -2)
        >>> m = parametrize.register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
        >>> bool((m.weight == m.weight.T).all()), isinstance(m, nn.Linear), type(m).__name__
        (True, True, 'ParametrizedLinear')
        >>> list(m.state_dict())
        ['bias', 'parametrizations.weight.original']
    """
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            _check_chained(module, tensor_name, parametrization)
        module.parametrizations[tensor_name].append(parametrization)
        module.parametrizations[tensor_name].unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        parametrizations = ParametrizationList([parametrization], original, unsafe=unsafe)  # raises before changes
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = parametrizations
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    return module


def is_parametrized(module, tensor_name=None):
    """Whether module has a parametrization (on ``tensor_name``, or on any tensor when it is None).

    Args:
        module (Module): the module.
        tensor_name (str, optional): the tensor's name. Default: None.

    Returns:
        bool: True when parametrized.

    PyTorch:
        ``torch.nn.utils.parametrize.is_parametrized``; same semantics.

    Example:
        >>> from ember.nn.utils import parametrize
        >>> m = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))
        >>> parametrize.is_parametrized(m), parametrize.is_parametrized(m, "bias")
        (True, False)
    """
    parametrizations = getattr(module, "parametrizations", None)
    if parametrizations is None or not isinstance(parametrizations, ModuleDict):
        return False
    return len(parametrizations) > 0 if tensor_name is None else tensor_name in parametrizations


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Remove the parametrizations on ``module.<tensor_name>``, which becomes a plain parameter (or buffer) again.

    With ``leave_parametrized`` it keeps the current parametrized value (in the original Parameter object, so an
    optimizer holding it stays valid); otherwise it is the unparametrized ``original``. When the last
    parametrization goes, the module gets its own class back.

    Args:
        module (Module): the parametrized module.
        tensor_name (str): the name of the parametrized tensor.
        leave_parametrized (bool): keep the parametrized value rather than the original. Default: True.

    Returns:
        Module: ``module`` itself.

    PyTorch:
        ``torch.nn.utils.parametrize.remove_parametrizations``; same semantics and errors.

    Example:
        >>> from ember.nn.utils import parametrize
        >>> m = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))
        >>> m = parametrize.remove_parametrizations(m, "weight")
        >>> type(m).__name__, [name for name, _ in m.named_parameters()]
        ('Linear', ['bias', 'weight'])
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    parametrizations = module.parametrizations[tensor_name]
    if parametrizations.is_tensor:
        original = parametrizations.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
                _maybe_set(original, t)
    elif leave_parametrized:
        t = getattr(module, tensor_name)  # with autograd on: whether any original requires grad
        original = Parameter(t.detach()) if t.requires_grad else t
    else:
        raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                         "that is parametrized in terms of a sequence of tensors.")
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module):
    """The class of module before any parametrization was registered (its own class when there is none).

    Args:
        module (Module): the module.

    Returns:
        type: the class.

    PyTorch:
        ``torch.nn.utils.parametrize.type_before_parametrizations``; same semantics.

    Example:
        >>> from ember.nn.utils import parametrize
        >>> m = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))
        >>> type(m).__name__, parametrize.type_before_parametrizations(m).__name__
        ('ParametrizedLinear', 'Linear')
    """
    return module.__class__.__bases__[0] if is_parametrized(module) else type(module)


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Register the parametrizations of from_module on to_module too, and copy the original tensors across.

    A parametrized name that to_module lacks is first created as a Parameter holding from_module's value.

    Args:
        from_module (Module): the parametrized module.
        to_module (Module): the module to parametrize in the same way.
        tensor_name (str, optional): only this tensor; all the parametrized ones when None. Default: None.

    Returns:
        Module: ``to_module``.

    PyTorch:
        ``torch.nn.utils.parametrize.transfer_parametrizations_and_params``; same semantics (the parametrization
        modules are shared, not copied).

    Example:
        >>> from ember.nn.utils import parametrize
        >>> a = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))
        >>> b = parametrize.transfer_parametrizations_and_params(a, nn.Linear(2, 2))
        >>> bool((a.weight == b.weight).all()), type(b).__name__
        (True, 'ParametrizedLinear')
    """
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name)))
        for param_func in from_module.parametrizations[name]:
            register_parametrization(to_module, name, param_func)
        source, dest = from_module.parametrizations[name], to_module.parametrizations[name]
        if hasattr(source, "original"):
            dest.original = source.original
        else:
            i = 0
            while hasattr(source, f"original{i}"):
                setattr(dest, f"original{i}", getattr(source, f"original{i}"))
                i += 1
    return to_module
