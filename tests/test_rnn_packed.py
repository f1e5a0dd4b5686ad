"""Variable-length sequences (ember.nn.utils.rnn): padding and packing against PyTorch, the recurrent layers on
PackedSequence inputs (each sequence run alone gives the same outputs and states; PyTorch's outputs, states and
gradients; gradcheck), the errors, and an LSTM that learns from the last element of each sequence."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd import gradcheck
from ember.nn.utils.rnn import (PackedSequence, invert_permutation, pack_padded_sequence, pack_sequence,
                                pad_packed_sequence, pad_sequence, unpack_sequence, unpad_sequence)

LENGTHS = [2, 5, 1, 3, 5, 2]  # unsorted, with ties


def _sequences(rng, lengths=LENGTHS, features=3):
    return [rng.standard_normal((n, features)) for n in lengths]


def test_pad_pack_and_back_round_trip():
    rng = np.random.default_rng(0)
    seqs = _sequences(rng)
    for batch_first in (False, True):
        padded = pad_sequence([ember.tensor(s) for s in seqs], batch_first=batch_first, padding_value=-1.0)
        assert tuple(padded.shape) == ((6, 5, 3) if batch_first else (5, 6, 3))
        for b, s in enumerate(seqs):
            row = padded[b] if batch_first else padded[:, b]
            np.testing.assert_array_equal(row[:len(s)].numpy(), s)
            assert (row[len(s):].numpy() == -1.0).all()
        packed = pack_padded_sequence(padded, LENGTHS, batch_first=batch_first, enforce_sorted=False)
        assert packed.batch_sizes.tolist() == [6, 5, 3, 2, 2]
        assert packed.sorted_indices.tolist() == [1, 4, 3, 0, 5, 2]
        assert packed.unsorted_indices.tolist() == invert_permutation(packed.sorted_indices).tolist()
        # time step by time step, the longest sequences first
        np.testing.assert_array_equal(packed.data[:6].numpy(), np.stack([seqs[b][0] for b in [1, 4, 3, 0, 5, 2]]))
        back, lengths = pad_packed_sequence(packed, batch_first=batch_first, padding_value=-1.0)
        np.testing.assert_array_equal(back.numpy(), padded.numpy())
        assert lengths.tolist() == LENGTHS
        longer, _ = pad_packed_sequence(packed, batch_first=batch_first, total_length=7)
        assert longer.shape[1 if batch_first else 0] == 7
    for got, want in zip(unpack_sequence(pack_sequence([ember.tensor(s) for s in seqs], enforce_sorted=False)), seqs):
        np.testing.assert_array_equal(got.numpy(), want)
    for got, want in zip(unpad_sequence(pad_sequence([ember.tensor(s) for s in seqs]), LENGTHS), seqs):
        np.testing.assert_array_equal(got.numpy(), want)


def test_padding_and_packing_match_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.utils.rnn as tr
    rng = np.random.default_rng(1)
    seqs = _sequences(rng)
    for batch_first in (False, True):
        for side in ("right", "left"):
            got = pad_sequence([ember.tensor(s) for s in seqs], batch_first, 2.5, side)
            want = tr.pad_sequence([torch.tensor(s) for s in seqs], batch_first, 2.5, side)
            np.testing.assert_array_equal(got.numpy(), want.numpy())
        for enforce_sorted, lengths in ((False, LENGTHS), (True, sorted(LENGTHS, reverse=True))):
            ordered = seqs if not enforce_sorted else sorted(seqs, key=len, reverse=True)
            got = pack_padded_sequence(pad_sequence([ember.tensor(s) for s in ordered], batch_first), lengths,
                                       batch_first, enforce_sorted)
            want = tr.pack_padded_sequence(tr.pad_sequence([torch.tensor(s) for s in ordered], batch_first),
                                           lengths, batch_first, enforce_sorted)
            np.testing.assert_array_equal(got.data.numpy(), want.data.numpy())
            np.testing.assert_array_equal(got.batch_sizes.numpy(), want.batch_sizes.numpy())
            for a, b in ((got.sorted_indices, want.sorted_indices), (got.unsorted_indices, want.unsorted_indices)):
                assert (a is None) == (b is None) and (a is None or a.tolist() == b.tolist())
            for total in (None, 8):
                padded, lens = pad_packed_sequence(got, batch_first, -3.0, total)
                tpadded, tlens = tr.pad_packed_sequence(want, batch_first, -3.0, total)
                np.testing.assert_array_equal(padded.numpy(), tpadded.numpy())
                assert lens.tolist() == tlens.tolist()


def test_packing_is_differentiable():
    rng = np.random.default_rng(2)
    x = ember.tensor(rng.standard_normal((5, 6, 2)), requires_grad=True)

    def round_trip(x):
        packed = pack_padded_sequence(x * 1.5, LENGTHS, enforce_sorted=False)
        return pad_packed_sequence(PackedSequence(packed.data.tanh(), *packed[1:]), padding_value=0.5)[0]

    assert gradcheck(round_trip, (x,))
    round_trip(x).sum().backward()
    for b, n in enumerate(LENGTHS):  # padding positions get no gradient
        assert (x.grad[n:, b].numpy() == 0).all() and (x.grad[:n, b].numpy() != 0).all()


_LAYERS = [("LSTM", {}), ("GRU", {}), ("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {"proj_size": 3})]


@pytest.mark.parametrize("name,extra", _LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_layers_run_each_sequence_alone(name, extra, bidirectional):
    """Each sequence of a packed batch gives what it gives alone in a batch of one, its states too."""
    rng = np.random.default_rng(3)
    ember.manual_seed(0)
    layer = getattr(nn, name)(2, 5, num_layers=2, bidirectional=bidirectional, **extra).double()
    lstm = name == "LSTM"
    x = ember.tensor(rng.standard_normal((5, 6, 2)))
    states = [ember.tensor(rng.standard_normal((2 * (1 + bidirectional), 6, n))) for n in
              ((extra.get("proj_size", 5), 5) if lstm else (5,))]
    out, finals = layer(pack_padded_sequence(x, LENGTHS, enforce_sorted=False), tuple(states) if lstm else states[0])
    padded, _ = pad_packed_sequence(out)
    finals = finals if lstm else (finals,)
    for b, n in enumerate(LENGTHS):
        alone = [s[:, b:b + 1] for s in states]
        want_out, want_finals = layer(x[:n, b:b + 1], tuple(alone) if lstm else alone[0])
        got_out = padded.detach()
        np.testing.assert_allclose(got_out[:n, b:b + 1].numpy(), want_out.detach().numpy(), rtol=1e-12, atol=1e-12)
        assert (got_out[n:, b].numpy() == 0).all()
        for got, want in zip(finals, want_finals if lstm else (want_finals,)):
            np.testing.assert_allclose(got[:, b:b + 1].detach().numpy(), want.detach().numpy(), rtol=1e-12,
                                       atol=1e-12)


@pytest.mark.parametrize("name,extra", _LAYERS)
def test_packed_layers_match_torch(name, extra):
    torch = pytest.importorskip("torch")
    import torch.nn.utils.rnn as tr
    rng = np.random.default_rng(4)
    kwargs = dict(num_layers=2, bidirectional=True, **extra)
    tm = getattr(torch.nn, name)(3, 4, **kwargs).double()
    m = getattr(nn, name)(3, 4, **kwargs).double()
    m.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    lstm = name == "LSTM"
    xs = rng.standard_normal((6, 5, 3))  # batch first
    hs = [rng.standard_normal((4, 6, n)) for n in ((extra.get("proj_size", 4), 4) if lstm else (4,))]
    w = rng.standard_normal((6, 5, 2 * extra.get("proj_size", 4)))
    results = []
    for lib, mod, pack, pad in ((ember, m, pack_padded_sequence, pad_packed_sequence),
                                (torch, tm, tr.pack_padded_sequence, tr.pad_packed_sequence)):
        x = lib.tensor(xs, requires_grad=True)
        states = [lib.tensor(h, requires_grad=True) for h in hs]
        out, finals = mod(pack(x, LENGTHS, batch_first=True, enforce_sorted=False),
                          tuple(states) if lstm else states[0])
        padded, _ = pad(out, batch_first=True)
        finals = finals if lstm else (finals,)
        loss = (padded * lib.tensor(w)).sum() + sum((f * f).sum() for f in finals)
        loss.backward()
        results.append([padded, *finals, x.grad, *(s.grad for s in states),
                        *(p.grad for _, p in mod.named_parameters())])
    for got, want in zip(*results):
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_packed_lstm_gradcheck():
    rng = np.random.default_rng(5)
    ember.manual_seed(0)
    layer = nn.LSTM(2, 3, bidirectional=True).double()
    x = ember.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    h0 = ember.tensor(rng.standard_normal((2, 3, 3)), requires_grad=True)
    c0 = ember.tensor(rng.standard_normal((2, 3, 3)), requires_grad=True)

    def run(x, h0, c0):
        out, (h, c) = layer(pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False), (h0, c0))
        return out.data, h, c

    assert gradcheck(run, (x, h0, c0))


def test_packed_errors():
    x = ember.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(x, [4, 2, 0])
    with pytest.raises(RuntimeError, match="expected 2 sequences"):
        pack_padded_sequence(x, [4, 2])
    with pytest.raises(RuntimeError, match="longer than the input's 4 time steps"):
        pack_padded_sequence(x, [5, 2, 1])
    packed = pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="total_length=3 and max sequence length being 4"):
        pad_packed_sequence(packed, total_length=3)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 3, 5\), got \[1, 2, 5\]"):
        nn.GRU(2, 5)(packed, ember.zeros(1, 2, 5))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        nn.LSTM(3, 5)(packed)
    with pytest.raises(ValueError, match="padding_side"):
        pad_sequence([x[:, 0]], padding_side="middle")


def test_packed_lstm_learns_from_each_sequence_end():
    """The class is the sign of each sequence's last element; the padding after it is noise, so only a model that
    stops at each sequence's end (its h_n from the PackedSequence) can learn it."""
    rng = np.random.default_rng(6)
    ember.manual_seed(0)
    lstm, head = nn.LSTM(1, 16), nn.Linear(16, 2)
    opt = ember.optim.Adam([*lstm.parameters(), *head.parameters()], lr=0.02)

    def batch(n=64, steps=8):
        lengths = rng.integers(1, steps + 1, size=n)
        x = rng.standard_normal((steps, n, 1)).astype(np.float32)
        y = (x[lengths - 1, np.arange(n), 0] > 0).astype(np.int64)
        return ember.tensor(x), lengths.tolist(), ember.tensor(y)

    def logits(x, lengths):
        _, (h, _) = lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))
        return head(h[0])

    for _ in range(150):
        x, lengths, y = batch()
        opt.zero_grad()
        F.cross_entropy(logits(x, lengths), y).backward()
        opt.step()
    x, lengths, y = batch(512)
    with ember.no_grad():
        accuracy = (logits(x, lengths).argmax(1) == y).float().mean().item()
    assert accuracy > 0.95, accuracy
