"""A multi-layer perceptron as a plain Sequential (Flatten, then Linear/ReLU/Dropout per hidden layer)."""
from .. import nn
from ._checkpoint import CheckpointedSequential, segments_for
from ._weights import takes_weights

__all__ = ["mlp"]


@takes_weights
def mlp(in_features=784, hidden=(512, 512), num_classes=10, dropout=0.0, checkpoint=False):
    """Sequential(Flatten, [Linear, ReLU, Dropout] per hidden width, Linear) -- e.g. 784-512-512-10.

    Dropout is always present (identity at p=0) so the state_dict keys do not depend on `dropout`. checkpoint
    (True: round(sqrt(n)) segments of the n modules, at least 2; or a number of segments) recomputes the
    activations in backward instead of keeping them (ember.utils.checkpoint.checkpoint_sequential): a
    CheckpointedSequential, with the same modules and state_dict keys.
    """
    if isinstance(hidden, int):
        hidden = (hidden,)
    layers, width = [nn.Flatten()], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, num_classes))
    segments = segments_for(checkpoint, len(layers))
    return CheckpointedSequential(*layers, segments=segments) if segments else nn.Sequential(*layers)
