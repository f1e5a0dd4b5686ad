"""Convolution, pooling, resampling and padding: conv1d/2d, conv_transpose1d/2d, max/avg pooling, adaptive pooling,
interpolate, pad."""
import ember.nn.functional as F

from . import OpInfo, Sample, T


def _f(name):
    """The PyTorch reference torch.nn.functional.<name>."""
    return lambda torch, *a, **k: getattr(torch.nn.functional, name)(*a, **k)


_CONV = ("Conv", "ConvTranspose", "ConvWeight")  # each one's gradients (and theirs) are the other two
_MAX = ("MaxPool", "MaxPoolScatter", "MaxPoolGather")
_AVG = ("AvgPool", "AvgPoolScatter")
_RESAMPLE = ("Resample", "ResampleT")

ENTRIES = [
    OpInfo(_CONV, F.conv2d, [
        Sample(T((2, 3, 5, 6)), T((4, 3, 3, 3)), T((4,))),
        Sample(T((2, 4, 7, 6)), T((6, 2, 3, 2)), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
        Sample(T((1, 2, 5, 5)), T((3, 2, 2, 3)), T((3,)), padding="same", dilation=2),
        Sample(T((0, 3, 4, 4)), T((2, 3, 3, 3)), T((2,)), padding=1),
    ], ref=_f("conv2d"), name="conv2d"),
    OpInfo(_CONV, F.conv1d, [
        Sample(T((2, 4, 7)), T((6, 2, 3)), T((6,)), stride=2, padding=1, groups=2),
        Sample(T((3, 8)), T((2, 3, 2)), dilation=3),
    ], ref=_f("conv1d"), name="conv1d"),
    OpInfo(_CONV, F.conv_transpose2d, [
        Sample(T((2, 4, 3, 3)), T((4, 3, 3, 3)), T((3,)), stride=2, padding=1, output_padding=1),
        Sample(T((1, 4, 3, 4)), T((4, 2, 2, 3)), stride=(3, 2), output_padding=(2, 0), groups=2, dilation=(1, 2)),
        Sample(T((2, 3, 4, 3)), T((3, 2, 3, 3)), T((2,)), padding=1),  # stride 1: a convolution, flipped kernel
        Sample(T((0, 2, 3, 3)), T((2, 3, 3, 3)), stride=2),
    ], ref=_f("conv_transpose2d"), name="conv_transpose2d"),
    OpInfo(_CONV, F.conv_transpose1d, [
        Sample(T((2, 4, 5)), T((4, 3, 3)), T((3,)), stride=2, output_padding=1),
        Sample(T((4, 3)), T((4, 1, 2)), groups=2, dilation=2),
    ], ref=_f("conv_transpose1d"), name="conv_transpose1d"),

    OpInfo(_MAX, F.max_pool2d, [
        Sample(T((2, 3, 6, 6)), 2),
        Sample(T((1, 2, 7, 6)), (3, 2), stride=(2, 1), padding=1, ceil_mode=True),
        Sample(T((2, 2, 7, 7)), 2, stride=1, dilation=2),
        Sample(T((0, 2, 4, 4)), 2),
    ], ref=_f("max_pool2d"), name="max_pool2d"),
    OpInfo(_MAX, F.max_pool2d, [
        Sample(T((2, 2, 5, 7)), 3, stride=2, padding=1, ceil_mode=True, return_indices=True),
        Sample(T((2, 6, 5)), (2, 3), stride=(1, 2), dilation=(2, 1), return_indices=True),
    ], ref=_f("max_pool2d"), name="max_pool2d_indices"),
    OpInfo(_MAX, F.max_pool1d, [
        Sample(T((2, 3, 9)), 3, stride=2, padding=1),
        Sample(T((2, 3, 10)), 3, stride=2, padding=1, dilation=2, ceil_mode=True, return_indices=True),
        Sample(T((3, 8)), 2, return_indices=True),
    ], ref=_f("max_pool1d"), name="max_pool1d"),

    OpInfo(_AVG, F.avg_pool2d, [
        Sample(T((2, 3, 6, 6)), 2),
        Sample(T((1, 2, 7, 6)), 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        Sample(T((2, 2, 5, 5)), 3, stride=1, padding=1, divisor_override=4),
        Sample(T((0, 2, 4, 4)), (2, 1)),
    ], ref=_f("avg_pool2d"), name="avg_pool2d"),
    OpInfo(_AVG, F.avg_pool1d, [
        Sample(T((2, 3, 9)), 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        Sample(T((3, 8)), 2),
    ], ref=_f("avg_pool1d"), name="avg_pool1d"),

    OpInfo(_RESAMPLE, F.adaptive_avg_pool2d, [
        Sample(T((2, 3, 7, 5)), (3, 2)),
        Sample(T((2, 3, 6, 6)), 1),  # global average pooling
        Sample(T((1, 2, 4, 5)), (None, 3)),
    ], ref=_f("adaptive_avg_pool2d"), name="adaptive_avg_pool2d"),
    OpInfo(_RESAMPLE, F.adaptive_avg_pool1d, [Sample(T((2, 3, 7)), 3), Sample(T((3, 8)), 3)],
           ref=_f("adaptive_avg_pool1d"), name="adaptive_avg_pool1d"),
    OpInfo("ConstantPad", F.adaptive_avg_pool1d, [Sample(T((2, 3, 5)), 5)],  # windows of one element: a copy
           ref=_f("adaptive_avg_pool1d"), name="adaptive_avg_pool1d_copy"),
    OpInfo(_MAX + _RESAMPLE, F.adaptive_max_pool2d, [
        Sample(T((2, 3, 7, 5)), (3, 2), return_indices=True),  # uneven windows: gathered onto a grid, max pooled
        Sample(T((2, 5, 6)), (2, 4)),
        Sample(T((0, 2, 5, 5)), 2),
    ], ref=_f("adaptive_max_pool2d"), name="adaptive_max_pool2d"),
    OpInfo(_MAX, F.adaptive_max_pool2d, [Sample(T((2, 3, 6, 4)), (3, 2), return_indices=True)],  # a max pool
           ref=_f("adaptive_max_pool2d"), name="adaptive_max_pool2d_even"),
    OpInfo(_MAX + _RESAMPLE, F.adaptive_max_pool1d, [
        Sample(T((2, 3, 7)), 3, return_indices=True),
        Sample(T((3, 7)), 4, return_indices=True),
    ], ref=_f("adaptive_max_pool1d"), name="adaptive_max_pool1d"),

    OpInfo(_RESAMPLE, F.interpolate, [
        Sample(T((2, 3, 4, 5)), scale_factor=2),
        Sample(T((1, 2, 5, 4)), size=(3, 7)),
        Sample(T((2, 3, 5)), size=8, mode="nearest-exact"),
        Sample(T((1, 2, 4, 5)), size=(2, 3), mode="area"),
    ], ref=_f("interpolate"), name="interpolate_nearest"),
    OpInfo(_RESAMPLE, F.interpolate, [
        Sample(T((2, 3, 4, 5)), size=(7, 3), mode="bilinear", align_corners=True),
        Sample(T((1, 2, 4, 5)), scale_factor=1.5, mode="bilinear"),
        Sample(T((2, 3, 5)), size=9, mode="linear", align_corners=False),
        Sample(T((0, 2, 3, 3)), size=(4, 5), mode="bilinear"),
    ], ref=_f("interpolate"), name="interpolate_linear"),
    OpInfo(_RESAMPLE, F.interpolate, [
        Sample(T((2, 3, 4, 5)), size=(7, 3), mode="bicubic"),
        Sample(T((1, 2, 5, 4)), scale_factor=1.5, mode="bicubic", align_corners=True),
        Sample(T((1, 2, 6, 7)), size=(2, 3), mode="bilinear", antialias=True),
        Sample(T((2, 1, 7, 6)), size=(3, 8), mode="bicubic", antialias=True),
    ], ref=_f("interpolate"), name="interpolate_cubic_antialias"),

    OpInfo("ConstantPad", F.pad, [
        Sample(T((2, 3, 4)), (1, 2), value=0.5),
        Sample(T((2, 3, 4, 5)), (1, -1, 2, 0)),  # a negative amount crops
        Sample(T((0, 3)), (2, 1)),
    ], ref=_f("pad"), name="pad_constant"),
    OpInfo(_RESAMPLE, F.pad, [
        Sample(T((2, 3, 5)), (2, 1), mode="reflect"),
        Sample(T((1, 2, 4, 5)), (1, 2, 3, 0), mode="reflect"),
    ], ref=_f("pad"), name="pad_reflect"),
    OpInfo(_RESAMPLE, F.pad, [
        Sample(T((2, 3, 4, 5)), (2, 1, 1, 3), mode="replicate"),
        Sample(T((2, 3, 4)), (0, 3), mode="replicate"),
    ], ref=_f("pad"), name="pad_replicate"),
    OpInfo(_RESAMPLE, F.pad, [
        Sample(T((2, 3, 4, 5)), (2, 1, 1, 3), mode="circular"),
        Sample(T((2, 3, 4)), (4, 2), mode="circular"),
    ], ref=_f("pad"), name="pad_circular"),
]
