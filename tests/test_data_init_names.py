"""Smaller PyTorch names: nn.init's deprecated initialisers (a FutureWarning, the same values as the current
ones), data.ChainDataset, data.StackDataset and data.default_convert."""
import numpy as np
import pytest

import ember
from ember import nn


@pytest.mark.parametrize("name,args", [("normal", ()), ("uniform", (-2.0, 2.0)), ("xavier_uniform", ()),
                                       ("kaiming_normal", ()), ("orthogonal", ()), ("constant", (0.5,)),
                                       ("eye", ()), ("sparse", (0.5,))])
def test_deprecated_initialisers(name, args):
    ember.manual_seed(0)
    want = getattr(nn.init, name + "_")(ember.empty(4, 5), *args).numpy()
    ember.manual_seed(0)
    with pytest.warns(FutureWarning, match=f"`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`"):
        got = getattr(nn.init, name)(ember.empty(4, 5), *args).numpy()
    np.testing.assert_array_equal(got, want)


class _Count(ember.data.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_chain_and_stack_datasets():
    chain = ember.data.ChainDataset([_Count(2), _Count(3)])
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    assert list(ember.data.DataLoader(chain, batch_size=2))[0].tolist() == [0, 1]
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(ember.data.ChainDataset([[1, 2]]))
    stacked = ember.data.StackDataset(ember.data.TensorDataset(ember.arange(3)), [10, 11, 12])
    assert len(stacked) == 3 and stacked[2][1] == 12 and stacked[2][0][0].item() == 2
    keyed = ember.data.StackDataset(image=[1, 2], label=[0, 1])
    assert keyed[0] == {"image": 1, "label": 0}
    batch = next(iter(ember.data.DataLoader(keyed, batch_size=2)))
    assert batch["image"].tolist() == [1, 2] and batch["label"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        ember.data.StackDataset([1, 2], [1])
    with pytest.raises(ValueError, match="both types are given"):
        ember.data.StackDataset([1], label=[1])


def test_default_convert_matches_torch():
    sample = {"x": np.arange(3.0), "pair": (np.zeros(2, np.float32), 4), "names": ["a", "b"], "n": 7}
    mine = ember.data.default_convert(sample)
    assert isinstance(mine["x"], ember.Tensor) and isinstance(mine["pair"][0], ember.Tensor)
    assert mine["pair"][1] == 4 and mine["names"] == ["a", "b"] and mine["n"] == 7
    pytest.importorskip("torch")
    import torch.utils.data as torch_data
    theirs = torch_data.default_convert(sample)
    assert type(theirs["pair"]) is type(mine["pair"]) and type(theirs["names"]) is type(mine["names"])
    np.testing.assert_array_equal(mine["x"].numpy(), theirs["x"].numpy())
    assert str(mine["pair"][0].dtype).split(".")[-1] == str(theirs["pair"][0].dtype).split(".")[-1]
