"""Datasets: Digits (bundled, offline), MNIST, FashionMNIST, CIFAR10 (downloaded with SHA-256 checks or read from
EMBER_DATA), and TextFile (characters or bytes of a text file, for language models).

Files are looked for in the directory named by the EMBER_DATA environment variable (or the `root` argument), then in
~/.cache/ember; missing files are downloaded there when `download=True` (see download.py). Every file is checked
against its published SHA-256 before it is parsed, and parsing never unpickles anything.
"""
import gzip
import os
import tarfile

import numpy as np

from ..tensor import Tensor
from .dataset import Dataset
from .download import fetch

__all__ = ["Digits", "MNIST", "FashionMNIST", "CIFAR10", "TextFile", "data_root"]


def data_root(root=None):
    """The directory datasets are read from and downloaded to.

    Args:
        root (str, optional): the directory; None: the EMBER_DATA environment variable, else ~/.cache/ember. A
            leading ``~`` is expanded. Default: None.

    Returns:
        str: the directory's path.

    PyTorch:
        No PyTorch counterpart: ember's own (torchvision's datasets take a required ``root``).

    Example:
        >>> import os
        >>> ember.data.datasets.data_root("~/data") == os.path.expanduser("~/data")
        True
    """
    return os.path.expanduser(root or os.environ.get("EMBER_DATA") or os.path.join("~", ".cache", "ember"))


def read_idx(raw):
    """Parse an IDX file (the MNIST format): big-endian magic, dims, then unsigned bytes."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError("read_idx: not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"read_idx: header says shape {dims} but the file holds {data.size} values")
    return data.reshape(dims)


class _ImageDataset(Dataset):
    """Images (N, C, H, W) float32 in [0, 1] and int64 targets, with an optional transform per sample."""

    def __init__(self, images, targets, transform=None, target_transform=None):
        self.data, self.targets = images, targets
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        x, y = Tensor._wrap(self.data[i]), int(self.targets[i])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def get_batch(self, indices):
        """A whole batch at once (used by DataLoader when there are no transforms)."""
        if self.transform is not None or self.target_transform is not None:
            from .dataloader import default_collate
            return default_collate([self[i] for i in indices])
        idx = np.asarray(indices)
        return [Tensor._wrap(self.data[idx]), Tensor._wrap(self.targets[idx])]

    def tensors(self):
        """All images and targets as two tensors."""
        return Tensor._wrap(self.data), Tensor._wrap(self.targets)


class Digits(_ImageDataset):
    """scikit-learn's 8x8 handwritten digits (UCI), bundled with ember: 1,797 images (1, 8, 8) in [0, 1].

    A fixed shuffle splits them into 1,500 training and 297 test images. A sample is (image, label): a float32
    tensor (1, 8, 8) and an int in 0..9. Nothing is downloaded: root and download are accepted for the other
    datasets' signature and unused.

    Args:
        root (str, optional): unused (the data ships with ember). Default: None.
        train (bool): the training set; False: the test set. Default: True.
        transform (callable, optional): applied to each image tensor. Default: None.
        target_transform (callable, optional): applied to each label. Default: None.
        download (bool): unused (the data ships with ember). Default: False.

    PyTorch:
        No PyTorch counterpart: ember's own (scikit-learn's ``load_digits``), with torchvision's dataset
        interface.

    Example:
        >>> train = ember.data.datasets.Digits()
        >>> len(train), train[0][0].shape, len(ember.data.datasets.Digits(train=False))
        (1500, ember.Size([1, 8, 8]), 297)
    """

    n_train = 1500

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        path = os.path.join(os.path.dirname(__file__), "digits.csv.gz")
        table = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.float32)
        images = (table[:, :64] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
        targets = table[:, 64].astype(np.int64)
        order = np.random.default_rng(0).permutation(len(targets))
        part = order[:self.n_train] if train else order[self.n_train:]
        super().__init__(images[part], targets[part], transform, target_transform)


_MNIST_MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"]


class MNIST(_ImageDataset):
    """MNIST handwritten digits: 60,000 training / 10,000 test images (1, 28, 28) in [0, 1], labels 0..9.

    The four IDX files are read from ``data_root(root)/MNIST`` (downloaded there with ``download=True``). A sample
    is (image, label): a float32 tensor (1, 28, 28) and an int.

    Args:
        root (str, optional): the directory holding the dataset's folder; None: the EMBER_DATA environment
            variable, else ~/.cache/ember (see data_root). Default: None.
        train (bool): the training set; False: the test set. Default: True.
        transform (callable, optional): applied to each image tensor. Default: None.
        target_transform (callable, optional): applied to each label. Default: None.
        download (bool): download missing files (checked against their SHA-256); without it a missing file raises
            RuntimeError. Default: False.

    PyTorch:
        ``torchvision.datasets.MNIST``, but images are float tensors in [0, 1] already (torchvision's are PIL
        images, made tensors by ToTensor), root is optional, and the files sit in ``root/MNIST`` (not
        ``root/MNIST/raw``).

    Example:
        >>> ember.data.datasets.MNIST(root="data")  # the files are not there
        Traceback (most recent call last):
            ...
        RuntimeError: dataset file data/MNIST/train-images-idx3-ubyte.gz not found; pass download=True or ...
    """

    mirrors = _MNIST_MIRRORS
    folder = "MNIST"
    files = {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        folder = os.path.join(data_root(root), self.folder)
        prefix = "train" if train else "t10k"
        arrays = []
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte.gz"
            path = fetch(name, self.files[name], [m + name for m in self.mirrors], folder, download)
            with gzip.open(path, "rb") as f:
                arrays.append(read_idx(f.read()))
        images, labels = arrays
        if len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {len(images)} images but {len(labels)} labels")
        super().__init__((images[:, None] / np.float32(255)).astype(np.float32), labels.astype(np.int64),
                         transform, target_transform)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, with 10 classes of clothing instead of digits.

    The files are read from ``data_root(root)/FashionMNIST`` (downloaded there with ``download=True``).

    Args:
        root (str, optional): the directory holding the dataset's folder; None: the EMBER_DATA environment
            variable, else ~/.cache/ember (see data_root). Default: None.
        train (bool): the training set; False: the test set. Default: True.
        transform (callable, optional): applied to each image tensor. Default: None.
        target_transform (callable, optional): applied to each label. Default: None.
        download (bool): download missing files (checked against their SHA-256); without it a missing file raises
            RuntimeError. Default: False.

    PyTorch:
        ``torchvision.datasets.FashionMNIST``, with the differences of MNIST (float tensor images, optional root,
        files in ``root/FashionMNIST``).

    Example:
        >>> ember.data.datasets.FashionMNIST(root="data", train=False)  # the files are not there
        Traceback (most recent call last):
            ...
        RuntimeError: dataset file data/FashionMNIST/t10k-images-idx3-ubyte.gz not found; pass download=True ...
    """

    mirrors = ["https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
               "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    folder = "FashionMNIST"
    files = {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    }


def read_cifar_records(raw):
    """Parse CIFAR-10 binary records: 1 label byte then 3x32x32 pixel bytes each."""
    rec = np.frombuffer(raw, dtype=np.uint8)
    if rec.size % 3073:
        raise ValueError(f"read_cifar_records: {rec.size} bytes is not a whole number of 3073-byte records")
    rec = rec.reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32), rec[:, 0].astype(np.int64)


class CIFAR10(_ImageDataset):
    """CIFAR-10: 50,000 training / 10,000 test colour images (3, 32, 32) in [0, 1], in 10 classes.

    The binary archive is read from ``data_root(root)/CIFAR10`` (downloaded there with ``download=True``). A sample
    is (image, label): a float32 tensor (3, 32, 32) and an int; ``classes`` names the labels.

    Args:
        root (str, optional): the directory holding the dataset's folder; None: the EMBER_DATA environment
            variable, else ~/.cache/ember (see data_root). Default: None.
        train (bool): the training set; False: the test set. Default: True.
        transform (callable, optional): applied to each image tensor. Default: None.
        target_transform (callable, optional): applied to each label. Default: None.
        download (bool): download missing files (checked against their SHA-256); without it a missing file raises
            RuntimeError. Default: False.

    PyTorch:
        ``torchvision.datasets.CIFAR10``, but images are float tensors in [0, 1] already (torchvision's are PIL
        images), root is optional, and the binary archive is read (torchvision's is the pickled Python version).

    Example:
        >>> ember.data.datasets.CIFAR10.classes[:3]
        ['airplane', 'automobile', 'bird']
        >>> ember.data.datasets.CIFAR10(root="data")  # the archive is not there
        Traceback (most recent call last):
            ...
        RuntimeError: dataset file data/CIFAR10/cifar-10-binary.tar.gz not found; pass download=True or ...
    """

    archive = "cifar-10-binary.tar.gz"
    sha256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        folder = os.path.join(data_root(root), "CIFAR10")
        path = fetch(self.archive, self.sha256, [self.url], folder, download)
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
        images, labels = [], []
        with tarfile.open(path, "r:gz") as tar:
            members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
            for name in names:
                if name not in members:
                    raise RuntimeError(f"CIFAR10: {name} is missing from {path}")
                x, y = read_cifar_records(tar.extractfile(members[name]).read())
                images.append(x)
                labels.append(y)
        super().__init__((np.concatenate(images) / np.float32(255)).astype(np.float32), np.concatenate(labels),
                         transform, target_transform)


class TextFile(Dataset):
    """A text file as (input, target) sequences of token ids for a language model: targets are inputs shifted by
    one.

    Sample i is (ids[i:i + seq_len], ids[i + 1:i + seq_len + 1]), two int64 tensors. level='char' gives each
    distinct character an id (in sorted order; the vocabulary is ``itos``, ``stoi``, ``vocab_size``);
    level='byte' uses the byte values 0..255. ``encode(text)`` and ``decode(ids)`` convert.

    Args:
        path (str): the text file.
        seq_len (int): the length of each sequence; the file needs more tokens (ValueError otherwise).
            Default: 64.
        level (str): ``"char"`` or ``"byte"`` (ValueError otherwise). Default: ``"char"``.
        encoding (str): the file's encoding, for level='char'. Default: ``"utf-8"``.

    PyTorch:
        No PyTorch counterpart: ember's own.

    Example:
        >>> with open("tiny.txt", "w") as f:
        ...     _ = f.write("hello")
        >>> data = ember.data.datasets.TextFile("tiny.txt", seq_len=3)
        >>> len(data), data.itos, data[0]
        (2, ['e', 'h', 'l', 'o'], (tensor([1, 0, 2]), tensor([0, 2, 2])))
    """

    def __init__(self, path, seq_len=64, level="char", encoding="utf-8"):
        if level not in ("char", "byte"):
            raise ValueError(f"TextFile: level must be 'char' or 'byte', got {level!r}")
        with open(path, "rb") as f:
            raw = f.read()
        if level == "byte":
            ids = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
            self.itos = [bytes([i]) for i in range(256)]
        else:
            text = raw.decode(encoding)
            self.itos = sorted(set(text))
            self.stoi = {c: i for i, c in enumerate(self.itos)}
            ids = np.array([self.stoi[c] for c in text], dtype=np.int64)
        if len(ids) <= seq_len:
            raise ValueError(f"TextFile: {path} has {len(ids)} tokens, fewer than seq_len + 1 = {seq_len + 1}")
        self.ids, self.seq_len, self.level = ids, seq_len, level

    @property
    def vocab_size(self):
        return len(self.itos)

    def __len__(self):
        return len(self.ids) - self.seq_len

    def __getitem__(self, i):
        if not -len(self) <= i < len(self):
            raise IndexError(f"TextFile: index {i} out of range for length {len(self)}")
        i %= len(self)
        chunk = self.ids[i:i + self.seq_len + 1]
        return Tensor._wrap(chunk[:-1].copy()), Tensor._wrap(chunk[1:].copy())

    def encode(self, text):
        if self.level == "byte":
            return list(text.encode())
        return [self.stoi[c] for c in text]

    def decode(self, ids):
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        if self.level == "byte":
            return bytes(ids).decode("utf-8", errors="replace")
        return "".join(self.itos[i] for i in ids)
