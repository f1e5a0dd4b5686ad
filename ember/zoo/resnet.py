"""ResNets with torchvision's exact module layout, state_dict keys and initialisation, and CIFAR ResNets (6n+2).

Keys: conv1, bn1, layer1..layer4 (BasicBlock/Bottleneck: conv1/bn1/conv2/bn2[/conv3/bn3], downsample.0/.1), fc.
"""
from .. import nn
from ._weights import takes_weights

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "CifarResNet", "resnet18", "resnet34", "resnet50", "resnet101",
           "resnet152", "resnet8", "resnet20", "resnet32", "resnet44", "resnet56"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding, no bias (followed by BatchNorm)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups, bias=False,
                     dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm and an identity (or downsample) shortcut."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (stride here, as in torchvision's ResNet v1.5), 1x1 expand by 4, with a shortcut."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def _init_weights(model, zero_init_residual):
    """torchvision's init: kaiming_normal_(fan_out, relu) convs, BN weight 1 / bias 0, optional zero last BN."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    if zero_init_residual:  # each residual branch starts as zero, so each block starts as the identity
        for m in model.modules():
            if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                nn.init.constant_(m.bn3.weight, 0)
            elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                nn.init.constant_(m.bn2.weight, 0)


class _ResNetBase(nn.Module):
    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation,
                        norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=norm_layer))
        return nn.Sequential(*layers)


class ResNet(_ResNetBase):
    """torchvision.models.ResNet: same constructor, modules, state_dict keys and initialisation."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1, width_per_group=64,
                 replace_stride_with_dilation=None, norm_layer=None, in_channels=3):
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes, self.dilation = 64, 1
        replace_stride_with_dilation = replace_stride_with_dilation or [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, got "
                             f"{replace_stride_with_dilation}")
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        _init_weights(self, zero_init_residual)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


class CifarResNet(_ResNetBase):
    """ResNet for 32x32 images (He et al. 2016, section 4.2): 3x3 stem, three stages of `n` BasicBlocks with
    16/32/64 channels, 1x1 conv + BN shortcuts where the shape changes (option B), global average pool, fc."""

    def __init__(self, depth=20, num_classes=10, widths=(16, 32, 64), in_channels=3, zero_init_residual=False,
                 norm_layer=None):
        super().__init__()
        if (depth - 2) % 6 or depth < 8:
            raise ValueError(f"CifarResNet: depth must be 6n+2 (8, 20, 32, 44, 56, ...), got {depth}")
        n = (depth - 2) // 6
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = widths[0], 1, 1, 64
        self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = self._norm_layer(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(BasicBlock, widths[0], n)
        self.layer2 = self._make_layer(BasicBlock, widths[1], n, stride=2)
        self.layer3 = self._make_layer(BasicBlock, widths[2], n, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[2], num_classes)
        _init_weights(self, zero_init_residual)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


@takes_weights
def resnet18(num_classes=1000, **kwargs):
    """ResNet-18 (torchvision layout)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, **kwargs)


@takes_weights
def resnet34(num_classes=1000, **kwargs):
    """ResNet-34 (torchvision layout)."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


@takes_weights
def resnet50(num_classes=1000, **kwargs):
    """ResNet-50 (torchvision layout, stride in the 3x3 conv: v1.5)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


@takes_weights
def resnet101(num_classes=1000, **kwargs):
    """ResNet-101 (torchvision layout)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, **kwargs)


@takes_weights
def resnet152(num_classes=1000, **kwargs):
    """ResNet-152 (torchvision layout)."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes=num_classes, **kwargs)


@takes_weights
def resnet8(num_classes=10, **kwargs):
    """CIFAR ResNet-8 (one BasicBlock per stage, 16/32/64 channels)."""
    return CifarResNet(8, num_classes, **kwargs)


@takes_weights
def resnet20(num_classes=10, **kwargs):
    """CIFAR ResNet-20 (three BasicBlocks per stage, 16/32/64 channels)."""
    return CifarResNet(20, num_classes, **kwargs)


@takes_weights
def resnet32(num_classes=10, **kwargs):
    """CIFAR ResNet-32."""
    return CifarResNet(32, num_classes, **kwargs)


@takes_weights
def resnet44(num_classes=10, **kwargs):
    """CIFAR ResNet-44."""
    return CifarResNet(44, num_classes, **kwargs)


@takes_weights
def resnet56(num_classes=10, **kwargs):
    """CIFAR ResNet-56."""
    return CifarResNet(56, num_classes, **kwargs)
