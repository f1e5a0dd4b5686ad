"""AdaptiveLogSoftmaxWithLoss: the adaptive softmax of Grave et al. (2016) for large vocabularies."""
from collections import namedtuple

import numpy as np

from ..ops.activation import log_softmax
from ..ops.creation import zeros
from ..ops.index import index_add
from ..ops.join import cat
from ..tensor import Tensor
from .containers import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """A softmax over many classes split by frequency: the ``cutoffs[0]`` most frequent classes and one entry per
    cluster of rarer ones form the head; each cluster's classes get their own smaller projection (its width
    divided by ``div_value`` once more per cluster), evaluated only for the targets in it.

    ``forward(input, target)`` returns ``(output, loss)``: each target's log-probability and the mean negative
    log-likelihood; ``log_prob(input)`` every class's log-probability; ``predict(input)`` the most likely class.

    Args:
        in_features (int): the size of each input vector.
        n_classes (int): the number of classes.
        cutoffs (sequence of int): increasing cluster boundaries, unique, in [1, n_classes - 1].
        div_value (float): the factor by which each cluster's projection narrows. Default: 4.0.
        head_bias (bool): give the head a bias. Default: False.
        device (str or ember.device, optional): where the parameters live. Default: the CPU.
        dtype (ember.dtype, optional): the parameters' dtype. Default: ``ember.get_default_dtype()``.

    Shape:
        - Input: (N, in_features) or (in_features).
        - Target: (N) or (), class indices in [0, n_classes).
        - Output: (N) or (); the loss a scalar.

    PyTorch:
        ``torch.nn.AdaptiveLogSoftmaxWithLoss``; same parameters, state_dict keys, outputs and errors.

    Example:
        >>> asm = nn.AdaptiveLogSoftmaxWithLoss(16, 100, cutoffs=[10, 50])
        >>> out = asm(ember.randn(4, 16), ember.tensor([1, 20, 60, 99]))
        >>> out.output.shape, out.loss.shape, asm.log_prob(ember.randn(4, 16)).exp().sum(1).round().tolist()
        (ember.Size([4]), ember.Size([]), [1.0, 1.0, 1.0, 1.0])
    """

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing order, "
                             "where each value is between 1 and n_classes-1")
        self.in_features, self.n_classes, self.div_value, self.head_bias = in_features, n_classes, div_value, head_bias
        self.cutoffs = cutoffs + [n_classes]
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        kwargs = dict(device=device, dtype=dtype)
        self.head = Linear(in_features, self.head_size, bias=head_bias, **kwargs)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **kwargs),
                                        Linear(hidden, self.cutoffs[i + 1] - self.cutoffs[i], bias=False, **kwargs)))

    def reset_parameters(self):
        """Re-initialise the head and every cluster's projections."""
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):
        if target_.dim() == 1:
            if input_.size(0) != target_.size(0):
                raise RuntimeError("Input and target should have the same size in the batch dimension.")
            if input_.dim() != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with size "
                                   f"{tuple(input_.shape)}")
        elif target_.dim() == 0:
            if input_.dim() != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with size "
                                   f"{tuple(input_.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.dim() > 0
        input = input_ if batched else input_.unsqueeze(0)
        targets = np.asarray(target_._data).reshape(-1).astype(np.int64)
        if targets.size and (targets.min() < 0 or targets.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{targets.min()}, {targets.max()}] were found. ")
        output = zeros(targets.size, dtype=input.dtype, device=input.device)
        head_index = targets.copy()  # the head's entry of each target: itself, or its cluster's
        for i, (low, high) in enumerate(zip(self.cutoffs[:-1], self.cutoffs[1:])):
            rows = np.flatnonzero((targets >= low) & (targets < high))
            if rows.size == 0:
                continue
            head_index[rows] = self.shortlist_size + i
            cluster = log_softmax(self.tail[i](input[Tensor._wrap(rows)]), dim=1)
            picked = cluster.gather(1, Tensor._wrap((targets[rows] - low).reshape(-1, 1))).squeeze(1)
            output = index_add(output, 0, Tensor._wrap(rows), picked)
        head = log_softmax(self.head(input), dim=1)
        output = output + head.gather(1, Tensor._wrap(head_index.reshape(-1, 1))).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, input, head_output):
        head = log_softmax(head_output, dim=1)
        parts = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = log_softmax(self.tail[i](input), dim=1)
            parts.append(cluster + head[:, self.shortlist_size + i:self.shortlist_size + i + 1])
        return cat(parts, 1)

    def log_prob(self, input):
        """Every class's log-probability: (N, n_classes), or (n_classes) for one input vector."""
        batched = input.dim() > 1
        x = input if batched else input.unsqueeze(0)
        out = self._full_log_prob(x, self.head(x))
        return out if batched else out.squeeze(0)

    def predict(self, input):
        """The most likely class of each input vector (the full softmax is computed only where the head's best
        entry is a cluster)."""
        batched = input.dim() > 1
        x = input if batched else input.unsqueeze(0)
        head_output = self.head(x)
        best = head_output.argmax(dim=1)
        rare = np.flatnonzero(best.numpy() >= self.shortlist_size)
        if rare.size:
            rows = Tensor._wrap(rare)
            best = best.clone()
            best[rows] = self._full_log_prob(x[rows], head_output[rows]).argmax(dim=1)
        return best if batched else best.squeeze(0)
