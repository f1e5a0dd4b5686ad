"""MobileNetV2 with torchvision's layout: features.0 (Conv-BN-ReLU6), features.1-17 (InvertedResidual .conv.N),
features.18 (1x1 Conv-BN-ReLU6), classifier.1 (Linear after Dropout)."""
from .. import nn
from ._weights import takes_weights

__all__ = ["Conv2dNormActivation", "InvertedResidual", "MobileNetV2", "mobilenet_v2"]


def _make_divisible(v, divisor, min_value=None):
    """Round v to the nearest multiple of divisor, not going below 90% of v (from the TF reference)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class Conv2dNormActivation(nn.Sequential):
    """Sequential(Conv2d, norm, activation) with 'same' padding (torchvision.ops.Conv2dNormActivation)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
                 norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1, inplace=True, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation, groups=groups,
                            bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=inplace))
        super().__init__(*layers)
        self.out_channels = out_channels


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expansion, 3x3 depthwise convolution, 1x1 linear projection, and a residual.

    The expansion (Conv-BN-ReLU6 to ``round(inp * expand_ratio)`` channels) is skipped when expand_ratio is 1; the
    input is added to the result when the stride is 1 and inp equals oup. Modules: ``conv`` (a Sequential).

    Args:
        inp (int): the input's channels.
        oup (int): the output's channels.
        stride (int): the depthwise convolution's stride, 1 or 2 (ValueError otherwise).
        expand_ratio (float): the expansion factor of the hidden channels.
        norm_layer (callable, optional): makes the normalization layers from a channel count. Default:
            ``nn.BatchNorm2d``.

    Shape:
        - Input: (N, inp, H, W).
        - Output: (N, oup, H_out, W_out), H_out = ceil(H / stride), W_out = ceil(W / stride).

    PyTorch:
        ``torchvision.models.mobilenetv2.InvertedResidual``; same arguments, modules and state_dict keys.

    Example:
        >>> block = ember.zoo.InvertedResidual(16, 24, stride=2, expand_ratio=6)
        >>> block(ember.randn(2, 16, 8, 8)).shape
        ember.Size([2, 24, 4, 4])
    """

    def __init__(self, inp, oup, stride, expand_ratio, norm_layer=None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride should be 1 or 2 instead of {stride}")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1, norm_layer=norm_layer,
                                               activation_layer=nn.ReLU6))
        layers += [Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim, norm_layer=norm_layer,
                                        activation_layer=nn.ReLU6),
                   nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
                   norm_layer(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
            [6, 320, 1, 1]]  # t (expansion), c (channels), n (repeats), s (first stride)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018): a stem convolution, 17 InvertedResidual blocks, a 1x1 convolution to
    1280 channels, average pooling, dropout and a Linear classifier.

    Convolutions start from ``kaiming_normal_`` (fan_out), BatchNorm from weight 1, bias 0, Linear weights from
    N(0, 0.01), as torchvision's.

    Args:
        num_classes (int): the number of classes. Default: 1000.
        width_mult (float): multiplies every block's channels (rounded to round_nearest). Default: 1.0.
        inverted_residual_setting (list of lists, optional): the blocks' [t, c, n, s] rows (expansion, channels,
            repeats, first stride); None: the paper's seven rows. Default: None.
        round_nearest (int): channels are rounded to a multiple of it. Default: 8.
        block (type, optional): the block class. Default: InvertedResidual.
        norm_layer (callable, optional): makes the normalization layers from a channel count. Default:
            ``nn.BatchNorm2d``.
        dropout (float): the dropout before the classifier. Default: 0.2.
        in_channels (int): the input's channels. Default: 3.

    Shape:
        - Input: (N, in_channels, H, W), H and W of 32 and more (224 in the paper).
        - Output: (N, num_classes).

    PyTorch:
        ``torchvision.models.MobileNetV2``; same arguments, modules, state_dict keys and initialization, plus
        ``in_channels`` (torchvision's stem always takes 3 channels).

    Example:
        >>> model = ember.zoo.MobileNetV2(num_classes=10, width_mult=0.25, in_channels=1)
        >>> model(ember.randn(2, 1, 32, 32)).shape
        ember.Size([2, 10])
    """

    def __init__(self, num_classes=1000, width_mult=1.0, inverted_residual_setting=None, round_nearest=8, block=None,
                 norm_layer=None, dropout=0.2, in_channels=3):
        super().__init__()
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        setting = inverted_residual_setting or _SETTING
        if not setting or any(len(s) != 4 for s in setting):
            raise ValueError(f"inverted_residual_setting should be non-empty and a list of 4-element lists, got "
                             f"{setting}")
        input_channel = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(in_channels, input_channel, stride=2, norm_layer=norm_layer,
                                         activation_layer=nn.ReLU6)]
        for t, c, n, s in setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(input_channel, output_channel, s if i == 0 else 1, expand_ratio=t,
                                      norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1, norm_layer=norm_layer,
                                             activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(x.flatten(1))


@takes_weights
def mobilenet_v2(num_classes=1000, **kwargs):
    """Build a MobileNetV2 in torchvision's layout: 3,504,872 parameters with 1000 classes.

    Args:
        num_classes (int): the number of classes. Default: 1000.
        **kwargs: the other keyword arguments of MobileNetV2 (``width_mult``, ``dropout``, ``in_channels``...).

    Returns:
        MobileNetV2: the model, initialized as torchvision initializes it.

    PyTorch:
        ``torchvision.models.mobilenet_v2``; same modules, state_dict keys and initialization; no pretrained
        weights (``weights`` must be None).

    Example:
        >>> model = ember.zoo.mobilenet_v2(num_classes=10, width_mult=0.25)
        >>> model(ember.randn(2, 3, 32, 32)).shape
        ember.Size([2, 10])
    """
    return MobileNetV2(num_classes=num_classes, **kwargs)
