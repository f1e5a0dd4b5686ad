"""Tensor.share_memory_(), Module.share_memory() and Hogwild training (PyTorch's mnist_hogwild example) with
worker processes started by 'fork' and by 'spawn'."""
import copy
import multiprocessing
import pickle
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.data import DataLoader
from ember.data.datasets import Digits

METHODS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]


def _through_multiprocessing(obj):
    """obj as another process receives it from a Queue (multiprocessing's pickler, in this process)."""
    return ForkingPickler.loads(ForkingPickler.dumps(obj))


def test_share_memory_moves_the_data_in_place_and_keeps_values_identity_and_grad_state():
    t = ember.randn(3, 4, requires_grad=True)
    values = t.detach().numpy().copy()
    assert not t.is_shared()
    assert t.share_memory_() is t
    assert t.is_shared() and t.requires_grad and t.is_leaf
    np.testing.assert_array_equal(t.detach().numpy(), values)
    address = t.data_ptr()
    t.share_memory_()  # already shared: nothing moves
    assert t.data_ptr() == address
    assert t.detach().is_shared() and t[1:].is_shared()  # views of shared memory are shared
    assert not t.clone().is_shared() and not (t * 2).is_shared()
    for shape, dtype in (((), ember.float32), ((0, 3), ember.float32), ((2, 2), ember.int64), ((3,), ember.bool)):
        s = ember.zeros(shape, dtype=dtype).share_memory_()
        assert s.is_shared() and s.shape == shape and s.dtype is dtype


def test_multiprocessing_sends_a_shared_tensor_as_a_handle_and_pickle_as_values():
    t = ember.arange(12.0).reshape(3, 4).share_memory_()
    received = _through_multiprocessing(t)
    assert received.is_shared() and received.dtype is ember.float32
    np.testing.assert_array_equal(received.numpy(), t.numpy())
    received._data[0, 0] = 100.0
    assert t[0, 0].item() == 100.0  # the same memory
    view = ember.Tensor._wrap(t._data[1:, ::-2])  # an offset, negative strides
    np.testing.assert_array_equal(_through_multiprocessing(view).numpy(), view.numpy())
    for copied in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):  # files and copies hold values
        assert not copied.is_shared()
        copied._data[0, 0] = -1.0
        assert t[0, 0].item() == 100.0
    plain = ember.ones(2)
    assert not _through_multiprocessing(plain).is_shared()  # a tensor that was not shared travels as values


def test_module_share_memory_keeps_the_parameter_objects():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    params = list(model.parameters())
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)
    assert model.share_memory() is model
    assert list(model.parameters()) == params and all(p.is_shared() for p in params)
    assert all(isinstance(p, nn.Parameter) for p in params)
    assert all(b.is_shared() for b in model.buffers())
    model(ember.randn(5, 4)).sum().backward()
    optimizer.step()  # updates the shared arrays in place
    assert all(p.is_shared() for p in model.parameters())
    received = _through_multiprocessing(model)
    assert all(isinstance(p, nn.Parameter) and p.is_shared() and p.requires_grad for p in received.parameters())
    with ember.no_grad():
        received[0].weight.fill_(0.5)
    assert (model[0].weight == 0.5).all()


# --- Hogwild: the official example's structure (model.share_memory(), N processes train it, the parent tests) ---
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x.view(-1, 64)))
        return F.log_softmax(self.fc2(x), dim=1)


def train(rank, model, dataset, seed, epochs):
    ember.manual_seed(seed + rank)
    loader = DataLoader(dataset, batch_size=32, shuffle=True)
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    model.train()
    for _ in range(epochs):
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()


def accuracy(model, dataset):
    data, target = next(iter(DataLoader(dataset, batch_size=len(dataset))))
    with ember.no_grad():
        return (model(data).argmax(1) == target).float().mean().item()


@pytest.mark.parametrize("method", METHODS)
def test_hogwild_workers_train_the_parents_model(method):
    train_set, test_set = Digits(train=True), Digits(train=False)
    model = Net()
    model.share_memory()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    assert accuracy(model, test_set) < 0.3
    ctx = multiprocessing.get_context(method)
    processes = [ctx.Process(target=train, args=(rank, model, train_set, 1, 2)) for rank in range(2)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
    assert [p.exitcode for p in processes] == [0, 0]
    assert all(not np.array_equal(b, p.detach().numpy()) for b, p in zip(before, model.parameters()))
    assert accuracy(model, test_set) >= 0.9  # an untouched model gets about 10 %
