"""ResNets with torchvision's exact module layout, state_dict keys and initialisation, and CIFAR ResNets (6n+2).

Keys: conv1, bn1, layer1..layer4 (BasicBlock/Bottleneck: conv1/bn1/conv2/bn2[/conv3/bn3], downsample.0/.1), fc.
"""
from .. import nn
from ._weights import builder_doc, takes_weights

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
    """The residual block of ResNet-18/34: two 3x3 convolutions with BatchNorm, added to a shortcut, then ReLU.

    The shortcut is the input itself, or ``downsample(input)`` where the shape changes (a stride or a new width).

    Args:
        inplanes (int): the input's channels.
        planes (int): the output's channels (``expansion`` is 1).
        stride (int): the first convolution's stride. Default: 1.
        downsample (Module, optional): the shortcut's module (e.g. a 1x1 conv and BatchNorm); None: the identity.
            Default: None.
        groups (int): only 1 is supported (ValueError otherwise). Default: 1.
        base_width (int): only 64 is supported (ValueError otherwise). Default: 64.
        dilation (int): only 1 is supported (NotImplementedError otherwise). Default: 1.
        norm_layer (callable, optional): makes the normalization layers from a channel count. Default:
            ``nn.BatchNorm2d``.

    Shape:
        - Input: (N, inplanes, H, W).
        - Output: (N, planes, H_out, W_out), H_out = ceil(H / stride), W_out = ceil(W / stride).

    PyTorch:
        ``torchvision.models.resnet.BasicBlock``; same arguments, modules and state_dict keys.

    Example:
        >>> block = ember.zoo.BasicBlock(16, 16)
        >>> block(ember.randn(2, 16, 8, 8)).shape
        ember.Size([2, 16, 8, 8])
    """

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
    """The residual block of ResNet-50/101/152: 1x1 reduce, 3x3, 1x1 expand by 4, added to a shortcut, then ReLU.

    The stride is in the 3x3 convolution (ResNet v1.5, as torchvision). The shortcut is the input itself, or
    ``downsample(input)`` where the shape changes.

    Args:
        inplanes (int): the input's channels.
        planes (int): the bottleneck's channels; the output has ``planes * 4`` (``expansion``).
        stride (int): the 3x3 convolution's stride. Default: 1.
        downsample (Module, optional): the shortcut's module (e.g. a 1x1 conv and BatchNorm); None: the identity.
            Default: None.
        groups (int): the 3x3 convolution's groups (ResNeXt). Default: 1.
        base_width (int): the width per group; the 3x3 convolution has ``int(planes * base_width / 64) * groups``
            channels. Default: 64.
        dilation (int): the 3x3 convolution's dilation. Default: 1.
        norm_layer (callable, optional): makes the normalization layers from a channel count. Default:
            ``nn.BatchNorm2d``.

    Shape:
        - Input: (N, inplanes, H, W).
        - Output: (N, planes * 4, H_out, W_out), H_out = ceil(H / stride), W_out = ceil(W / stride).

    PyTorch:
        ``torchvision.models.resnet.Bottleneck``; same arguments, modules and state_dict keys.

    Example:
        >>> shortcut = nn.Sequential(nn.Conv2d(64, 256, 1, bias=False), nn.BatchNorm2d(256))
        >>> block = ember.zoo.Bottleneck(64, 64, downsample=shortcut)
        >>> block(ember.randn(2, 64, 8, 8)).shape
        ember.Size([2, 256, 8, 8])
    """

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
    """A ResNet for ImageNet-sized images: 7x7 stem, max pool, four stages of residual blocks, average pool, fc.

    The stages have 64, 128, 256 and 512 ``planes`` (times the block's ``expansion``); each stage after the first
    halves the resolution. Convolutions start from ``kaiming_normal_`` (fan_out), BatchNorm from weight 1, bias 0.

    Args:
        block (type): the residual block, ``BasicBlock`` or ``Bottleneck``.
        layers (list of int): the number of blocks of each of the four stages, e.g. [2, 2, 2, 2] for ResNet-18.
        num_classes (int): the number of classes, the width of ``fc``. Default: 1000.
        zero_init_residual (bool): start the last BatchNorm of each block at weight 0, so that each block starts
            as the identity. Default: False.
        groups (int): the groups of the Bottleneck's 3x3 convolutions (ResNeXt). Default: 1.
        width_per_group (int): the Bottleneck's width per group (128 for Wide ResNet). Default: 64.
        replace_stride_with_dilation (list of bool, optional): for stages 2 to 4, dilate instead of striding.
            Default: None (stride everywhere).
        norm_layer (callable, optional): makes the normalization layers from a channel count. Default:
            ``nn.BatchNorm2d``.
        in_channels (int): the input's channels. Default: 3.

    Shape:
        - Input: (N, in_channels, H, W); H and W of 32 and more.
        - Output: (N, num_classes).

    PyTorch:
        ``torchvision.models.ResNet``; same arguments, modules, state_dict keys and initialization, plus
        ``in_channels`` (torchvision's stem always takes 3 channels).

    Example:
        >>> model = ember.zoo.ResNet(ember.zoo.BasicBlock, [1, 1, 1, 1], num_classes=10, in_channels=1)
        >>> model(ember.randn(2, 1, 32, 32)).shape
        ember.Size([2, 10])
    """

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
    """A ResNet for 32x32 images (He et al. 2016, section 4.2): 3x3 stem, three stages of BasicBlocks, pool, fc.

    Each stage has n = (depth - 2) / 6 BasicBlocks; the second and third halve the resolution. Where the shape
    changes, the shortcut is a 1x1 convolution and BatchNorm (the paper's option B). Initialized as ResNet.

    Args:
        depth (int): 6n + 2 layers: 8, 20, 32, 44, 56, 110, ... (ValueError otherwise). Default: 20.
        num_classes (int): the number of classes, the width of ``fc``. Default: 10.
        widths (tuple of int): the channels of the three stages. Default: (16, 32, 64).
        in_channels (int): the input's channels. Default: 3.
        zero_init_residual (bool): start the last BatchNorm of each block at weight 0. Default: False.
        norm_layer (callable, optional): makes the normalization layers from a channel count. Default:
            ``nn.BatchNorm2d``.

    Shape:
        - Input: (N, in_channels, H, W), typically 32x32.
        - Output: (N, num_classes).

    PyTorch:
        No PyTorch counterpart: ember's own (torchvision has only the ImageNet ResNets); the layout of
        torchvision's ResNet with BasicBlocks.

    Example:
        >>> model = ember.zoo.CifarResNet(depth=8, widths=(4, 8, 16))
        >>> model(ember.randn(2, 3, 32, 32)).shape
        ember.Size([2, 10])
    """

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


def _resnet_doc(name, block, layers, params, example=None):
    """The docstring of the ImageNet ResNet builder ``name``: its block, layers and parameter count (1000 classes,
    as torchvision's); the example counts the parameters unless one is given."""
    if example == "weights":  # building the deepest ones takes seconds: their example shows the weights error
        example = (f">>> # model = ember.zoo.{name}(num_classes=10) builds one in seconds\n"
                   f">>> ember.zoo.{name}(weights=\"IMAGENET1K_V1\")  # no pretrained weights in ember\n"
                   "Traceback (most recent call last):\n    ...\n"
                   f"ValueError: {name}: ember has no pretrained weights (got weights='IMAGENET1K_V1'); build "
                   "with weights=None ...")
    v15 = " The stride of a downsampling block is in its 3x3 convolution (v1.5)." if block == "Bottleneck" else ""
    return builder_doc(
        f"ResNet-{name[6:]} (He et al. 2016) in torchvision's layout: ``ResNet({block}, {layers})``, {params:,} "
        f"parameters with 1000 classes.{v15}", "ResNet", 1000,
        "the other keyword arguments of ``ResNet`` (``in_channels``, ``zero_init_residual``, ``norm_layer``...).",
        f"``torchvision.models.{name}``; same modules, state_dict keys and initialization; no pretrained weights "
        "(``weights`` must be None).",
        example or f">>> model = ember.zoo.{name}()\n>>> sum(p.numel() for p in model.parameters())  # as "
                   f"torchvision's\n{params}")


def _cifar_doc(depth, params):
    """The docstring of the CIFAR ResNet builder of ``depth`` layers (its parameter count with 10 classes)."""
    n = (depth - 2) // 6
    return builder_doc(
        f"The CIFAR ResNet-{depth} of He et al. (2016): ``CifarResNet({depth})``, {n} BasicBlock"
        f"{'s' if n > 1 else ''} per stage of 16, 32 and 64 channels, {params:,} parameters with 10 classes.",
        "CifarResNet", 10, "the other keyword arguments of ``CifarResNet`` (``widths``, ``in_channels``...).",
        "No PyTorch counterpart: ember's own (torchvision has only the ImageNet ResNets).",
        f">>> model = ember.zoo.resnet{depth}()\n>>> model(ember.randn(2, 3, 32, 32)).shape\nember.Size([2, 10])"
        if depth == 8 else
        f">>> model = ember.zoo.resnet{depth}()\n>>> sum(p.numel() for p in model.parameters())\n{params}")


@takes_weights
@_resnet_doc("resnet18", "BasicBlock", [2, 2, 2, 2], 11689512,
             ">>> model = ember.zoo.resnet18(num_classes=10)\n>>> model(ember.randn(1, 3, 64, 64)).shape\n"
             "ember.Size([1, 10])")
def resnet18(num_classes=1000, **kwargs):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, **kwargs)


@takes_weights
@_resnet_doc("resnet34", "BasicBlock", [3, 4, 6, 3], 21797672)
def resnet34(num_classes=1000, **kwargs):
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


@takes_weights
@_resnet_doc("resnet50", "Bottleneck", [3, 4, 6, 3], 25557032)
def resnet50(num_classes=1000, **kwargs):
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


@takes_weights
@_resnet_doc("resnet101", "Bottleneck", [3, 4, 23, 3], 44549160, "weights")
def resnet101(num_classes=1000, **kwargs):
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, **kwargs)


@takes_weights
@_resnet_doc("resnet152", "Bottleneck", [3, 8, 36, 3], 60192808, "weights")
def resnet152(num_classes=1000, **kwargs):
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes=num_classes, **kwargs)


@takes_weights
@_cifar_doc(8, 78042)
def resnet8(num_classes=10, **kwargs):
    return CifarResNet(8, num_classes, **kwargs)


@takes_weights
@_cifar_doc(20, 272474)
def resnet20(num_classes=10, **kwargs):
    return CifarResNet(20, num_classes, **kwargs)


@takes_weights
@_cifar_doc(32, 466906)
def resnet32(num_classes=10, **kwargs):
    return CifarResNet(32, num_classes, **kwargs)


@takes_weights
@_cifar_doc(44, 661338)
def resnet44(num_classes=10, **kwargs):
    return CifarResNet(44, num_classes, **kwargs)


@takes_weights
@_cifar_doc(56, 855770)
def resnet56(num_classes=10, **kwargs):
    return CifarResNet(56, num_classes, **kwargs)
