"""A multi-layer perceptron as a plain Sequential (Flatten, then Linear/ReLU/Dropout per hidden layer)."""
from .. import nn
from ._checkpoint import CheckpointedSequential, segments_for
from ._weights import takes_weights

__all__ = ["mlp"]


@takes_weights
def mlp(in_features=784, hidden=(512, 512), num_classes=10, dropout=0.0, checkpoint=False):
    """Build a multi-layer perceptron: Sequential(Flatten, [Linear, ReLU, Dropout] per hidden width, Linear).

    The default is 784-512-512-10 (MNIST). Dropout is always present (the identity at p=0), so the state_dict keys
    do not depend on ``dropout``.

    Args:
        in_features (int): the size of a flattened input sample. Default: 784.
        hidden (int or tuple of int): the widths of the hidden layers. Default: (512, 512).
        num_classes (int): the number of classes. Default: 10.
        dropout (float): the dropout probability after each hidden layer. Default: 0.0.
        checkpoint (bool or int): recompute the activations in backward instead of keeping them
            (``ember.utils.checkpoint.checkpoint_sequential``): True for round(sqrt(n)) segments of the n modules
            (at least 2), an int for that many segments, False or 0 for none. Default: False.

    Returns:
        Sequential: the model; a CheckpointedSequential (an nn.Sequential with the same modules and state_dict
        keys) when ``checkpoint`` asks for segments.

    PyTorch:
        No PyTorch counterpart: ember's own (torchvision.ops.MLP is close, without Flatten and checkpointing).

    Example:
        >>> model = ember.zoo.mlp(in_features=4, hidden=8, num_classes=3)
        >>> model(ember.randn(2, 4)).shape
        ember.Size([2, 3])
        >>> [name for name, _ in model.named_parameters()]
        ['1.weight', '1.bias', '4.weight', '4.bias']
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
