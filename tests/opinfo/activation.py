"""Activations, the softmax family, dropout (one mask: the random state is fixed inside fn), embedding and one_hot,
distances, and nn.functional's relu/sigmoid/tanh."""
import ember
import ember.nn.functional as F

from . import Idx, OpInfo, Sample, T


def _seeded(fn):
    """fn with the default generator reseeded before each call, so that every call (gradcheck's included) draws the
    same mask."""
    def call(*args, **kwargs):
        ember.manual_seed(0)
        return fn(*args, **kwargs)
    return call


_SOFTMAX_SAMPLES = [Sample(T((3, 5)), 1), Sample(T((2, 3, 4)), 0), Sample(T((0, 3)), -1), Sample(T(()), 0)]

ENTRIES = [
    # softmax family
    OpInfo(("Softmax", "SoftmaxGrad"), F.softmax, _SOFTMAX_SAMPLES, method="softmax",
           ref=lambda torch, x, dim: torch.nn.functional.softmax(x, dim)),
    OpInfo(("LogSoftmax", "LogSoftmaxGrad"), F.log_softmax, _SOFTMAX_SAMPLES, method="log_softmax",
           ref=lambda torch, x, dim: torch.nn.functional.log_softmax(x, dim)),
    OpInfo(("Softmax", "SoftmaxGrad"), F.softmin, [Sample(T((3, 5)), 1)], name="softmin",
           ref=lambda torch, x, dim: torch.nn.functional.softmin(x, dim)),
    # gelu: (32, 33) takes the float32 forward that keeps the derivative for GeluGrad
    OpInfo(("Gelu", "GeluGrad"), F.gelu, [Sample(T((3, 4))), Sample(T((0, 2))), Sample(T((32, 33)))],
           domain=(-4, 4), ref=lambda torch, x: torch.nn.functional.gelu(x)),
    OpInfo(("Gelu", "GeluGrad"), lambda x: F.gelu(x, approximate="tanh"), [Sample(T((3, 4))), Sample(T((2, 0)))],
           domain=(-4, 4), name="gelu_tanh", ref=lambda torch, x: torch.nn.functional.gelu(x, approximate="tanh")),
    # pointwise activations
    OpInfo("Silu", F.silu, [Sample(T((3, 4))), Sample(T((0,)))], domain=(-4, 4),
           ref=lambda torch, x: torch.nn.functional.silu(x)),
    OpInfo("Softplus", F.softplus, [Sample(T((3, 4))), Sample(T((3, 4)), 2.0, 1.0)], domain=(-3, 3),
           ref=lambda torch, x, *a: torch.nn.functional.softplus(x, *a)),
    OpInfo("Softplus", F.mish, [Sample(T((3, 4)))], domain=(-3, 3), name="mish",
           ref=lambda torch, x: torch.nn.functional.mish(x)),
    OpInfo("LeakyRelu", F.leaky_relu, [Sample(T((3, 4))), Sample(T((2, 3)), 0.2), Sample(T((0, 2)))],
           ref=lambda torch, x, *a: torch.nn.functional.leaky_relu(x, *a)),
    OpInfo("Elu", F.elu, [Sample(T((3, 4))), Sample(T((2, 3)), 0.5)],
           ref=lambda torch, x, *a: torch.nn.functional.elu(x, *a)),
    OpInfo("Elu", F.selu, [Sample(T((3, 4)))], name="selu", ref=lambda torch, x: torch.nn.functional.selu(x)),
    OpInfo("Elu", F.celu, [Sample(T((3, 4)), 0.5)], name="celu",
           ref=lambda torch, x, a: torch.nn.functional.celu(x, a)),
    OpInfo("Hardtanh", F.hardtanh, [Sample(T((3, 4))), Sample(T((2, 3)), -0.5, 1.5), Sample(T((0, 3)))],
           ref=lambda torch, x, *a: torch.nn.functional.hardtanh(x, *a)),
    OpInfo("Hardtanh", F.relu6, [Sample(T((3, 4)))], domain=(-3, 8), name="relu6",
           ref=lambda torch, x: torch.nn.functional.relu6(x)),
    OpInfo("Hardswish", F.hardswish, [Sample(T((4, 5))), Sample(T((0, 2)))], domain=(-5, 5),
           ref=lambda torch, x: torch.nn.functional.hardswish(x)),
    OpInfo("Hardsigmoid", F.hardsigmoid, [Sample(T((4, 5)))], domain=(-5, 5),
           ref=lambda torch, x: torch.nn.functional.hardsigmoid(x)),
    OpInfo("LogSigmoid", F.logsigmoid, [Sample(T((3, 4))), Sample(T((0,)))], domain=(-5, 5),
           ref=lambda torch, x: torch.nn.functional.logsigmoid(x)),
    # composites of ember ops
    OpInfo((), F.glu, [Sample(T((3, 4))), Sample(T((4, 3)), 0)], name="glu",
           ref=lambda torch, x, *a: torch.nn.functional.glu(x, *a)),
    OpInfo((), F.softsign, [Sample(T((3, 4)))], name="softsign", ref=lambda torch, x: torch.nn.functional.softsign(x)),
    OpInfo((), F.tanhshrink, [Sample(T((3, 4)))], name="tanhshrink",
           ref=lambda torch, x: torch.nn.functional.tanhshrink(x)),
    OpInfo((), F.threshold, [Sample(T((3, 4)), 0.5, -1.0)], name="threshold",
           ref=lambda torch, x, t, v: torch.nn.functional.threshold(x, t, v)),
    OpInfo((), F.prelu, [Sample(T((2, 3, 4)), T((3,))), Sample(T((3, 4)), T((1,)))], name="prelu",
           ref=lambda torch, x, w: torch.nn.functional.prelu(x, w)),
    OpInfo("Relu", F.relu, [Sample(T((3, 4)))], name="functional_relu",
           ref=lambda torch, x: torch.nn.functional.relu(x)),
    OpInfo("Relu", lambda x: F.relu(x * 1.0, inplace=True), [Sample(T((3, 4)))], name="functional_relu_inplace",
           ref=lambda torch, x: torch.nn.functional.relu(x * 1.0, inplace=True)),
    OpInfo("Sigmoid", F.sigmoid, [Sample(T((3, 4)))], name="functional_sigmoid",
           ref=lambda torch, x: torch.nn.functional.sigmoid(x)),
    OpInfo("Tanh", F.tanh, [Sample(T((3, 4)))], name="functional_tanh",
           ref=lambda torch, x: torch.nn.functional.tanh(x)),
    # dropout: random, so no comparison with PyTorch except where nothing is random (p=1, p=0, not training)
    OpInfo("Dropout", _seeded(lambda x: F.dropout(x, 0.5)), [Sample(T((4, 5))), Sample(T((3, 1)))]),
    OpInfo("Dropout", _seeded(lambda x: F.dropout2d(x, 0.5)), [Sample(T((2, 3, 2, 2)))], name="dropout2d"),
    OpInfo("Dropout", _seeded(lambda x: F.dropout1d(x, 0.3)), [Sample(T((3, 4)))], name="dropout1d"),
    OpInfo("Dropout", lambda x: F.dropout(x, 1.0), [Sample(T((3, 4)))], name="dropout_p1",
           ref=lambda torch, x: torch.nn.functional.dropout(x, 1.0)),
    OpInfo((), lambda x, p, training: F.dropout(x, p, training),
           [Sample(T((3, 4)), 0.0, True), Sample(T((3, 4)), 0.5, False), Sample(T((0, 3)), 0.5, True)],
           name="dropout_identity",
           ref=lambda torch, x, p, training: torch.nn.functional.dropout(x, p, training)),
    OpInfo((), _seeded(lambda x: F.alpha_dropout(x, 0.3, True)), [Sample(T((4, 5)))], name="alpha_dropout"),
    # embedding: random indices (repeated: add.at or the one-hot matmul), distinct ones (a plain scatter), none
    OpInfo(("Embedding", "EmbeddingBackward"), lambda w, idx: F.embedding(idx, w),
           [Sample(T((5, 3)), Idx((2, 4), 5)), Sample(T((4, 2)), Idx((30,), 4)), Sample(T((5, 2)), Idx((0,), 5))],
           ref=lambda torch, w, idx: torch.nn.functional.embedding(idx, w)),
    OpInfo(("Embedding", "EmbeddingBackward"), lambda w: F.embedding(ember.tensor([3, 0, 2]), w),
           [Sample(T((4, 3)))], name="embedding_distinct",
           ref=lambda torch, w: torch.nn.functional.embedding(torch.tensor([3, 0, 2]), w)),
    OpInfo("Embedding", lambda w, idx: F.embedding(idx, w, padding_idx=1, scale_grad_by_freq=True),
           [Sample(T((5, 3)), Idx((3, 4), 5))], name="embedding_padding_by_freq",
           grad=False,  # not the derivative (gradcheck fails, as in PyTorch): tests/test_activation.py checks it
           ref=lambda torch, w, idx: torch.nn.functional.embedding(idx, w, padding_idx=1, scale_grad_by_freq=True)),
    OpInfo("OneHot", lambda i: F.one_hot(i, 5), [Sample(Idx((3, 4), 5)), Sample(Idx((0,), 5))], grad=False,
           name="one_hot", ref=lambda torch, i: torch.nn.functional.one_hot(i, 5)),
    # distances (composites)
    OpInfo((), F.normalize, [Sample(T((3, 4))), Sample(T((2, 3, 4)), 1.0, 2)], name="normalize",
           ref=lambda torch, x, *a: torch.nn.functional.normalize(x, *a)),
    OpInfo((), F.cosine_similarity, [Sample(T((3, 4)), T((3, 4))), Sample(T((2, 1, 4)), T((3, 4)), -1)],
           name="cosine_similarity", ref=lambda torch, a, b, *r: torch.nn.functional.cosine_similarity(a, b, *r)),
    OpInfo((), F.pairwise_distance, [Sample(T((3, 4)), T((3, 4))), Sample(T((3, 4)), T((4,)), 1.0)],
           name="pairwise_distance", ref=lambda torch, a, b, *r: torch.nn.functional.pairwise_distance(a, b, *r)),
]
