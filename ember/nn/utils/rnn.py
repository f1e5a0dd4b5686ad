"""Variable-length sequences for the recurrent layers, as ``torch.nn.utils.rnn``: padding and packing.

A ``PackedSequence`` holds a batch of sequences of different lengths time step by time step: ``data`` is the
first ``batch_sizes[0]`` sequences' first elements, then the first ``batch_sizes[1]`` sequences' second ones, and
so on, the sequences ordered by decreasing length (``sorted_indices`` gives that order where the batch came in
another). ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` take one and return one, each sequence run over its own length.
Packing and padding are single gathers, so gradients flow through them.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ...dtypes import float32, float64
from ...ops.creation import full
from ...ops.join import cat
from ...tensor import Tensor, as_tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """A batch of variable-length sequences packed time step by time step (see the module's docstring), a named
    tuple; ``pack_padded_sequence`` and ``pack_sequence`` make them.

    Args:
        data (Tensor): the packed elements, (sum of the lengths, *features).
        batch_sizes (Tensor): how many sequences are still running at each time step (int64, on the CPU).
        sorted_indices (Tensor, optional): the batch's order by decreasing length; None where it came so.
            Default: None.
        unsorted_indices (Tensor, optional): its inverse; computed from ``sorted_indices`` when not given.
            Default: None.

    PyTorch:
        ``torch.nn.utils.rnn.PackedSequence``.

    Example:
        >>> from ember.nn.utils.rnn import pack_sequence
        >>> packed = pack_sequence([ember.tensor([1., 2., 3.]), ember.tensor([4., 5.])])
        >>> packed.data, packed.batch_sizes
        (tensor([1., 4., 2., 5., 3.]), tensor([2, 2, 1]))
    """

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None, sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """The same sequences with ``data`` converted as ``Tensor.to`` converts it (the indices follow its device;
        ``batch_sizes`` stays on the CPU)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        indices = [i if i is None else i.to(data.device) for i in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *indices)

    def cpu(self) -> PackedSequence:
        """``data`` on the CPU."""
        return self.to("cpu")

    def double(self) -> PackedSequence:
        """``data`` as float64."""
        return self.to(dtype=float64)

    def float(self) -> PackedSequence:
        """``data`` as float32."""
        return self.to(dtype=float32)

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` is on a GPU."""
        return self.data.is_cuda


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation that undoes ``permutation``.

    Args:
        permutation (Tensor or None): a 1-D int64 tensor holding each of 0 .. n-1 once.

    Returns:
        Tensor or None: q with q[permutation[i]] == i (None for None).

    PyTorch:
        ``torch.nn.utils.rnn.invert_permutation``.

    Example:
        >>> from ember.nn.utils.rnn import invert_permutation
        >>> invert_permutation(ember.tensor([2, 0, 1]))
        tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    order = permutation.numpy() if permutation.device.type == "cpu" else permutation.cpu().numpy()
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size, dtype=order.dtype)
    return as_tensor(inverse, device=permutation.device)


def _lengths(lengths, what):
    """lengths (a list or a 1-D tensor on the CPU) as a NumPy int64 array."""
    if isinstance(lengths, Tensor):
        if lengths.device.type != "cpu":
            raise RuntimeError(f"{what}: 'lengths' argument should be a 1D CPU int64 tensor, but got 1D "
                               f"{lengths.device.type} {lengths.dtype} tensor")
        lengths = lengths.numpy()
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


def _batch_sizes(sorted_lengths):
    """How many of these lengths (decreasing) are still running at each time step."""
    steps = np.arange(int(sorted_lengths[0]))
    return (sorted_lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths: Tensor | list[int], batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch of sequences of these lengths (for ``nn.RNN``, ``nn.LSTM``, ``nn.GRU``).

    Args:
        input (Tensor): the padded batch, (T, B, *) ((B, T, *) with ``batch_first``).
        lengths (Tensor or list of int): each sequence's length (a tensor on the CPU), all > 0 and <= T.
        batch_first (bool): input is (B, T, *). Default: False.
        enforce_sorted (bool): the lengths must decrease (as ONNX export needs); with False the batch is ordered
            by length here and ``sorted_indices`` records how. Default: True.

    Returns:
        PackedSequence: the sequences, time step by time step; gradients flow back to ``input``.

    PyTorch:
        ``torch.nn.utils.rnn.pack_padded_sequence``.

    Example:
        >>> from ember.nn.utils.rnn import pack_padded_sequence
        >>> padded = ember.tensor([[1., 4.], [2., 5.], [3., 0.]])  # (T=3, B=2): lengths 3 and 2
        >>> pack_padded_sequence(padded, [3, 2]).data
        tensor([1., 4., 2., 5., 3.])
    """
    lengths = _lengths(lengths, "pack_padded_sequence")
    batch_dim = 0 if batch_first else 1
    if input.dim() < 2 or lengths.size != input.shape[batch_dim]:
        raise RuntimeError(f"pack_padded_sequence: expected {lengths.size} sequences (the lengths given) along "
                           f"dimension {batch_dim} of the input, got shape {tuple(input.shape)}")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        order, sorted_indices = np.arange(lengths.size), None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = as_tensor(order, device=input.device)
    steps = input.shape[1 - batch_dim]
    if lengths.size and lengths.max() > steps:
        raise RuntimeError(f"pack_padded_sequence: a length ({lengths.max()}) is longer than the input's "
                           f"{steps} time steps")
    batch_sizes = _batch_sizes(lengths[order])
    # the flat position (in the (T*B) or (B*T) rows of input) of each packed element, time step by time step
    t = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    b = order[np.concatenate([np.arange(n) for n in batch_sizes])]
    flat = b * steps + t if batch_first else t * input.shape[1] + b
    rows = input.reshape(input.shape[0] * input.shape[1], *input.shape[2:])
    data = rows[as_tensor(flat, device=input.device)]
    return PackedSequence(data, as_tensor(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: the padded batch, in the batch's original order.

    Args:
        sequence (PackedSequence): the packed batch (an RNN's output, say).
        batch_first (bool): return (B, T, *) instead of (T, B, *). Default: False.
        padding_value (float): the value past each sequence's end. Default: 0.0.
        total_length (int, optional): pad to this many time steps (at least the longest sequence's); default:
            the longest sequence's.

    Returns:
        tuple: (the padded batch, each sequence's length as an int64 tensor).

    PyTorch:
        ``torch.nn.utils.rnn.pad_packed_sequence``.

    Example:
        >>> from ember.nn.utils.rnn import pack_sequence, pad_packed_sequence
        >>> pad_packed_sequence(pack_sequence([ember.tensor([1., 2.]), ember.tensor([3.])]), batch_first=True)
        (tensor([[1., 2.],
                [3., 0.]]), tensor([2, 1]))
    """
    data, batch_sizes, _, unsorted = sequence
    batch_sizes = batch_sizes.numpy().astype(np.int64)
    steps, batch = batch_sizes.size, int(batch_sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    sorted_lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    unsorted_np = np.arange(batch) if unsorted is None else unsorted.cpu().numpy()
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])  # where each time step begins in data
    t = np.arange(steps)[:, None]
    j = unsorted_np[None, :]  # each original sequence's place in the sorted batch
    inside = t < sorted_lengths[j]
    padding_row = data.shape[0]
    source = np.where(inside, starts[np.minimum(t, batch_sizes.size - 1)] + j, padding_row)
    if batch_first:
        source = source.T
    rows = cat([data, full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)])
    padded = rows[as_tensor(source.reshape(-1), device=data.device)].reshape(*source.shape, *data.shape[1:])
    return padded, as_tensor(sorted_lengths[unsorted_np])


def pad_sequence(sequences: list[Tensor] | tuple[Tensor, ...] | Tensor, batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences of different lengths into one padded batch.

    Args:
        sequences (list of Tensor): each (L_i, *), the same trailing shape.
        batch_first (bool): return (B, T, *) instead of (T, B, *), T the longest length. Default: False.
        padding_value (float): the value of the padding. Default: 0.0.
        padding_side (str): pad after each sequence (``"right"``) or before it (``"left"``). Default: "right".

    Returns:
        Tensor: the padded batch; gradients flow back to the sequences.

    PyTorch:
        ``torch.nn.utils.rnn.pad_sequence``.

    Example:
        >>> from ember.nn.utils.rnn import pad_sequence
        >>> pad_sequence([ember.tensor([1., 2., 3.]), ember.tensor([4.])], batch_first=True)
        tensor([[1., 2., 3.],
                [4., 0., 0.]])
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for k, s in enumerate(sequences):
        if s.dim() == 0 or tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: sequence {k} has shape {tuple(s.shape)}; every sequence must be "
                               f"(length, {', '.join(map(str, trailing)) or '...'})")
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    steps = int(lengths.max())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    t = np.arange(steps)[:, None]
    offset = t - (steps - lengths[None, :]) if padding_side == "left" else np.broadcast_to(t, (steps, lengths.size))
    inside = (offset >= 0) & (offset < lengths[None, :])
    first = sequences[0]
    padding_row = int(lengths.sum())
    source = np.where(inside, starts[None, :] + offset, padding_row)
    if batch_first:
        source = source.T
    rows = cat([*sequences, full((1, *trailing), padding_value, dtype=first.dtype, device=first.device)])
    return rows[as_tensor(source.reshape(-1), device=first.device)].reshape(*source.shape, *trailing)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor | list[int], batch_first: bool = False) -> list[Tensor]:
    """Undo ``pad_sequence``: the sequences, each cut to its length.

    Args:
        padded_sequences (Tensor): a padded batch, (T, B, *) ((B, T, *) with ``batch_first``).
        lengths (Tensor or list of int): each sequence's length.
        batch_first (bool): the batch is (B, T, *). Default: False.

    Returns:
        list of Tensor: the sequences, each (L_i, *).

    PyTorch:
        ``torch.nn.utils.rnn.unpad_sequence``.

    Example:
        >>> from ember.nn.utils.rnn import unpad_sequence
        >>> unpad_sequence(ember.tensor([[1., 3.], [2., 0.]]), [2, 1])
        [tensor([1., 2.]), tensor([3.])]
    """
    lengths = _lengths(lengths, "unpad_sequence")
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lengths)]


def pack_sequence(sequences: list[Tensor] | tuple[Tensor, ...], enforce_sorted: bool = True) -> PackedSequence:
    """Pack sequences of different lengths: ``pad_sequence`` then ``pack_padded_sequence``.

    Args:
        sequences (list of Tensor): each (L_i, *), the same trailing shape.
        enforce_sorted (bool): the sequences must come longest first (see ``pack_padded_sequence``).
            Default: True.

    Returns:
        PackedSequence: the sequences, time step by time step.

    PyTorch:
        ``torch.nn.utils.rnn.pack_sequence``.

    Example:
        >>> from ember.nn.utils.rnn import pack_sequence
        >>> pack_sequence([ember.tensor([1.]), ember.tensor([2., 3.])], enforce_sorted=False).data
        tensor([2., 1., 3.])
    """
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Undo ``pack_sequence``: the sequences, in the order they were packed.

    Args:
        packed_sequences (PackedSequence): the packed batch.

    Returns:
        list of Tensor: the sequences, each (L_i, *).

    PyTorch:
        ``torch.nn.utils.rnn.unpack_sequence``.

    Example:
        >>> from ember.nn.utils.rnn import pack_sequence, unpack_sequence
        >>> unpack_sequence(pack_sequence([ember.tensor([1.]), ember.tensor([2., 3.])], enforce_sorted=False))
        [tensor([1.]), tensor([2., 3.])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
