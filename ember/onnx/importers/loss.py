"""Loss ONNX ops: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (class weights, ignore_index, the three
reductions, any number of spatial dimensions), composed from ember's gather and log_softmax."""
import numpy as np

import ember as E
from ...nn import functional as F
from .._registry import onnx_op
from .._values import to_numpy, to_value


def _nll(logp, target, weight, reduction, ignore_index):
    t = np.asarray(to_numpy(target)).astype(np.int64)
    c = logp.shape[1]
    valid = np.ones(t.shape, dtype=bool) if ignore_index is None else t != ignore_index
    safe = np.clip(np.where(valid, t, 0), 0, c - 1)
    picked = E.squeeze(E.gather(logp, 1, to_value(np.expand_dims(safe, 1))), 1)
    dtype = to_numpy(logp).dtype
    w = weight[to_value(safe)] * to_value(valid.astype(dtype)) if weight is not None else \
        to_value(valid.astype(dtype))
    loss = -picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return E.sum(loss)
    return E.sum(loss) / E.sum(w)


@onnx_op("NegativeLogLikelihoodLoss", since=(12, 13, 22))
def negative_log_likelihood_loss(ctx, inputs, attrs):
    weight = inputs[2] if len(inputs) > 2 else None
    return _nll(inputs[0], inputs[1], weight, attrs.get("reduction", "mean"), attrs.get("ignore_index"))


@onnx_op("SoftmaxCrossEntropyLoss", since=(12, 13))
def softmax_cross_entropy_loss(ctx, inputs, attrs):
    weight = inputs[2] if len(inputs) > 2 else None
    logp = F.log_softmax(inputs[0], dim=1)
    loss = _nll(logp, inputs[1], weight, attrs.get("reduction", "mean"), attrs.get("ignore_index"))
    return loss, logp
