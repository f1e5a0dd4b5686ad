"""Synthetic stand-ins for the parts of torchvision that the pytorch/examples programs use (torchvision is not
installed here): ``datasets`` (MNIST, FakeData), ``transforms`` (Compose, ToTensor, Normalize, Resize, CenterCrop),
``utils.save_image`` and ``models.resnet18``.

``torchvision_for(torch)`` builds them for one framework module (ember or the real torch), so that one program text
runs on both. Images are NumPy arrays (what PIL images are to torchvision; the transforms take PIL images too)
drawn from a fixed seed, so both frameworks see the very same data. Sizes are small and set in SIZES (tests may
change them).
"""
import functools
import importlib
import os
import types

import numpy as np

SIZES = {"MNIST_train": 256, "MNIST_test": 64, "FakeData": 16}


def _mnist_like(n, seed):
    """n 28x28 uint8 images of 10 classes: a fixed blurred template per class plus noise (learnable, not trivial)."""
    templates = np.random.default_rng(1234).uniform(0, 1, size=(10, 28, 28))
    for _ in range(3):  # blur: neighbouring pixels agree, as in digits
        templates = (templates + np.roll(templates, 1, 1) + np.roll(templates, 1, 2)) / 3
    templates = (templates - templates.min()) / (templates.max() - templates.min())
    rng = np.random.default_rng(seed)
    targets = np.arange(n) % 10
    rng.shuffle(targets)
    images = templates[targets] * 200 + rng.normal(0, 30, size=(n, 28, 28))
    return np.clip(images, 0, 255).astype(np.uint8), targets.astype(np.int64)


def _resize(image, size):
    """Bilinear resize (half-pixel centres) of an HxW or HxWxC array; an int size is the smaller edge's length."""
    h, w = image.shape[:2]
    if isinstance(size, int):
        oh, ow = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    else:
        oh, ow = size
    ys = np.clip((np.arange(oh) + 0.5) * h / oh - 0.5, 0, h - 1)
    xs = np.clip((np.arange(ow) + 0.5) * w / ow - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = ys - y0, xs - x0
    if image.ndim == 3:
        fy, fx = fy[:, None, None], fx[None, :, None]
    else:
        fy, fx = fy[:, None], fx[None, :]
    img = image.astype(np.float64)
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return np.clip(np.round(top * (1 - fy) + bottom * fy), 0, 255).astype(image.dtype)


def _lib(name):
    return importlib.import_module(name)


# Module-level classes holding the framework's name (not the module), so that datasets and transforms pickle, as
# spawned DataLoader workers and multiprocessing need.

class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    """HxW or HxWxC uint8 -> float32 CxHxW in [0, 1]."""

    def __init__(self, *, lib="ember"):
        self.lib = lib

    def __call__(self, image):
        image = np.asarray(image)
        array = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
        return _lib(self.lib).from_numpy(np.ascontiguousarray(array, dtype=np.float32) / 255)


class Normalize:
    def __init__(self, mean, std, *, lib="ember"):
        self.mean, self.std, self.lib = mean, std, lib

    def __call__(self, t):
        torch = _lib(self.lib)
        mean = torch.tensor(self.mean, dtype=t.dtype).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=t.dtype).view(-1, 1, 1)
        return (t - mean) / std


class Resize:
    def __init__(self, size):
        self.size = size

    def __call__(self, image):
        return _resize(np.asarray(image), self.size)


class CenterCrop:
    def __init__(self, size):
        self.size = (size, size) if isinstance(size, int) else tuple(size)

    def __call__(self, image):
        image = np.asarray(image)
        h, w = image.shape[:2]
        th, tw = self.size
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return image[top:top + th, left:left + tw]


class MNIST:
    """MNIST's interface (data, targets, (image, int label) samples) on synthetic images."""

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False, *, lib="ember"):
        torch = _lib(lib)
        images, targets = _mnist_like(SIZES["MNIST_train" if train else "MNIST_test"], seed=1 if train else 2)
        self.data, self.targets = torch.from_numpy(images), torch.from_numpy(targets)
        self._images, self._targets = images, targets
        self.transform, self.target_transform = transform, target_transform

    def __getitem__(self, index):
        image, target = self._images[index], int(self._targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self):
        return len(self._targets)


class FakeData:
    """Random images and labels (torchvision's FakeData; the default size is SIZES['FakeData'])."""

    def __init__(self, size=None, image_size=(3, 224, 224), num_classes=10, transform=None, target_transform=None,
                 random_offset=0):
        self.size = SIZES["FakeData"] if size is None else size
        self.image_size, self.num_classes = image_size, num_classes
        self.transform, self.target_transform = transform, target_transform
        self.random_offset = random_offset

    def __getitem__(self, index):
        rng = np.random.default_rng(index + self.random_offset)
        c, h, w = self.image_size
        image = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self):
        return self.size


def _transforms(torch):
    lib = torch.__name__
    return types.SimpleNamespace(Compose=Compose, ToTensor=functools.partial(ToTensor, lib=lib),
                                 Normalize=functools.partial(Normalize, lib=lib), Resize=Resize,
                                 CenterCrop=CenterCrop)


def _datasets(torch):
    lib = torch.__name__
    return types.SimpleNamespace(MNIST=functools.partial(MNIST, lib=lib), FakeData=FakeData)


def _utils():
    def save_image(tensor, fp, nrow=8, padding=2, normalize=False, **kwargs):
        """Writes the images as a NumPy file (instead of a PNG grid) after torchvision's checks."""
        array = np.asarray(tensor.detach().cpu().numpy(), dtype=np.float32)
        if array.ndim not in (2, 3, 4):
            raise ValueError(f"save_image: expected a 2-, 3- or 4-d tensor, got shape {array.shape}")
        if normalize:
            array = (array - array.min()) / max(array.max() - array.min(), 1e-5)
        directory = os.path.dirname(os.fspath(fp))
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(fp, "wb") as f:
            np.save(f, array)

    return types.SimpleNamespace(save_image=save_image)


def _models(torch):
    nn = torch.nn

    def conv3x3(inplanes, planes, stride=1):
        return nn.Conv2d(inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False)

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = conv3x3(inplanes, planes, stride)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = conv3x3(planes, planes)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            return self.relu(out)

    class ResNet(nn.Module):
        """torchvision's ResNet with BasicBlocks (module names, order and initialisation as there)."""

        def __init__(self, layers, num_classes=1000):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(64, layers[0])
            self.layer2 = self._make_layer(128, layers[1], stride=2)
            self.layer3 = self._make_layer(256, layers[2], stride=2)
            self.layer4 = self._make_layer(512, layers[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                                           nn.BatchNorm2d(planes))
            layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes
            layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    def resnet18(weights=None, **kwargs):
        if weights is not None:
            raise ValueError("resnet18 stand-in: no pretrained weights here")
        return ResNet([2, 2, 2, 2], **kwargs)

    return types.SimpleNamespace(resnet18=resnet18)


def torchvision_for(torch):
    """A torchvision stand-in (datasets, transforms, utils, models) whose tensors are `torch`'s (ember or torch)."""
    return types.SimpleNamespace(datasets=_datasets(torch), transforms=_transforms(torch), utils=_utils(),
                                 models=_models(torch))
