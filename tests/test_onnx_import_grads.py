"""Gradients through ONNX ops that ember composes from its own ops (convolution and pooling of any rank,
resampling, attention, recurrent cells, losses, indexing) match central finite differences (float64)."""
import numpy as np
import pytest

import ember

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

D = TensorProto.DOUBLE
I64 = TensorProto.INT64


def _module(op, inputs, n_out=1, opset=17, consts=(), **attrs):
    """A one-node model: ``inputs`` are (name, shape) float64 graph inputs, ``consts`` (name, array) initializers
    that are not differentiated (int64 indices, shapes)."""
    names = [n for n, _ in inputs] + [n for n, _ in consts]
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], **attrs)
    graph = helper.make_graph(
        [node], op, [helper.make_tensor_value_info(n, D, list(s)) for n, s in inputs],
        [helper.make_tensor_value_info(f"y{i}", D, None) for i in range(n_out)],
        [onnx.numpy_helper.from_array(np.asarray(a), n) for n, a in consts])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m = ember.onnx.load(model)
    for p in m.parameters():  # constants only: the inputs are what gradcheck differentiates
        p.requires_grad_(False)
    return m


def _check(module, shapes, first_only=False, seed=0):
    rng = np.random.default_rng(seed)
    xs = [ember.tensor(rng.standard_normal(s), dtype=ember.float64, requires_grad=True) for s in shapes]

    def fn(*args):
        out = module(*args)
        return out[0] if first_only and isinstance(out, tuple) else out
    assert ember.autograd.gradcheck(fn, xs)


CASES = {
    "conv3d_strided_dilated": (lambda: _module("Conv", [("x", (1, 2, 5, 5, 4)), ("w", (2, 1, 2, 3, 2))], group=2,
                                               strides=[2, 1, 1], dilations=[1, 1, 2], pads=[1, 0, 1, 0, 1, 1]),
                               [(1, 2, 5, 5, 4), (2, 1, 2, 3, 2)]),
    "conv1d_same_upper": (lambda: _module("Conv", [("x", (2, 2, 7)), ("w", (3, 2, 3))], auto_pad="SAME_UPPER",
                                          strides=[2]), [(2, 2, 7), (3, 2, 3)]),
    "conv_transpose_2d": (lambda: _module("ConvTranspose", [("x", (1, 2, 3, 3)), ("w", (2, 3, 3, 2))],
                                          strides=[2, 3], pads=[1, 0, 0, 1], output_padding=[1, 1]),
                          [(1, 2, 3, 3), (2, 3, 3, 2)]),
    "average_pool_ceil_pads": (lambda: _module("AveragePool", [("x", (1, 2, 5, 6))], kernel_shape=[3, 2],
                                               strides=[2, 2], pads=[1, 1, 1, 0], ceil_mode=1),
                               [(1, 2, 5, 6)]),
    "max_pool_3d": (lambda: _module("MaxPool", [("x", (1, 1, 4, 4, 4))], kernel_shape=[2, 2, 2], strides=[2, 1, 2]),
                    [(1, 1, 4, 4, 4)]),
    "resize_cubic_axes": (lambda: _module("Resize", [("x", (1, 2, 3, 4))], opset=19, mode="cubic",
                                          consts=[("roi", np.zeros(0)), ("scales", np.array([1.7, 0.8]))],
                                          axes=[2, 3]), [(1, 2, 3, 4)]),
    "grid_sample_linear_reflection": (lambda: _module("GridSample", [("x", (1, 2, 3, 4))], opset=20,
                                                      padding_mode="reflection",
                                                      consts=[("grid", np.linspace(-1.3, 1.2, 24).reshape(1, 3, 4, 2))]),
                                      [(1, 2, 3, 4)]),
    "attention_gqa_causal": (lambda: _module("Attention", [("q", (1, 4, 3, 2)), ("k", (1, 2, 5, 2)),
                                                           ("v", (1, 2, 5, 3))], opset=23, is_causal=1,
                                             softcap=2.0),
                             [(1, 4, 3, 2), (1, 2, 5, 2), (1, 2, 5, 3)]),
    "lstm_bidirectional_peepholes": (lambda: _module("LSTM", [("x", (3, 2, 2)), ("w", (2, 12, 2)), ("r", (2, 12, 3)),
                                                              ("b", (2, 24))], n_out=1, hidden_size=3,
                                                     direction="bidirectional"),
                                     [(3, 2, 2), (2, 12, 2), (2, 12, 3), (2, 24)]),
    "gru_linear_before_reset": (lambda: _module("GRU", [("x", (2, 2, 3)), ("w", (1, 9, 3)), ("r", (1, 9, 3))],
                                                hidden_size=3, linear_before_reset=1),
                                [(2, 2, 3), (1, 9, 3), (1, 9, 3)]),
    "layer_norm_axis1": (lambda: _module("LayerNormalization", [("x", (2, 3, 4)), ("s", (3, 4)), ("b", (3, 4))],
                                         axis=1), [(2, 3, 4), (3, 4), (3, 4)], True),
    "softmax_cross_entropy_weighted": (lambda: _module("SoftmaxCrossEntropyLoss", [("x", (3, 4, 2))],
                                                       consts=[("t", np.array([[0, 3], [2, -1], [1, 1]])),
                                                               ("w", np.array([0.5, 1.0, 2.0, 1.5]))],
                                                       ignore_index=-1), [(3, 4, 2)], True),
    "pad_reflect": (lambda: _module("Pad", [("x", (3, 4))], mode="reflect",
                                                            consts=[("pads", np.array([1, 2, 2, 1]))]),
                                            [(3, 4)]),
    "slice_negative_step": (lambda: _module("Slice", [("x", (5, 6))],
                                            consts=[("s", np.array([4, -1])), ("e", np.array([0, -7])),
                                                    ("a", np.array([0, 1])), ("st", np.array([-2, -2]))]),
                            [(5, 6)]),
    "gather_nd_batch": (lambda: _module("GatherND", [("x", (2, 3, 4))], batch_dims=1,
                                        consts=[("i", np.array([[[1], [2]], [[0], [0]]]))]), [(2, 3, 4)]),
    "cumsum_exclusive_reverse": (lambda: _module("CumSum", [("x", (3, 4))], exclusive=1, reverse=1,
                                                 consts=[("axis", np.array(1))]), [(3, 4)]),
    "dft_complex_inverse": (lambda: _module("DFT", [("x", (2, 5, 2))], opset=20, inverse=1,
                                            consts=[("n", np.array(6)), ("axis", np.array(1))]), [(2, 5, 2)]),
    "linear_attention_gqa": (lambda: _module("LinearAttention", [("q", (1, 3, 4)), ("k", (1, 3, 2)),
                                                                 ("v", (1, 3, 2))], opset=27,
                                             q_num_heads=2, kv_num_heads=1, update_rule="linear"),
                             [(1, 3, 4), (1, 3, 2), (1, 3, 2)]),
    "det_batched": (lambda: _module("Det", [("x", (2, 3, 3))]), [(2, 3, 3)]),
    "col2im": (lambda: _module("Col2Im", [("x", (1, 4, 4))], opset=18, strides=[1, 2],
                               consts=[("image", np.array([3, 4])), ("block", np.array([2, 2]))]), [(1, 4, 4)]),
    "roi_align_max": (lambda: _module("RoiAlign", [("x", (1, 2, 5, 5))], opset=16, mode="max", output_height=2,
                                      output_width=2, sampling_ratio=2,
                                      consts=[("rois", np.array([[0.5, 0.5, 3.2, 4.1], [1.0, 0.0, 4.0, 2.0]])),
                                              ("batch", np.array([0, 0]))]), [(1, 2, 5, 5)]),
    "deform_conv_masked": (lambda: _module("DeformConv", [("x", (1, 2, 4, 4)), ("w", (2, 2, 2, 2))], opset=19,
                                           consts=[("offset", np.linspace(-0.6, 0.7, 72).reshape(1, 8, 3, 3))]),
                           [(1, 2, 4, 4), (2, 2, 2, 2)]),
    "affine_grid": (lambda: _module("AffineGrid", [("theta", (2, 2, 3))], opset=20,
                                    consts=[("size", np.array([2, 1, 3, 4]))]), [(2, 2, 3)]),
    "stft_windowed": (lambda: _module("STFT", [("x", (1, 9, 1))],
                                      consts=[("step", np.array(2)), ("window", np.hanning(4))]), [(1, 9, 1)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_through_composed_onnx_ops(name):
    build, shapes, *first = CASES[name]
    _check(build(), shapes, first_only=bool(first and first[0]))
