"""Embedding: a lookup table of vectors; EmbeddingBag: its rows reduced over bags of indices."""
from __future__ import annotations

from ..autograd import no_grad
from ..dtypes import dtype as _dtype
from ..ops.embedding import embedding, embedding_bag
from ..ops.creation import empty
from ..tensor import Tensor
from ..types import Device
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding", "EmbeddingBag"]


class Embedding(Module):
    """A lookup table of ``num_embeddings`` learnt vectors of size ``embedding_dim``, indexed by integers.

    ``weight`` (num_embeddings, embedding_dim) starts from N(0, 1), its ``padding_idx`` row zeroed, as in PyTorch;
    ``Embedding.from_pretrained(tensor)`` builds one around given vectors.

    Args:
        num_embeddings (int): the number of vectors.
        embedding_dim (int): the size of each vector.
        padding_idx (int, optional): a row (negative counts from the end) that starts at zero and gets no gradient.
            Default: None.
        max_norm (float, optional): renormalise looked-up rows to at most this norm, in ``weight`` itself.
            Default: None.
        norm_type (float): the p of the p-norm for ``max_norm``. Default: 2.0.
        scale_grad_by_freq (bool): divide each row's gradient by how often its index occurs in the batch.
            Default: False.
        sparse (bool): make the gradient of ``weight`` a sparse COO tensor holding the looked-up rows only (for
            ``optim.SGD``, ``optim.Adagrad`` and ``optim.SparseAdam``). Default: False.
        _weight (Tensor, optional): use this (num_embeddings, embedding_dim) tensor as the weight, sharing its memory
            (what ``from_pretrained`` passes). Default: None.
        _freeze (bool): the weight does not require grad. Default: False.
        device (str or ember.device, optional): where the weight lives. Default: the CPU.
        dtype (ember.dtype, optional): the weight's dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (*), integer indices of any shape.
        - Output: (*, embedding_dim).

    PyTorch:
        ``torch.nn.Embedding``; same parameters, initialisation and state_dict keys.

    Example:
        >>> emb = nn.Embedding(10, 3)
        >>> emb(ember.tensor([[1, 2], [4, 9]])).shape
        ember.Size([2, 2, 3])
        >>> nn.Embedding(5, 2, padding_idx=0).weight[0].tolist()
        [0.0, 0.0]
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False, device: Device = None,
                 dtype: _dtype | None = None) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError(f"Padding_idx must be within num_embeddings (got padding_idx={padding_idx} "
                                     f"for num_embeddings={num_embeddings})")
            if padding_idx < 0:
                padding_idx += num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(empty((num_embeddings, embedding_dim), dtype=dtype, device=device),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight, requires_grad=not _freeze)  # shares memory with _weight, like torch

    def reset_parameters(self) -> None:
        """N(0, 1) weights with the padding_idx row zeroed."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input: Tensor) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                         self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is the given 2-D tensor of vectors (sharing its memory, as torch does)."""
        if embeddings._data.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings.detach(), _freeze=freeze)


class EmbeddingBag(Module):
    """A table of ``num_embeddings`` learnt vectors whose rows, looked up by each bag of indices, are reduced to one
    vector per bag: their sum, mean or elementwise max.

    ``weight`` (num_embeddings, embedding_dim) starts from N(0, 1), its ``padding_idx`` row zeroed, as in PyTorch;
    ``EmbeddingBag.from_pretrained(tensor)`` builds one around given vectors. See ``nn.functional.embedding_bag``
    for how bags are given (a 2-d input, or a 1-d input and offsets).

    Args:
        num_embeddings (int): the number of vectors.
        embedding_dim (int): the size of each vector.
        max_norm (float, optional): renormalise looked-up rows to at most this norm, in ``weight`` itself.
            Default: None.
        norm_type (float): the p of the p-norm for ``max_norm``. Default: 2.0.
        scale_grad_by_freq (bool): divide each row's gradient by how often its index occurs in the batch (not with
            mode 'max'). Default: False.
        mode (str): 'sum', 'mean' or 'max': how each bag is reduced. Default: 'mean'.
        sparse (bool): make the gradient of ``weight`` a sparse COO tensor holding the looked-up rows only (for
            ``optim.SGD``, ``optim.Adagrad`` and ``optim.SparseAdam``; not with mode 'max'). Default: False.
        _weight (Tensor, optional): use this (num_embeddings, embedding_dim) tensor as the weight, sharing its memory
            (what ``from_pretrained`` passes). Default: None.
        include_last_offset (bool): offsets has one entry more than there are bags, the last one ending the last
            bag. Default: False.
        padding_idx (int, optional): an index (negative counts from the end) left out of every bag, whose row starts
            at zero and gets no gradient. Default: None.
        device (str or ember.device, optional): where the weight lives. Default: the CPU.
        dtype (ember.dtype, optional): the weight's dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (B, N) integer indices (B bags of N), or (L,) with offsets of shape (B,) (or (B + 1,) with
          ``include_last_offset``).
        - Per-sample weights (forward's ``per_sample_weights``, mode 'sum' only): input's shape.
        - Output: (B, embedding_dim).

    PyTorch:
        ``torch.nn.EmbeddingBag``; same parameters, initialisation, repr and state_dict keys (the differences of
        ``nn.functional.embedding_bag`` apply).

    Example:
        >>> bag = nn.EmbeddingBag(10, 3, mode="sum")
        >>> bag(ember.tensor([[1, 2], [4, 9]])).shape
        ember.Size([2, 3])
        >>> bag(ember.tensor([1, 2, 4, 9, 3]), ember.tensor([0, 2])).shape
        ember.Size([2, 3])
        >>> nn.EmbeddingBag(4, 2, padding_idx=1)(ember.tensor([[1, 1]])).tolist()
        [[0.0, 0.0]]
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                 _weight: Tensor | None = None, include_last_offset: bool = False, padding_idx: int | None = None,
                 device: Device = None, dtype: _dtype | None = None) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError(f"padding_idx must be within num_embeddings (got padding_idx={padding_idx} "
                                     f"for num_embeddings={num_embeddings})")
            if padding_idx < 0:
                padding_idx += num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        if _weight is None:
            self.weight = Parameter(empty((num_embeddings, embedding_dim), dtype=dtype, device=device))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight)  # shares memory with _weight, like torch

    def reset_parameters(self) -> None:
        """N(0, 1) weights with the padding_idx row zeroed."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input: Tensor, offsets: Tensor | None = None,
                per_sample_weights: Tensor | None = None) -> Tensor:
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                             self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings!r}, {self.embedding_dim!r}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx!r}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag whose weight is the given 2-D tensor of vectors (sharing its memory, as torch does),
        trained only when ``freeze`` is False."""
        if embeddings._data.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings.detach(),
                  include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
