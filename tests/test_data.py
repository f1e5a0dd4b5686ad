"""Datasets, samplers, DataLoader (incl. worker processes), collate, file-format parsers and transforms."""
import gzip
import io
import itertools
import os
import random
import struct
import tarfile
import time

import numpy as np
import pytest

import ember
from ember.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
                        SequentialSampler, Subset, TensorDataset, default_collate, get_worker_info, random_split)
from ember.data import datasets, transforms


def test_tensor_dataset_and_errors():
    x, y = ember.arange(10).reshape(5, 2), ember.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5 and ds[2][0].tolist() == [4, 5] and ds[2][1].item() == 2
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(x, ember.arange(4))


def test_subset_concat_random_split():
    ds = TensorDataset(ember.arange(10))
    a, b = random_split(ds, [7, 3], generator=ember.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3
    assert sorted([a[i][0].item() for i in range(7)] + [b[i][0].item() for i in range(3)]) == list(range(10))
    c, d = random_split(ds, [0.5, 0.5])
    assert len(c) == len(d) == 5
    cat = ConcatDataset([Subset(ds, [0, 1]), Subset(ds, [5])])
    assert len(cat) == 3 and cat[2][0].item() == 5 and cat[-1][0].item() == 5
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(ds, [3, 3])


def test_dataloader_batches_shuffle_drop_last_and_seeded_order():
    ds = TensorDataset(ember.arange(10), ember.arange(10) * 2)
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    order1 = [v for b in DataLoader(ds, batch_size=3, shuffle=True, generator=ember.Generator().manual_seed(5))
              for v in b[0].tolist()]
    order2 = [v for b in DataLoader(ds, batch_size=3, shuffle=True, generator=ember.Generator().manual_seed(5))
              for v in b[0].tolist()]
    assert order1 == order2 and sorted(order1) == list(range(10)) and order1 != list(range(10))
    ember.manual_seed(3)
    first = [b[0].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True)]
    ember.manual_seed(3)
    assert first == [b[0].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True)]


def test_default_collate_numbers_dicts_tuples_and_arrays():
    batch = [{"x": np.ones(2, np.float32), "y": 1, "z": 0.5, "s": "a"}, {"x": np.zeros(2, np.float32), "y": 2,
                                                                        "z": 1.5, "s": "b"}]
    out = default_collate(batch)
    assert out["x"].shape == (2, 2) and out["y"].dtype is ember.int64 and out["z"].dtype is ember.float64
    assert out["s"] == ["a", "b"]
    pairs = default_collate([(ember.ones(3), 0), (ember.zeros(3), 1)])
    assert isinstance(pairs, list) and pairs[0].shape == (2, 3) and pairs[1].tolist() == [0, 1]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([ember.ones(2), ember.ones(3)])


class _Squares(Dataset):
    def __len__(self):
        return 23

    def __getitem__(self, i):
        info = get_worker_info()
        return i * i, -1 if info is None else info.id


def test_workers_give_the_same_batches_in_order():
    plain = [b[0].tolist() for b in DataLoader(_Squares(), batch_size=4)]
    loader = DataLoader(_Squares(), batch_size=4, num_workers=2, worker_init_fn=lambda wid: None)
    with_workers = list(loader)
    assert [b[0].tolist() for b in with_workers] == plain
    assert {w for b in with_workers for w in b[1].tolist()} == {0, 1}


class _Failing(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise KeyError("broken sample")
        return i


def test_worker_exceptions_reach_the_main_process():
    with pytest.raises(RuntimeError, match="broken sample"):
        list(DataLoader(_Failing(), batch_size=1, num_workers=2))


class _Sleepy(Dataset):
    """Sample 5 takes ``delay`` seconds (forever by default: a worker that never returns)."""

    def __init__(self, delay=3600.0):
        self.delay = delay

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            time.sleep(self.delay)
        return i


def test_a_stuck_worker_times_out_naming_the_worker_and_the_sample():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.5 seconds: worker 0 \(pid \d+\) is on "
                                           r"sample 5 of batch 2 \(indices \[4, 5\]\)"):
        list(DataLoader(_Sleepy(), batch_size=2, num_workers=2, timeout=0.5))
    assert time.monotonic() - start < 10  # the stuck worker was terminated, not waited for
    with pytest.raises(RuntimeError, match=r"worker 1 \(pid \d+\) is on sample 5 of batch 5 \(indices 5\)"):
        list(DataLoader(_Sleepy(), batch_size=None, num_workers=2, timeout=0.5))
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(_Sleepy(), timeout=-1)


def test_a_slow_worker_is_waited_for_with_one_warning(monkeypatch):
    from ember.data import dataloader
    monkeypatch.setattr(dataloader, "STALL_WARNING_SECONDS", 0.2)
    with pytest.warns(RuntimeWarning, match=r"no batch for 0 seconds: worker 1 \(pid \d+\) is on sample 5 of "
                                            r"batch 1 \(indices \[4, 5, 6, 7\]\); still waiting") as seen:
        got = [b.tolist() for b in DataLoader(_Sleepy(delay=1.0), batch_size=4, num_workers=2)]
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(seen) == 1


class _StuckStream(IterableDataset):
    def __iter__(self):
        yield 0
        if get_worker_info().id == 0:
            time.sleep(3600)
        yield 1


def test_a_stuck_iterable_worker_times_out_naming_it():
    with pytest.raises(RuntimeError, match=r"timed out after 0.5 seconds: worker 0 \(pid \d+\) is on its batch 1"):
        list(DataLoader(_StuckStream(), batch_size=None, num_workers=2, timeout=0.5))


class _Stream(IterableDataset):
    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, 10, step))


def test_iterable_dataset_with_and_without_workers():
    assert [b.tolist() for b in DataLoader(_Stream(), batch_size=4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    got = sorted(v for b in DataLoader(_Stream(), batch_size=2, num_workers=2) for v in b.tolist())
    assert got == list(range(10))


def test_samplers():
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    r = list(RandomSampler(range(6), generator=ember.Generator().manual_seed(1)))
    assert sorted(r) == list(range(6))
    assert len(list(RandomSampler(range(6), replacement=True, num_samples=20))) == 20
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(5), 0, False)


def test_random_sampler_draws_lazily_in_chunks_as_pytorch():
    huge = RandomSampler(range(10), replacement=True, num_samples=10 ** 10)  # PyTorch draws these lazily too
    assert len(huge) == 10 ** 10 and len(DataLoader(range(10), sampler=huge, batch_size=4)) == 2_500_000_000
    start = time.perf_counter()
    first = list(itertools.islice(huge, 100))
    assert time.perf_counter() - start < 1.0 and all(0 <= i < 10 for i in first)
    g = ember.Generator().manual_seed(3)
    it = iter(RandomSampler(range(10), replacement=True, num_samples=70, generator=g))
    next(it)  # the first chunk of 32 draws comes from g now
    assert g.rng.integers(0, 10, size=5).tolist() == np.random.default_rng(3).integers(0, 10, size=37)[32:].tolist()
    # without replacement: whole permutations, the last one cut
    order = list(RandomSampler(range(4), num_samples=10, generator=ember.Generator().manual_seed(0)))
    assert len(order) == 10 and sorted(order[:4]) == sorted(order[4:8]) == [0, 1, 2, 3]
    # without a generator, a pass takes one seed from the default generator, however much of it is read
    sampler = RandomSampler(range(100))
    ember.manual_seed(5)
    next(iter(sampler))
    after_one = ember.rand(2).tolist()
    ember.manual_seed(5)
    full = list(sampler)
    assert ember.rand(2).tolist() == after_one and sorted(full) == list(range(100))
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler([])
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)


class _Seeds(Dataset):
    """What a worker's random sources give: its WorkerInfo seed, ember's, NumPy's and Python's generators."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return (-1 if info is None else info.id, -1 if info is None else info.seed, ember.rand(1).item(),
                float(np.random.rand()), random.random())


@pytest.mark.parametrize("generator", [False, True])
def test_shuffled_order_does_not_depend_on_num_workers(generator):
    ds = TensorDataset(ember.arange(40))
    runs = []
    for workers in (0, 1, 3):
        ember.manual_seed(11)
        g = ember.Generator().manual_seed(7) if generator else None
        loader = DataLoader(ds, batch_size=6, shuffle=True, num_workers=workers, generator=g)
        epochs = [[v for b in loader for v in b[0].tolist()] for _ in range(2)]
        runs.append((epochs, ember.rand(1).item(), None if g is None else g.rng.random()))
    assert runs[1] == runs[0] and runs[2] == runs[0]  # the same order, and the generators end in the same state
    assert runs[0][0][0] != runs[0][0][1] and sorted(runs[0][0][0]) == list(range(40))


def test_workers_are_seeded_with_base_seed_plus_id():
    def run():
        ember.manual_seed(2)
        return [row for b in DataLoader(_Seeds(), batch_size=2, num_workers=2) for row in zip(*(f.tolist() for f in b))]

    rows = run()
    assert rows == run()  # reproducible from ember's seed
    seeds = {r[0]: r[1] for r in rows}
    assert set(seeds) == {0, 1} and seeds[1] == seeds[0] + 1  # base_seed + worker_id, as PyTorch
    for column in (2, 3, 4):  # ember's, NumPy's and Python's generators differ between the workers
        assert len({r[column] for r in rows}) == len(rows)


def test_digits_is_bundled_with_fixed_split():
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert len(train) == 1500 and len(test) == 297
    x, y = train[0]
    assert x.shape == (1, 8, 8) and x.dtype is ember.float32 and 0 <= y <= 9
    assert float(train.data.max()) == 1.0 and float(train.data.min()) == 0.0
    assert set(np.unique(test.targets).tolist()) == set(range(10))


def _idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(folder, n=5):
    import hashlib
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    images = rng.integers(0, 256, size=(n, 28, 28))
    labels = rng.integers(0, 10, size=n)
    digests = {}
    for prefix in ("train", "t10k"):
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte.gz"
            raw = gzip.compress(_idx_bytes(arr))
            with open(os.path.join(folder, name), "wb") as f:
                f.write(raw)
            digests[name] = hashlib.sha256(raw).hexdigest()
    return images, labels, digests


def test_mnist_parser_reads_the_idx_format_and_checks_sha256(tmp_path, monkeypatch):
    images, labels, digests = _write_mnist(tmp_path / "MNIST")
    monkeypatch.setattr(datasets.MNIST, "files", digests)
    monkeypatch.setenv("EMBER_DATA", str(tmp_path))
    ds = datasets.MNIST(train=True)
    assert len(ds) == 5
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and y == labels[3]
    np.testing.assert_allclose(x.numpy()[0], images[3] / 255, rtol=1e-6)
    monkeypatch.setattr(datasets.MNIST, "files", {k: "0" * 64 for k in digests})
    with pytest.raises(RuntimeError, match="SHA-256 mismatch"):
        datasets.MNIST(train=True)


def test_missing_files_without_download_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="not found; pass download=True"):
        datasets.FashionMNIST(root=str(tmp_path))


def test_read_idx_rejects_bad_magic():
    with pytest.raises(ValueError, match="magic"):
        datasets.read_idx(b"\x01\x02\x03\x04")


def test_cifar10_parser_reads_binary_batches(tmp_path, monkeypatch):
    import hashlib
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    expected = {}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            labels = rng.integers(0, 10, size=3)
            pixels = rng.integers(0, 256, size=(3, 3072))
            raw = np.concatenate([labels[:, None], pixels], axis=1).astype(np.uint8).tobytes()
            expected[name] = (labels, pixels)
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    folder = tmp_path / "CIFAR10"
    folder.mkdir()
    (folder / "cifar-10-binary.tar.gz").write_bytes(buf.getvalue())
    monkeypatch.setattr(datasets.CIFAR10, "sha256", hashlib.sha256(buf.getvalue()).hexdigest())
    train = datasets.CIFAR10(root=str(tmp_path), train=True)
    test = datasets.CIFAR10(root=str(tmp_path), train=False)
    assert len(train) == 15 and len(test) == 3
    x, y = test[1]
    labels, pixels = expected["test_batch.bin"]
    assert y == labels[1] and x.shape == (3, 32, 32)
    np.testing.assert_allclose(x.numpy().reshape(-1), pixels[1] / 255, rtol=1e-6)


def test_text_file_dataset_chars_and_bytes(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("hello world, hello ember")
    ds = datasets.TextFile(path, seq_len=5)
    x, y = ds[0]
    assert ds.decode(x) == "hello" and ds.decode(y) == "ello "
    assert len(ds) == len("hello world, hello ember") - 5
    b = datasets.TextFile(path, seq_len=4, level="byte")
    assert b.vocab_size == 256 and b.decode(b[6][0]) == "worl"
    with pytest.raises(ValueError, match="fewer than seq_len"):
        datasets.TextFile(path, seq_len=100)


def test_transforms():
    img = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(4, 2, 3)
    t = transforms.ToTensor()(img)
    assert t.shape == (3, 4, 2) and t.dtype is ember.float32 and abs(t.numpy()[0, 0, 1] - 3 / 255) < 1e-7
    n = transforms.Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])(t)
    np.testing.assert_allclose(n.numpy(), (t.numpy() - 0.5) / 0.5, rtol=1e-6)
    crop = transforms.RandomCrop(4, padding=2)(t)
    assert crop.shape == (3, 4, 4)
    flipped = transforms.RandomHorizontalFlip(p=1.0)(t)
    np.testing.assert_array_equal(flipped.numpy(), t.numpy()[..., ::-1])
    pipeline = transforms.Compose([transforms.Lambda(lambda x: x * 2), transforms.RandomHorizontalFlip(p=0.0)])
    np.testing.assert_array_equal(pipeline(t).numpy(), t.numpy() * 2)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        transforms.Normalize([0.0], [0.0])


def test_dataset_transform_applies_per_sample():
    ds = datasets.Digits(train=False, transform=transforms.Lambda(lambda x: x * 0 + 1))
    xb, yb = next(iter(DataLoader(ds, batch_size=8)))
    assert xb.shape == (8, 1, 8, 8) and float(xb.numpy().min()) == 1.0
