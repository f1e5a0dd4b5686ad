"""A multi-layer perceptron as a plain Sequential (Flatten, then Linear/ReLU/Dropout per hidden layer)."""
from .. import nn
from ._weights import takes_weights

__all__ = ["mlp"]


@takes_weights
def mlp(in_features=784, hidden=(512, 512), num_classes=10, dropout=0.0):
    """Sequential(Flatten, [Linear, ReLU, Dropout] per hidden width, Linear) -- e.g. 784-512-512-10.

    Dropout is always present (identity at p=0) so the state_dict keys do not depend on `dropout`.
    """
    if isinstance(hidden, int):
        hidden = (hidden,)
    layers, width = [nn.Flatten()], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
