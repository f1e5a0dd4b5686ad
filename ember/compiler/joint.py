"""A compiled forward whose backward runs later (``model = ember.compile(model)``, then ``loss.backward()`` outside):
AOTAutograd's idea. The trace differentiates the forward's outputs right after it (``capture.trace(joint=True)``),
so one graph holds the forward and its backward; the passes and the backend optimize it whole (fusion and C
segments stay on their side of the split). A call runs the forward part inside an autograd Function whose
backward runs the rest with the outputs' gradients: the values and node state the backward reads are kept from
the forward (as autograd's saved tensors), nothing is recomputed, and batch norm's statistics and dropout's draws
happen once.
"""
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor

__all__ = ["JointProgram", "run_joint"]


class JointProgram:
    """A joint graph's Program (see capture.Joint) run in two parts: ``forward`` runs the forward's instructions
    and keeps what the backward's read (the slots and the nodes they link to), ``backward`` runs the rest with the
    outputs' gradients in the placeholders' slots, on copies of what was kept (so it may run again).
    ``JointProgram.of(program, joint)`` is None where the program's ops do not split so."""

    def __init__(self, program, joint, boundary):
        self.program, self.joint = program, joint
        self.forward_steps, self.backward_steps = program.steps[:boundary], program.steps[boundary:]
        self.placeholders = {v.index - joint.n_inputs: i for i, v in enumerate(program.sources)
                             if v.kind == "input" and v.index >= joint.n_inputs}  # output k's gradient: its slot

    @classmethod
    def of(cls, program, joint):
        p = program.arrays or program
        flags = [op.backward for op in p.graph.ops]
        boundary = flags.index(True) if True in flags else len(flags)
        if any(flags[:boundary]) or not all(flags[boundary:]):
            return None
        return cls(p, joint, boundary)

    def forward(self, inputs):
        """(the outputs' arrays, what the backward needs) for the graph's input tensors; writes applied."""
        p = self.program
        sources = p._source_tensors(list(inputs) + [None] * len(self.joint.differentiable))  # placeholders: None
        env = [None] * p.n_slots
        env[:len(sources)] = [None if t is None else t._data for t in sources]
        ran = [None] * len(p.code)
        p._run_arrays(env, ran, self.forward_steps)
        p._write_back(sources, env)
        return [env[s] for s in p.outputs[:self.joint.n_outputs]], (env, ran)

    def backward(self, kept, grads):
        """The gradients (arrays, or None) of the joint's sources, from grads: one array per differentiable
        output."""
        p = self.program
        env, ran = list(kept[0]), list(kept[1])
        for k, g in enumerate(grads):
            if k in self.placeholders:
                env[self.placeholders[k]] = g
        p._run_arrays(env, ran, self.backward_steps)
        return [None if at is None else env[p.outputs[at]] for at in self.joint.grads]


class _CompiledForward(Function):
    """The forward part of a joint program as one autograd op over the sources that require grad."""

    @staticmethod
    def forward(ctx, run, inputs, *sources):
        outs, kept = run.forward(inputs)
        ctx.run, ctx.kept = run, kept
        tensors = tuple(Tensor._wrap(a) for a in outs)
        differentiable = set(run.joint.differentiable)
        ctx.mark_non_differentiable(*(t for i, t in enumerate(tensors) if i not in differentiable))
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        if is_grad_enabled():
            raise RuntimeError("ember.compile: a backward with create_graph=True through a compiled forward is not "
                               "supported (its gradients are not recorded); compile the function that runs both "
                               "backwards, or run this one eagerly")
        run = ctx.run
        arrays = [grads[i]._data for i in run.joint.differentiable]
        out = run.backward(ctx.kept, arrays)
        return (None, None) + tuple(None if a is None else Tensor._wrap(a) for a in out)


def run_joint(run, inputs):
    """The outputs (tensors, in the graph's order) of a joint program's forward on the input tensors, recorded by
    autograd so that a backward from them runs the program's backward part."""
    sources = [inputs[v.index] if v.kind == "input" else v.tensor for v in run.joint.sources]
    outs = _CompiledForward.apply(run, inputs, *sources)
    return list(outs) if isinstance(outs, tuple) else [outs]
