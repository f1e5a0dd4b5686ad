"""OptimizerUpdate: one parameter's optimizer step as an op (what ember.compile captures of Optimizer.step)."""
import ember
from ember.autograd.graph import apply
from ember.optim.optimizer import OptimizerUpdate

from . import OpInfo, Sample, T


def _update(make):
    """fn(x): the values of a parameter initialised to x after two steps of the optimizer make(params) with the
    gradient x / 2, run through the op."""
    def fn(x):
        p = ember.nn.Parameter(x.detach().clone())
        opt = make([p])
        for _ in range(2):
            apply(OptimizerUpdate(opt, opt.param_groups[0], p), p, x.detach() * 0.5)
        return p.detach().clone()
    return fn


def _torch_update(make):
    def ref(torch, x):
        p = torch.nn.Parameter(x.detach().clone())
        opt = make(torch, [p])
        for _ in range(2):
            p.grad = x.detach() * 0.5
            opt.step()
        return p.detach().clone()
    return ref


ENTRIES = [
    OpInfo("OptimizerUpdate", _update(lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9)),
           [Sample(T((3, 4))), Sample(T(()))], grad=False, name="sgd_update",
           ref=_torch_update(lambda torch, ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9))),
    OpInfo("OptimizerUpdate", _update(lambda ps: ember.optim.AdamW(ps, lr=0.01)), [Sample(T((5,)))], grad=False,
           name="adamw_update", ref=_torch_update(lambda torch, ps: torch.optim.AdamW(ps, lr=0.01))),
]
