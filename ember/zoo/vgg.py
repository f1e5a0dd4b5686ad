"""VGG with torchvision's layout: features.N (conv[, bn], relu, ..., maxpool), avgpool (7, 7), classifier.0/3/6."""
from .. import nn
from ._weights import builder_doc, takes_weights

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
    """A VGG network: ``features``, an adaptive average pool to 7x7, then a 4096-4096-classes classifier.

    The classifier is Linear(512 * 7 * 7, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout and
    Linear(4096, num_classes): ``features`` must end with 512 channels. With ``init_weights``, convolutions start
    from ``kaiming_normal_`` (fan_out), Linear weights from N(0, 0.01), biases at 0, as torchvision's.

    Args:
        features (Module): the convolutional part (``make_layers(cfg)``), ending with 512 channels.
        num_classes (int): the number of classes, the width of the last Linear. Default: 1000.
        init_weights (bool): initialize as torchvision (else each layer keeps its own default). Default: True.
        dropout (float): the classifier's dropout probability. Default: 0.5.

    Shape:
        - Input: (N, C, H, W), what ``features`` takes (3 channels for the builders' features).
        - Output: (N, num_classes).

    PyTorch:
        ``torchvision.models.VGG``; same arguments, modules, state_dict keys and initialization.

    The builders pass ``make_layers(CFGS[cfg], batch_norm)`` as features: ``VGG(make_layers(CFGS["A"]))`` is
    vgg11. Building a VGG takes seconds (its classifier alone has 120 million parameters), so the example shows
    only the features part.

    Example:
        >>> features = ember.zoo.vgg.make_layers([8, "M", 16, "M"])  # conv widths, "M" a 2x2 max pool
        >>> features(ember.randn(1, 3, 32, 32)).shape
        ember.Size([1, 16, 8, 8])
    """

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


def _vgg_doc(name, cfg, batch_norm, params):
    """The docstring of the VGG builder ``name``: its configuration and parameter count (1000 classes). Its
    example shows the error of ``weights=``: building a VGG takes seconds (the 4096-wide classifier)."""
    depth = name[3:5]
    norm = " with BatchNorm after every convolution" if batch_norm else ""
    return builder_doc(
        f"VGG-{depth} (Simonyan and Zisserman 2014, configuration {cfg}){norm}, in torchvision's layout: "
        f"{params:,} parameters with 1000 classes, most of them in the classifier; made for 224x224 images (any "
        "size from 32x32 runs: the pool before the classifier adapts).",
        "VGG", 1000,
        "``in_channels`` (the input's channels, default 3) and ``VGG``'s ``init_weights`` and ``dropout``.",
        f"``torchvision.models.{name}``; same modules, state_dict keys and initialization; no pretrained weights "
        "(``weights`` must be None).",
        f">>> # model = ember.zoo.{name}(num_classes=10) builds one in seconds (a 120M-parameter classifier)\n"
        f">>> ember.zoo.{name}(weights=\"IMAGENET1K_V1\")  # no pretrained weights in ember\n"
        "Traceback (most recent call last):\n    ...\n"
        f"ValueError: {name}: ember has no pretrained weights (got weights='IMAGENET1K_V1'); build with "
        "weights=None ...")


@takes_weights
@_vgg_doc("vgg11", "A", False, 132863336)
def vgg11(num_classes=1000, **kwargs):
    return _vgg("A", False, num_classes, **kwargs)


@takes_weights
@_vgg_doc("vgg11_bn", "A", True, 132868840)
def vgg11_bn(num_classes=1000, **kwargs):
    return _vgg("A", True, num_classes, **kwargs)


@takes_weights
@_vgg_doc("vgg13", "B", False, 133047848)
def vgg13(num_classes=1000, **kwargs):
    return _vgg("B", False, num_classes, **kwargs)


@takes_weights
@_vgg_doc("vgg13_bn", "B", True, 133053736)
def vgg13_bn(num_classes=1000, **kwargs):
    return _vgg("B", True, num_classes, **kwargs)


@takes_weights
@_vgg_doc("vgg16", "D", False, 138357544)
def vgg16(num_classes=1000, **kwargs):
    return _vgg("D", False, num_classes, **kwargs)


@takes_weights
@_vgg_doc("vgg16_bn", "D", True, 138365992)
def vgg16_bn(num_classes=1000, **kwargs):
    return _vgg("D", True, num_classes, **kwargs)


@takes_weights
@_vgg_doc("vgg19", "E", False, 143667240)
def vgg19(num_classes=1000, **kwargs):
    return _vgg("E", False, num_classes, **kwargs)


@takes_weights
@_vgg_doc("vgg19_bn", "E", True, 143678248)
def vgg19_bn(num_classes=1000, **kwargs):
    return _vgg("E", True, num_classes, **kwargs)
