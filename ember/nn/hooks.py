"""Hooks of modules: the handle that removes one, hooks on every module (for profilers such as `ember time`), and
full backward hooks (identity nodes on a module's inputs and outputs that see their gradients)."""
import weakref
from collections import OrderedDict

from ..autograd import Node, is_grad_enabled
from ..autograd.graph import alias, record
from ..tensor import Tensor

__all__ = [
    "RemovableHandle", "register_module_forward_pre_hook", "register_module_forward_hook",
    "register_module_full_backward_pre_hook", "register_module_full_backward_hook",
]


class RemovableHandle:
    """A handle returned by the register_*_hook methods; ``remove()`` unregisters the hook."""

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if isinstance(extra_dict, dict):
            extra_dict = [extra_dict]
        self.extra_dict_ref = tuple(weakref.ref(d) for d in (extra_dict or ()))

    def remove(self):
        for ref in (self.hooks_dict_ref,) + self.extra_dict_ref:
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]

    def __getstate__(self):
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state):
        self.hooks_dict_ref = weakref.ref(state[0] if state[0] is not None else OrderedDict())
        self.id = state[1]
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in state[2] if d is not None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()



# ---------------------------------------------------------------------------------------------------------------
# global hooks (for profilers such as `ember time`)

global_forward_pre_hooks = OrderedDict()
global_forward_hooks = OrderedDict()
global_backward_pre_hooks = OrderedDict()
global_backward_hooks = OrderedDict()
globals_active = [False]  # one flag keeps Module.__call__ fast when no global hook is registered


def _refresh_globals(*_):
    globals_active[0] = bool(global_forward_pre_hooks or global_forward_hooks or global_backward_pre_hooks
                              or global_backward_hooks)


class _GlobalHandle(RemovableHandle):
    def remove(self):
        super().remove()
        _refresh_globals()


def _register_global(d, hook):
    handle = _GlobalHandle(d)
    d[handle.id] = hook
    _refresh_globals()
    return handle


def add_hook(hooks, hook, prepend=False, extra_dict=None):
    """Put hook into the ordered dict hooks (first with prepend) and return the handle that removes it."""
    handle = RemovableHandle(hooks, extra_dict=extra_dict)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_module_forward_pre_hook(hook):
    """Register hook(module, args) to run before the forward of every module."""
    return _register_global(global_forward_pre_hooks, hook)


def register_module_forward_hook(hook):
    """Register hook(module, args, output) to run after the forward of every module."""
    return _register_global(global_forward_hooks, hook)


def register_module_full_backward_pre_hook(hook):
    """Register hook(module, grad_output) for every module."""
    return _register_global(global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook):
    """Register hook(module, grad_input, grad_output) for every module."""
    return _register_global(global_backward_hooks, hook)


# ---------------------------------------------------------------------------------------------------------------
# full backward hooks: identity nodes on the module's inputs and outputs that see their gradients

class BackwardHookFunction(Node):
    """Identity on n tensors whose backward hands the n gradients to a callback (which may replace them)."""

    saves = ()
    fresh_grads = False  # the user's hooks may keep the gradients they see

    def __init__(self, n, callback):
        self._n = n
        self.callback = callback

    @property
    def n_outputs(self):
        return self.__dict__.get("_n", 1)  # after release (graph freed) the engine reports the freed graph

    def backward(self, *grads):
        return self.callback(grads)


def _identity_with_callback(tensors, callback):
    node = BackwardHookFunction(len(tensors), callback)
    aliases = [alias(t) if t.requires_grad else None for t in tensors]
    record(node, tuple(tensors), aliases)
    return [t if a is None else a for t, a in zip(tensors, aliases)]


class BackwardHook:
    """Calls full backward (pre-)hooks with the gradients of one call's inputs and outputs (torch's BackwardHook)."""

    def __init__(self, module, user_hooks, user_pre_hooks):
        self.module = module
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.grad_outputs = None
        self.n_outputs = -1
        self.output_tensors_index = None
        self.n_inputs = -1
        self.input_tensors_index = None

    @staticmethod
    def _pack_with_none(indices, values, size):
        res = [None] * size
        for idx, val in zip(indices, values):
            res[idx] = val
        return tuple(res)

    def _apply_on_tensors(self, callback, args):
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in idx]
        if not (is_grad_enabled() and any(t.requires_grad for t in tensors)):
            return args, None
        new = _identity_with_callback(tensors, callback)
        out = list(args)
        for i, t in zip(idx, new):
            out[i] = t
        return tuple(out), idx

    def _on_input_grads(self, grads):
        if self.grad_outputs is None:  # the gradient reached the inputs without passing the outputs
            return grads
        res = self._pack_with_none(self.input_tensors_index, grads, self.n_inputs)
        for hook in self.user_hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(res):
                raise RuntimeError("Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(res)}")
            res = out
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_tensors_index)

    def _on_output_grads(self, grads):
        self.grad_outputs = self._pack_with_none(self.output_tensors_index, grads, self.n_outputs)
        for hook in self.user_pre_hooks:
            out = hook(self.module, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(self.grad_outputs):
                raise RuntimeError("Backward pre hook returned an invalid number of grad_output, "
                                   f"got {len(out)}, but expected {len(self.grad_outputs)}")
            self.grad_outputs = tuple(out)
        local = self.grad_outputs
        if self.input_tensors_index is None:  # no input needs a gradient: the hooks fire now
            grad_inputs = (None,) * self.n_inputs
            for hook in self.user_hooks:
                res = hook(self.module, grad_inputs, self.grad_outputs)
                if res is not None and not (isinstance(res, tuple) and all(r is None for r in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                       "return None or None for all gradients.")
            self.grad_outputs = None
        return tuple(local[i] for i in self.output_tensors_index)

    def setup_input_hook(self, args):
        res, idx = self._apply_on_tensors(self._on_input_grads, args)
        self.n_inputs = len(args)
        self.input_tensors_index = idx
        return res

    def setup_output_hook(self, result):
        is_tuple = isinstance(result, tuple)
        args = result if is_tuple else (result,)
        res, idx = self._apply_on_tensors(self._on_output_grads, args)
        self.n_outputs = len(args)
        self.output_tensors_index = idx
        return res if is_tuple else res[0]
