"""CosineSimilarity and PairwiseDistance: the layer forms of F.cosine_similarity and F.pairwise_distance."""
from ..ops.distance import cosine_similarity, pairwise_distance
from .module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """The cosine of the angle between x1 and x2 along ``dim`` (``F.cosine_similarity`` as a layer).

    Args:
        dim (int): the dimension of the vectors. Default: 1.
        eps (float): the smallest norm. Default: 1e-08.

    Shape:
        - Input1: (*1, D, *2), D at ``dim``.
        - Input2: a shape that broadcasts with Input1's.
        - Output: the broadcast shape without ``dim``.

    PyTorch:
        ``torch.nn.CosineSimilarity``; same semantics.

    Example:
        >>> nn.CosineSimilarity()(ember.tensor([[1.0, 0.0]]), ember.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The p-norm distance between the rows of x1 and x2, ``||x1 - x2 + eps||_p`` (``F.pairwise_distance``).

    Args:
        p (float): the norm's exponent. Default: 2.0.
        eps (float): added to the difference, against a zero norm's gradient. Default: 1e-06.
        keepdim (bool): keep the vector dimension (of size 1). Default: False.

    Shape:
        - Input1: (N, D) or (D).
        - Input2: the same shape, or one that broadcasts with it.
        - Output: (N) or () (with keepdim, (N, 1) or (1)).

    PyTorch:
        ``torch.nn.PairwiseDistance``; same semantics.

    Example:
        >>> nn.PairwiseDistance()(ember.tensor([[3.0, 0.0]]), ember.tensor([[0.0, 4.0]]))
        tensor([5.])
    """

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
