"""Loss modules: thin wrappers over the loss functions with PyTorch's constructor arguments."""

from ..ops import loss as L
from ..ops.ctc import ctc_loss
from .distance import PairwiseDistance
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
           "BCEWithLogitsLoss", "KLDivLoss", "HingeEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss",
           "SoftMarginLoss", "CosineEmbeddingLoss", "PoissonNLLLoss", "GaussianNLLLoss", "CTCLoss",
           "MultiMarginLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "TripletMarginWithDistanceLoss"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            # the deprecated flags decide the reduction (with PyTorch's warning), as in torch
            self.reduction = L._reduction(reduction, type(self).__name__, size_average, reduce)
        else:
            self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy between logits and targets: log_softmax over the classes, then the negative log-likelihood.

    With reduction='mean' and class indices, the sum is divided by the total weight of the counted targets.

    Args:
        weight (Tensor, optional): a rescaling weight per class, shape (C,). Default: None.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        ignore_index (int): a target class index that contributes nothing (nor to the mean's divisor). Default: -100.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.
        label_smoothing (float): in [0, 1]; mixes the targets with the uniform distribution. Default: 0.0.

    Shape:
        - Input: (N, C), (C,) or (N, C, d1, ...), unnormalised logits.
        - Target: class indices (N,), () or (N, d1, ...) in [0, C); or class probabilities of the input's shape.
        - Output: a scalar; the target's shape (N, d1, ...) with reduction='none'.

    PyTorch:
        ``torch.nn.CrossEntropyLoss``; same semantics and defaults.

    Example:
        >>> loss = nn.CrossEntropyLoss()
        >>> loss(ember.tensor([[2.0, 0.0], [0.0, 2.0]]), ember.tensor([0, 1]))
        tensor(0.1269)
        >>> loss(ember.tensor([[2.0, 0.0], [0.0, 2.0]]), ember.tensor([[1.0, 0.0], [0.5, 0.5]]))
        tensor(0.6269)
    """
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return L.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (e.g. the output of LogSoftmax) against class indices.

    With reduction='mean' the sum is divided by the total weight of the counted targets.

    Args:
        weight (Tensor, optional): a rescaling weight per class, shape (C,). Default: None.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        ignore_index (int): a target class index that contributes nothing (nor to the mean's divisor). Default: -100.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (N, C), (C,) or (N, C, d1, ...), log-probabilities.
        - Target: (N,), () or (N, d1, ...), class indices in [0, C).
        - Output: a scalar; the target's shape with reduction='none'.

    PyTorch:
        ``torch.nn.NLLLoss``; same semantics and defaults.

    Example:
        >>> nn.NLLLoss()(ember.tensor([[-0.1, -2.4], [-1.6, -0.2]]), ember.tensor([0, 1]))
        tensor(0.1500)
    """
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return L.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (x - y)^2 between the input and the target.

    Args:
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape (another shape is broadcast, with a warning).
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.MSELoss``; same semantics and defaults.

    Example:
        >>> nn.MSELoss()(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 4.0]))
        tensor(2.)
        >>> nn.MSELoss(reduction="none")(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 4.0]))
        tensor([0., 4.])
    """
    def forward(self, input, target):
        return L.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error abs(x - y) between the input and the target.

    Args:
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape (another shape is broadcast, with a warning).
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.L1Loss``; same semantics and defaults.

    Example:
        >>> nn.L1Loss()(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 4.0]))
        tensor(1.)
    """
    def forward(self, input, target):
        return L.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1 error: 0.5 * (x - y)^2 / beta where abs(x - y) < beta, abs(x - y) - 0.5 * beta elsewhere.

    Args:
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.
        beta (float): where the quadratic part turns linear; 0 gives L1Loss. Default: 1.0.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape (another shape is broadcast, with a warning).
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.SmoothL1Loss``; same semantics and defaults.

    Example:
        >>> nn.SmoothL1Loss()(ember.tensor([1.0, 2.0, 0.0]), ember.tensor([1.5, 4.0, 0.0]))
        tensor(0.5417)
    """
    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber error: 0.5 * (x - y)^2 where abs(x - y) < delta, delta * (abs(x - y) - 0.5 * delta) elsewhere.

    Args:
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.
        delta (float): where the quadratic part turns linear (positive). Default: 1.0.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the input's shape (another shape is broadcast, with a warning).
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.HuberLoss``; same semantics and defaults.

    Example:
        >>> nn.HuberLoss(delta=2.0)(ember.tensor([1.0, 2.0, 0.0]), ember.tensor([1.5, 4.0, 0.0]))
        tensor(0.7083)
    """
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross entropy -(y * log(x) + (1 - y) * log(1 - x)) of probabilities x in [0, 1] against targets y.

    The logarithms are clamped at -100, so that x of exactly 0 or 1 gives a finite loss.

    Args:
        weight (Tensor, optional): a rescaling weight broadcast to the input's shape. Default: None.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (*), probabilities in [0, 1].
        - Target: (*), the input's shape, values in [0, 1].
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.BCELoss``; same semantics and defaults.

    Example:
        >>> nn.BCELoss()(ember.tensor([0.8, 0.2]), ember.tensor([1.0, 0.0]))
        tensor(0.2231)
    """
    def forward(self, input, target):
        return L.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross entropy of logits (the sigmoid is applied inside, computed stably) against targets in [0, 1].

    Args:
        weight (Tensor, optional): a rescaling weight broadcast to the input's shape. Default: None.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.
        pos_weight (Tensor, optional): a weight of the positive term, broadcast along the last dimension
            (e.g. one per class, (C,)), to trade recall against precision. Default: None.

    Shape:
        - Input: (*), logits.
        - Target: (*), the input's shape, values in [0, 1].
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.BCEWithLogitsLoss``; same semantics and defaults.

    Example:
        >>> nn.BCEWithLogitsLoss()(ember.tensor([2.0, -1.0]), ember.tensor([1.0, 0.0]))
        tensor(0.2201)
    """
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return L.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence target * (log(target) - input) of the target from the input's distribution,
    given as log-probabilities.

    Args:
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none', 'batchmean' (the sum divided by the batch size: the true KL divergence),
            'sum' or 'mean' (divided by the number of elements, with a warning). Default: 'mean'.
        log_target (bool): the target is given as log-probabilities too. Default: False.

    Shape:
        - Input: (*), log-probabilities.
        - Target: (*), the input's shape.
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.KLDivLoss``; same semantics and defaults.

    Example:
        >>> loss = nn.KLDivLoss(reduction="batchmean")
        >>> loss(ember.tensor([[-1.2, -0.4]]), ember.tensor([[0.25, 0.75]]))
        tensor(0.0377)
    """
    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return L.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class HingeEmbeddingLoss(_Loss):
    """Hinge loss for targets of 1 or -1: x where y is 1, max(0, margin - x) where y is -1.

    Args:
        margin (float): the margin for the negative pairs. Default: 1.0.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (*), e.g. distances between pairs.
        - Target: (*), the input's shape, values 1 or -1.
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.HingeEmbeddingLoss``; same semantics and defaults.

    Example:
        >>> nn.HingeEmbeddingLoss()(ember.tensor([0.3, 0.4]), ember.tensor([1.0, -1.0]))
        tensor(0.4500)
    """
    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return L.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """Ranking loss max(0, -y * (x1 - x2) + margin): y = 1 asks for x1 ranked above x2, y = -1 for the opposite.

    Args:
        margin (float): the required gap. Default: 0.0.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input1: (N) or (), scores.
        - Input2: input1's shape.
        - Target: input1's shape, values 1 or -1.
        - Output: a scalar; (N) with reduction='none'.

    PyTorch:
        ``torch.nn.MarginRankingLoss``; same semantics and defaults.

    Example:
        >>> loss = nn.MarginRankingLoss()
        >>> loss(ember.tensor([1.0, 2.0]), ember.tensor([2.0, 1.0]), ember.tensor([1.0, 1.0]))
        tensor(0.5000)
    """
    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return L.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """Triplet loss max(d(anchor, positive) - d(anchor, negative) + margin, 0) with the p-norm distance d.

    Args:
        margin (float): the required gap between the two distances. Default: 1.0.
        p (float): the norm of the distance. Default: 2.0.
        eps (float): added to the differences before the norm, for stability. Default: 1e-06.
        swap (bool): use the smaller of d(anchor, negative) and d(positive, negative) (distance swap).
            Default: False.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Anchor: (N, D) or (D), embeddings.
        - Positive, Negative: the anchor's shape.
        - Output: a scalar; (N) with reduction='none'.

    PyTorch:
        ``torch.nn.TripletMarginLoss``; same semantics and defaults.

    Example:
        >>> loss = nn.TripletMarginLoss()
        >>> loss(ember.tensor([[0.0, 0.0]]), ember.tensor([[2.0, 0.0]]), ember.tensor([[0.0, 1.0]]))
        tensor(2.)
    """
    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return L.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Logistic loss log(1 + exp(-y * x)) for targets y of 1 or -1.

    Args:
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (*), scores.
        - Target: (*), the input's shape, values 1 or -1.
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.SoftMarginLoss``; same semantics and defaults.

    Example:
        >>> nn.SoftMarginLoss()(ember.tensor([2.0, -1.0]), ember.tensor([1.0, 1.0]))
        tensor(0.7201)
    """
    def forward(self, input, target):
        return L.soft_margin_loss(input, target, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """Embedding loss on cosine similarity: 1 - cos(x1, x2) where y is 1, max(0, cos(x1, x2) - margin) where y is -1.

    Args:
        margin (float): in [-1, 1]; the similarity below which negative pairs cost nothing. Default: 0.0.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input1: (N, D) or (D), embeddings.
        - Input2: input1's shape.
        - Target: (N) or (), values 1 or -1.
        - Output: a scalar; (N) with reduction='none'.

    PyTorch:
        ``torch.nn.CosineEmbeddingLoss``; same semantics and defaults.

    Example:
        >>> x1 = ember.tensor([[1.0, 0.0], [1.0, 0.0]])
        >>> x2 = ember.tensor([[1.0, 1.0], [0.0, 1.0]])
        >>> nn.CosineEmbeddingLoss()(x1, x2, ember.tensor([1.0, -1.0]))
        tensor(0.1464)
    """
    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return L.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Negative log-likelihood of a Poisson distribution with the predicted rate: exp(input) - target * input with
    log_input, input - target * log(input + eps) without.

    Args:
        log_input (bool): the input is the log of the rate. Default: True.
        full (bool): add the Stirling approximation of log(target!) (for targets > 1). Default: False.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        eps (float): added inside the log when log_input is False. Default: 1e-08.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per element), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (*), log-rates (or rates).
        - Target: (*), the input's shape, counts.
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.PoissonNLLLoss``; same semantics and defaults.

    Example:
        >>> nn.PoissonNLLLoss()(ember.tensor([0.0, 1.0]), ember.tensor([1.0, 2.0]))
        tensor(0.8591)
    """
    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return L.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Negative log-likelihood of a Gaussian with the predicted mean (input) and variance (var):
    0.5 * (log(var) + (input - target)^2 / var).

    Args:
        full (bool): add the constant 0.5 * log(2 * pi) (keyword only). Default: False.
        eps (float): the variance is clamped to at least eps, for stability (keyword only). Default: 1e-06.
        reduction (str): 'none', 'mean' or 'sum' (keyword only). Default: 'mean'.

    Shape:
        - Input: (N, *) or (*), the predicted means.
        - Target: the input's shape.
        - Var: the input's shape, or it with one dimension of size 1 (broadcast), or without its last dimension
          (one variance per sample): positive values.
        - Output: a scalar; the input's shape with reduction='none'.

    PyTorch:
        ``torch.nn.GaussianNLLLoss``; same semantics and defaults.

    Example:
        >>> loss = nn.GaussianNLLLoss()
        >>> loss(ember.tensor([1.0, 2.0]), ember.tensor([1.5, 2.0]), ember.tensor([1.0, 0.5]))
        tensor(-0.1108)
    """
    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return L.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss: the negative log-probability of each target sequence, summed over
    all its alignments with the input sequence.

    Args:
        blank (int): the class index of the blank label. Default: 0.
        reduction (str): 'none', 'mean' (each loss divided by its target length, then averaged over the batch)
            or 'sum'. Default: 'mean'.
        zero_infinity (bool): replace infinite losses (impossible alignments) and their gradients by zero.
            Default: False.

    Shape:
        - Log_probs: (T, N, C) or (T, C), log-probabilities (e.g. log_softmax over C) of T input steps.
        - Targets: (N, S) padded, or all the target sequences concatenated (sum(target_lengths)); class indices
          other than blank.
        - Input_lengths: (N) or (), the length of each input (<= T).
        - Target_lengths: (N) or (), the length of each target (<= S).
        - Output: a scalar; (N) with reduction='none'.

    PyTorch:
        ``torch.nn.CTCLoss``; same semantics and defaults.

    Example:
        >>> log_probs = ember.zeros(3, 1, 3).log_softmax(2)
        >>> nn.CTCLoss()(log_probs, ember.tensor([[1, 2]]), ember.tensor([3]), ember.tensor([2]))
        tensor(0.8432)
    """
    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                        reduction=self.reduction, zero_infinity=self.zero_infinity)


class MultiMarginLoss(_WeightedLoss):
    """The multi-class hinge loss: per sample of class y, the mean over the other classes i of
    max(0, margin - x[y] + x[i])^p (times weight[y]).

    Args:
        p (int): 1 or 2. Default: 1.
        margin (float): the margin. Default: 1.0.
        weight (Tensor, optional): a weight per class, (C). Default: None.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per sample), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (N, C) or (C), scores.
        - Target: (N) or (), class indices.
        - Output: a scalar; (N) with reduction='none'.

    PyTorch:
        ``torch.nn.MultiMarginLoss``; same semantics and defaults.

    Example:
        >>> nn.MultiMarginLoss()(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([3]))
        tensor(0.3250)
    """

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return L.multi_margin_loss(input, target, self.p, self.margin, self.weight, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """The multi-label hinge loss: per sample, the sum over its target classes j and other classes i of
    max(0, 1 - (x[j] - x[i])), divided by the number of classes.

    Args:
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per sample), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (N, C) or (C), scores.
        - Target: the input's shape, int64: the target classes, then -1.
        - Output: a scalar; (N) with reduction='none'.

    PyTorch:
        ``torch.nn.MultiLabelMarginLoss``; same semantics and defaults.

    Example:
        >>> nn.MultiLabelMarginLoss()(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([[3, 0, -1, 1]]))
        tensor(0.8500)
    """

    def forward(self, input, target):
        return L.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """The multi-label logistic loss: per sample, the mean over the classes of
    -(y log(sigmoid(x)) + (1 - y) log(sigmoid(-x))) (times the class's weight).

    Args:
        weight (Tensor, optional): a weight per class, (C). Default: None.
        size_average (bool, optional): deprecated (use reduction); with reduce, decides the reduction, with a warning.
            Default: None.
        reduce (bool, optional): deprecated (use reduction); False means 'none'. Default: None.
        reduction (str): 'none' (one loss per sample), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Input: (N, C), scores.
        - Target: (N, C), 0 or 1.
        - Output: a scalar; (N) with reduction='none'.

    PyTorch:
        ``torch.nn.MultiLabelSoftMarginLoss``; same semantics and defaults.

    Example:
        >>> nn.MultiLabelSoftMarginLoss()(ember.tensor([[2.0, -1.0]]), ember.tensor([[1.0, 0.0]]))
        tensor(0.2201)
    """

    def forward(self, input, target):
        return L.multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """The triplet loss with any distance: max(0, margin + d(anchor, positive) - d(anchor, negative)).

    Args:
        distance_function (callable, optional): d(x, y), a tensor of distances; None is a ``PairwiseDistance()``
            (a submodule, as in PyTorch). Default: None.
        margin (float): the margin, > 0. Default: 1.0.
        swap (bool): use d(positive, negative) where it is smaller than d(anchor, negative). Default: False.
        reduction (str): 'none' (one loss per triplet), 'mean' or 'sum'. Default: 'mean'.

    Shape:
        - Anchor, Positive, Negative: (N, D) or (D), or what distance_function takes.
        - Output: a scalar; (N) with reduction='none'.

    PyTorch:
        ``torch.nn.TripletMarginWithDistanceLoss``; same semantics and defaults.

    Example:
        >>> a, p, n = ember.tensor([[0.0, 0.0]]), ember.tensor([[1.0, 0.0]]), ember.tensor([[1.5, 0.0]])
        >>> nn.TripletMarginWithDistanceLoss()(a, p, n)
        tensor(0.5000)
    """

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                             f"instead")
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin, self.swap = margin, swap

    def forward(self, anchor, positive, negative):
        return L.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)
