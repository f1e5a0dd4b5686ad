"""LeNet-5 for 28x28 inputs (MNIST layout: the first conv pads by 2 to recover the original 32x32 geometry)."""
from .. import nn
from ._weights import takes_weights

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """LeNet-5 for 28x28 images: two convolutions with max pooling, then three Linear layers.

    conv 6@5x5 (padding 2) -> ReLU -> max pool 2 -> conv 16@5x5 -> ReLU -> max pool 2 -> Linear 400-120 -> ReLU
    -> Linear 120-84 -> ReLU -> Linear 84-num_classes (ReLU and max pooling instead of the original's tanh and
    subsampling). Modules: ``features`` and ``classifier``.

    Args:
        num_classes (int): the number of classes. Default: 10.
        in_channels (int): the input's channels. Default: 1.

    Shape:
        - Input: (N, in_channels, 28, 28).
        - Output: (N, num_classes).

    PyTorch:
        No PyTorch counterpart: ember's own (torchvision has no LeNet).

    Example:
        >>> model = ember.zoo.LeNet5()
        >>> model(ember.randn(2, 1, 28, 28)).shape
        ember.Size([2, 10])
    """

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


@takes_weights
def lenet5(num_classes=10, in_channels=1):
    """Build a LeNet5 (ReLU, max pooling) for (N, in_channels, 28, 28) images.

    Args:
        num_classes (int): the number of classes. Default: 10.
        in_channels (int): the input's channels. Default: 1.

    Returns:
        LeNet5: the model.

    PyTorch:
        No PyTorch counterpart: ember's own.

    Example:
        >>> model = ember.zoo.lenet5(num_classes=5, in_channels=3)
        >>> model(ember.randn(2, 3, 28, 28)).shape
        ember.Size([2, 5])
    """
    return LeNet5(num_classes, in_channels)
