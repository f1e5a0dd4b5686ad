"""Activation checkpointing for the zoo's models: ``checkpoint=`` of gpt and mlp, and the ``checkpoint: N`` key of
a config (ember/config), through ember.utils.checkpoint."""
import math

from .. import nn
from ..autograd import is_grad_enabled
from ..utils.checkpoint import checkpoint_sequential

__all__ = ["segments_for", "run_checkpointed", "CheckpointedSequential"]


def segments_for(checkpoint, n):
    """The number of segments a ``checkpoint`` option asks for over n layers: 0 (off) for False, None or 0; for
    True Chen et al.'s sqrt schedule, round(sqrt(n)) segments (at least 2, so that something is recomputed); an int
    as it is."""
    if checkpoint is None or checkpoint is False:
        return 0
    if checkpoint is True:
        return max(2, round(math.sqrt(n)))
    if not isinstance(checkpoint, int) or checkpoint < 0:
        raise ValueError(f"checkpoint: expected True, False or a number of segments >= 0 (got {checkpoint!r})")
    return checkpoint


def run_checkpointed(layers, segments, x, training):
    """x through layers (a list of modules), the first segments - 1 of ``segments`` chunks checkpointed
    (checkpoint_sequential, use_reentrant=False) while training with gradients; plainly otherwise."""
    if segments and training and is_grad_enabled():
        return checkpoint_sequential(layers, min(segments, len(layers)), x, use_reentrant=False)
    for layer in layers:
        x = layer(x)
    return x


class CheckpointedSequential(nn.Sequential):
    """An nn.Sequential (same modules, same state_dict keys) whose training forward recomputes its activations in
    backward: ``segments`` chunks by checkpoint_sequential, all but the last checkpointed."""

    def __init__(self, *modules, segments=2):
        super().__init__(*modules)
        self.segments = segments

    def forward(self, input):
        return run_checkpointed(list(self), self.segments, input, self.training)

    def extra_repr(self):
        return f"segments={self.segments}"
