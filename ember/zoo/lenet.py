"""LeNet-5 for 28x28 inputs (MNIST layout: the first conv pads by 2 to recover the original 32x32 geometry)."""
from .. import nn
from ._weights import takes_weights

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """conv 6@5x5 (pad 2) -> ReLU -> maxpool 2 -> conv 16@5x5 -> ReLU -> maxpool 2 -> fc 120 -> fc 84 -> fc classes."""

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
    """LeNet-5 (ReLU, max pooling) for (N, in_channels, 28, 28) input."""
    return LeNet5(num_classes, in_channels)
