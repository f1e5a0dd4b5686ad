"""Per-sample transforms for image datasets: Compose, ToTensor, Normalize, RandomCrop, RandomHorizontalFlip, Lambda."""
import numpy as np

from ..tensor import Tensor

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Lambda"]


def _rng():
    from ..ops.random import default_generator
    return default_generator.rng


class Compose:
    """Apply transforms one after another: the transform of a dataset made of several.

    Args:
        transforms (iterable of callable): the transforms, applied in order.

    PyTorch:
        ``torchvision.transforms.Compose``; same semantics.

    Example:
        >>> from ember.data import transforms as T
        >>> t = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])
        >>> t(np.ones((2, 2), dtype=np.float32)).shape
        ember.Size([1, 2, 2])
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor:
    """Convert an image array of shape (H, W, C) or (H, W) to a (C, H, W) float32 tensor.

    uint8 pixels are divided by 255 (to [0, 1]); other dtypes are only converted to float32. A tensor is
    accepted too (its array is read the same way); an image of another number of dimensions raises ValueError.

    PyTorch:
        ``torchvision.transforms.ToTensor``, for NumPy arrays (no PIL images); arrays of other dtypes than uint8
        become float32 (torchvision keeps their dtype).

    Example:
        >>> from ember.data.transforms import ToTensor
        >>> ToTensor()(np.full((2, 2, 3), 255, dtype=np.uint8)).shape
        ember.Size([3, 2, 2])
        >>> ToTensor()(np.array([[0, 51]], dtype=np.uint8))
        tensor([[[0.0000, 0.2000]]])
    """

    def __call__(self, pic):
        arr = np.asarray(pic._data if isinstance(pic, Tensor) else pic)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(f"ToTensor: expected an image of 2 or 3 dims (H, W[, C]), got shape {arr.shape}")
        out = arr.transpose(2, 0, 1)
        out = out.astype(np.float32) / 255 if arr.dtype == np.uint8 else out.astype(np.float32)
        return Tensor._wrap(np.ascontiguousarray(out))

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """Normalize each channel of a (C, H, W) tensor: ``(x - mean[c]) / std[c]``.

    Args:
        mean (sequence of float): the mean of each channel (one value: every channel).
        std (sequence of float): the standard deviation of each channel; a zero raises ValueError.

    PyTorch:
        ``torchvision.transforms.Normalize``; same semantics, without ``inplace`` (a new tensor each time).

    Example:
        >>> from ember.data.transforms import Normalize
        >>> Normalize(mean=(1.0,), std=(2.0,))(ember.full((1, 2, 2), 3.0))
        tensor([[[1., 1.],
                 [1., 1.]]])
    """

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if (self.std == 0).any():
            raise ValueError(f"Normalize: std evaluated to zero in {std}, leading to division by zero")

    def __call__(self, x):
        if x._data.ndim < 3 or x.shape[-3] not in (1, self.mean.shape[0]) and self.mean.shape[0] != 1:
            raise ValueError(f"Normalize: expected a (C, H, W) tensor with C = {self.mean.shape[0]}, got shape "
                             f"{tuple(x.shape)}")
        return Tensor._wrap(((x._data - self.mean) / self.std).astype(x._data.dtype, copy=False))

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class RandomCrop:
    """Crop a (C, H, W) tensor at a random place, after padding each side with ``padding`` pixels of ``fill``.

    Args:
        size (int or tuple of int): the crop's (height, width); an int: a square. A crop larger than the padded
            image raises ValueError.
        padding (int, optional): the pixels added on each side before cropping. Default: None (no padding).
        fill (number): the value of the padding. Default: 0.

    PyTorch:
        ``torchvision.transforms.RandomCrop``; padding is one int (no per-side sequence), and there is no
        ``pad_if_needed`` or ``padding_mode`` (always constant).

    Example:
        >>> from ember.data.transforms import RandomCrop
        >>> RandomCrop(32, padding=4)(ember.zeros(3, 32, 32)).shape
        ember.Size([3, 32, 32])
    """

    def __init__(self, size, padding=None, fill=0):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding, self.fill = padding, fill

    def __call__(self, x):
        arr = x._data
        if self.padding:
            p = self.padding
            arr = np.pad(arr, ((0, 0), (p, p), (p, p)), constant_values=self.fill)
        h, w = arr.shape[-2:]
        th, tw = self.size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the (padded) image {(h, w)}")
        i = int(_rng().integers(0, h - th + 1))
        j = int(_rng().integers(0, w - tw + 1))
        return Tensor._wrap(np.ascontiguousarray(arr[..., i:i + th, j:j + tw]))

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Flip a (C, H, W) tensor left-right with probability p.

    Args:
        p (float): the probability of a flip. Default: 0.5.

    PyTorch:
        ``torchvision.transforms.RandomHorizontalFlip``; same semantics (a tensor of any number of dimensions is
        flipped along its last).

    Example:
        >>> from ember.data.transforms import RandomHorizontalFlip
        >>> RandomHorizontalFlip(p=1.0)(ember.tensor([[[1, 2, 3]]]))
        tensor([[[3, 2, 1]]])
    """

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, x):
        if _rng().random() < self.p:
            return Tensor._wrap(np.ascontiguousarray(x._data[..., ::-1]))
        return x

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class Lambda:
    """A transform that calls a user function.

    Args:
        fn (callable): the function, called with the sample.

    PyTorch:
        ``torchvision.transforms.Lambda``, whose argument is named ``lambd``.

    Example:
        >>> from ember.data.transforms import Lambda
        >>> Lambda(lambda x: x * 2)(ember.tensor([1.0, 2.0]))
        tensor([2., 4.])
    """

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self):
        return "Lambda()"
