"""VGG with torchvision's layout: features.N (conv[, bn], relu, ..., maxpool), avgpool (7, 7), classifier.0/3/6."""
from .. import nn
from ._weights import takes_weights

__all__ = ["VGG", "make_layers", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]

CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm=False, in_channels=3):
    """The `features` Sequential for a config list (ints are conv widths, "M" a 2x2 max pool)."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """torchvision.models.VGG: features, AdaptiveAvgPool2d((7, 7)), 4096-4096-classes classifier with dropout."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _vgg(cfg, batch_norm, num_classes, in_channels=3, **kwargs):
    return VGG(make_layers(CFGS[cfg], batch_norm, in_channels), num_classes=num_classes, **kwargs)


@takes_weights
def vgg11(num_classes=1000, **kwargs):
    """VGG-11 (configuration A)."""
    return _vgg("A", False, num_classes, **kwargs)


@takes_weights
def vgg11_bn(num_classes=1000, **kwargs):
    """VGG-11 with BatchNorm after every conv."""
    return _vgg("A", True, num_classes, **kwargs)


@takes_weights
def vgg13(num_classes=1000, **kwargs):
    """VGG-13 (configuration B)."""
    return _vgg("B", False, num_classes, **kwargs)


@takes_weights
def vgg13_bn(num_classes=1000, **kwargs):
    """VGG-13 with BatchNorm."""
    return _vgg("B", True, num_classes, **kwargs)


@takes_weights
def vgg16(num_classes=1000, **kwargs):
    """VGG-16 (configuration D)."""
    return _vgg("D", False, num_classes, **kwargs)


@takes_weights
def vgg16_bn(num_classes=1000, **kwargs):
    """VGG-16 with BatchNorm."""
    return _vgg("D", True, num_classes, **kwargs)


@takes_weights
def vgg19(num_classes=1000, **kwargs):
    """VGG-19 (configuration E)."""
    return _vgg("E", False, num_classes, **kwargs)


@takes_weights
def vgg19_bn(num_classes=1000, **kwargs):
    """VGG-19 with BatchNorm."""
    return _vgg("E", True, num_classes, **kwargs)
