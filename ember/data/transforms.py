"""Per-sample transforms for image datasets: Compose, ToTensor, Normalize, RandomCrop, RandomHorizontalFlip, Lambda."""
import numpy as np

from ..tensor import Tensor

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Lambda"]


def _rng():
    from ..ops.random import default_generator
    return default_generator.rng


class Compose:
    """Apply transforms one after another.

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
    """An HxWxC (or HxW) uint8 array becomes a CxHxW float32 tensor in [0, 1]; float arrays are only transposed."""

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
    """(x - mean) / std per channel of a CxHxW tensor.

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
    """A random size x size crop of a CxHxW tensor, after zero padding of `padding` pixels on each side."""

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
    """Flip a CxHxW tensor left-right with probability p."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, x):
        if _rng().random() < self.p:
            return Tensor._wrap(np.ascontiguousarray(x._data[..., ::-1]))
        return x

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class Lambda:
    """Apply a user function."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self):
        return "Lambda()"
