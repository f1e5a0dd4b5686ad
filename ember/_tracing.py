"""How code outside the op registry talks to a tracer that is capturing a graph (``ember.compile``).

Ops are captured where they run (``autograd.graph.on_apply``). What runs outside them tells the active tracer
through these calls, which cost one list lookup when nothing is traced:

- ``born(tensor)``: a tensor object was made (a tensor that no op made and no factory reported is data computed
  outside the graph: reading it is a graph break);
- ``untraceable(what)``: something the graph cannot hold ran (``.item()``, a random factory, an optimizer's array
  update, a backward): the trace is a graph break;
- ``created(tensor)``: a factory made a new tensor (zeros, arange, ember.tensor): a constant of the graph, not a
  tensor read by reference;
- ``wrote(tensor, result)``: an in-place op wrote result into tensor;
- ``bumped(tensor)``: tensor's version counter went up (every in-place change does this);
- ``aliased(alias, tensor)``: alias is a second tensor object for tensor's data and history (the same value);
- ``called(module)``: a Module ran (a graph is valid only while its modules' training flags are the same);
- ``grad_seen(tensor)``: the engine is about to deliver a leaf's gradient; ``grad_cleared(tensor)``: its ``.grad``
  was set to None (zero_grad, the user); ``grad_assigned(tensor, value)``: its ``.grad`` was set to the tensor
  value (the engine's new ``.grad``, or the user's; both through ``Tensor.grad``'s setter).
"""
import threading


class _State(threading.local):
    def __init__(self):
        self.tracers = []


state = _State()
active = [0]  # tracers open in any thread: the calls below look at their own thread's only then


def _top():
    return state.tracers[-1] if active[0] and state.tracers else None


def born(tensor):
    tracer = _top()
    if tracer is not None:
        tracer.born(tensor)


def untraceable(what):
    tracer = _top()
    if tracer is not None:
        tracer.untraceable(what)


def created(tensor):
    tracer = _top()
    if tracer is not None:
        tracer.created(tensor)
    return tensor


def backward_begins():
    """The engine starts a backward (or autograd.grad): the ops after this are its gradients."""
    tracer = _top()
    if tracer is not None:
        tracer.backward_begins()


def wrote(tensor, result):
    tracer = _top()
    if tracer is not None:
        tracer.wrote(tensor, result)


def aliased(alias, tensor):
    tracer = _top()
    if tracer is not None:
        tracer.aliased(alias, tensor)


def called(module):
    tracer = _top()
    if tracer is not None:
        tracer.called(module)


def grad_seen(tensor):
    tracer = _top()
    if tracer is not None:
        tracer.grad_seen(tensor)


def grad_cleared(tensor):
    tracer = _top()
    if tracer is not None:
        tracer.grad_cleared(tensor)


def grad_assigned(tensor, value):
    tracer = _top()
    if tracer is not None:
        tracer.grad_assigned(tensor, value)


def bumped(tensor):
    tracer = _top()
    if tracer is not None:
        tracer.bumped(tensor)
