"""ember.memory: the bytes of live tensor storage, views counted once, what the autograd graph keeps included."""
import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import memory, nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _count_only_in_these_tests():
    with memory.counting():  # counting costs time: the other tests run without it
        yield


def _now():
    gc.collect()
    return memory.allocated()


def test_a_tensor_counts_its_bytes_until_it_is_freed():
    before = _now()
    x = ember.zeros(100, 50)
    assert memory.allocated() - before == 100 * 50 * 4
    y = ember.ones(10, dtype=ember.float64)
    assert memory.allocated() - before == 100 * 50 * 4 + 80
    del x
    assert memory.allocated() - before == 80
    del y
    assert memory.allocated() == before


def test_views_and_aliases_count_their_base_once():
    before = _now()
    x = ember.randn(64, 64)
    views = [x.view(-1), x[3:9], x.t(), x.reshape(4096)[::2], x.detach(), x.unsqueeze(0).expand(3, 64, 64)]
    assert memory.allocated() - before == x.nbytes
    del x
    assert memory.allocated() - before == 64 * 64 * 4  # the views keep the base alive: it stays counted
    del views
    assert memory.allocated() == before


def test_a_slice_of_a_numpy_array_counts_the_whole_array():
    before = _now()
    a = np.zeros((1000,), np.float32)
    t = ember.from_numpy(a[10:20])
    assert memory.allocated() - before == a.nbytes
    del t
    assert memory.allocated() - before == a.nbytes  # the user's array is not ember's to free
    del a
    assert memory.allocated() == before


def test_in_place_ops_allocate_nothing():
    x = ember.randn(128, 128)
    before = _now()
    x.add_(1.0).mul_(2.0).relu_()
    assert memory.allocated() == before


def test_what_backward_keeps_stays_counted_until_backward_frees_it():
    w = ember.randn(256, 256, requires_grad=True)
    x = ember.randn(32, 256)
    before = _now()
    h = (x @ w).relu()  # relu keeps its output for backward; x @ w is freed as relu is done with it
    assert memory.allocated() - before == h.nbytes
    loss = h.sum()
    del h
    assert memory.allocated() - before == 32 * 256 * 4 + loss.nbytes  # the graph holds relu's output
    loss.backward()
    del loss
    assert _now() - before == w.grad.nbytes  # what stays is the gradient


def test_an_array_a_node_keeps_on_itself_is_counted():
    x = ember.randn(1000, requires_grad=True)
    before = _now()
    y = nn.functional.dropout(x, 0.5, training=True)
    mask = y.grad_fn.mask  # dropout keeps its mask on its node, outside any tensor
    assert memory.allocated() - before == y.nbytes + mask.nbytes


def test_sparse_tensors_count_indices_and_values():
    before = _now()
    s = ember.sparse_coo_tensor(ember.tensor([[0, 1, 2], [2, 0, 1]]), ember.tensor([1.0, 2.0, 3.0]), (3, 3))
    assert memory.allocated() - before == 6 * 8 + 3 * 4
    del s
    assert _now() == before


def test_peak_and_reset_peak():
    before = _now()
    memory.reset_peak()
    assert memory.max_allocated() == before
    x = ember.zeros(1 << 18)  # 1 MiB
    del x
    assert memory.max_allocated() - before == 1 << 20
    assert memory.allocated() == before
    memory.reset_peak()
    assert memory.max_allocated() == before


def test_peak_context_measures_a_block_above_its_start():
    keep = ember.zeros(1000)
    with memory.Peak() as p:
        a = ember.zeros(1 << 16)
        b = ember.zeros(1 << 16)
        del a, b
    assert p.bytes == 2 * (1 << 18)
    del keep


def test_other_devices_and_the_summary():
    assert memory.allocated("cuda") == 0 and memory.max_allocated("cuda:1") == 0
    assert memory.allocated(ember.device("cpu")) == memory.allocated()
    x = ember.zeros(1 << 18)
    text = memory.memory_summary()
    assert text.splitlines()[1].split() == ["device", "storages", "allocated", "peak"]
    cpu = text.splitlines()[2].split()
    assert cpu[0] == "cpu" and int(cpu[1]) >= 1 and float(cpu[2]) >= 1.0 and cpu[3] in ("MiB", "GiB")
    assert memory.format_bytes(512) == "512 B" and memory.format_bytes(3 << 20) == "3.0 MiB"
    del x


def test_cuda_counters_are_zero_without_a_gpu():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    assert ember.cuda.memory_allocated() == 0 and ember.cuda.max_memory_allocated() == 0


def test_tensors_alive_before_counting_starts_are_counted():
    # counting starts at the first question (it costs a little per tensor), so this needs a fresh interpreter
    script = (
        "import ember, numpy as np\n"
        "from ember import _storage\n"
        "assert not _storage.on[0]\n"
        "w = ember.randn(100, 100, requires_grad=True)\n"
        "h = (ember.ones(10, 100) @ w).relu()\n"
        "loss = h.sum(); del h\n"
        "print(ember.memory.allocated(), w.nbytes + 10 * 100 * 4 + 10 * 100 * 4 + loss.nbytes)\n")
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr
    got, want = map(int, out.stdout.split())
    # w, the ones (kept by the matmul for w's gradient), relu's output (kept by the graph), the loss
    assert got == want


def test_checkpointing_lowers_the_peak_with_the_same_gradients():
    from ember.utils.checkpoint import checkpoint_sequential
    ember.manual_seed(0)
    model = nn.Sequential(*[m for _ in range(16) for m in (nn.Linear(32, 32), nn.ReLU())])
    x = ember.randn(256, 32)
    peaks, grads = [], []
    for run in (model, lambda t: checkpoint_sequential(model, 4, t, use_reentrant=False)):
        model.zero_grad()
        with memory.Peak() as p:
            run(x).square().mean().backward()
        peaks.append(p.bytes)
        grads.append([q.grad.numpy().copy() for q in model.parameters()])
    assert peaks[1] < 0.6 * peaks[0]
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_measuring_blocks_stop_counting_unless_it_was_on():
    from ember import _storage
    _storage.on[0] = False  # as in a program that never asked
    try:
        with memory.Peak() as p:
            assert _storage.on[0]
            x = ember.zeros(10)
        assert not _storage.on[0] and p.bytes == 40
        del x
    finally:
        _storage.on[0] = True  # the fixture's counting() turns it off after the test


def test_a_tensor_around_a_numpy_scalar_is_made_while_counting():
    before = _now()
    t = ember.Tensor._wrap(np.float64(2.5))  # as LBFGS's state_dict does; a scalar has no weak reference
    assert t._data == 2.5 and memory.allocated() == before
