"""Sliding windows: Tensor.unfold (the windows of one dimension, a strided view) and nn.functional's unfold and fold
(im2col and col2im, PyTorch's layout: (N, C * kh * kw, L) columns, channel-major then kernel rows and columns, L
windows in row-major order).

Each op's backward is the other's forward: the windows' gradients are added back where the windows were (windows
that overlap add up). F.unfold/F.fold share the window geometry of convolution and pooling (see _window).
"""
from ..autograd import Node
from ..autograd.graph import apply
from ._checks import check_tensor
from ._util import wrap_dim
from ._window import Window, check_input, crop, kernel_slices, ntuple, place, scatter_buffer
from .meta import TensorMeta
from .registry import export, register
from .shape import reshape

_C_ORDER = (0, 1, 2, 3)


# --- Tensor.unfold ----------------------------------------------------------------------------------------------

def _unfolded_shape(shape, dim, size, step):
    return shape[:dim] + ((shape[dim] - size) // step + 1,) + shape[dim + 1:] + (size,)


@register
class Unfold(Node):
    """A view of the windows of `size` elements, `step` apart, along dim: dim indexes the windows and a new last
    dimension of length size indexes their elements (windows that overlap share memory)."""

    saves = ()
    is_view = True

    def __init__(self, dim, size, step):
        self.dim, self.size, self.step = dim, size, step

    def infer(self, a):
        return TensorMeta(_unfolded_shape(tuple(a.shape), self.dim, self.size, self.step), a.dtype)

    def forward(self, xp, a):
        self.in_shape = a.shape
        d, st = self.dim, a.strides
        strides = st[:d] + (st[d] * self.step,) + st[d + 1:] + (st[d],)
        return xp.lib.stride_tricks.as_strided(a, _unfolded_shape(a.shape, d, self.size, self.step), strides)

    def backward(self, g):
        return (apply(UnfoldBackward(self.in_shape, self.dim, self.size, self.step), g),)


@register
class UnfoldBackward(Node):
    """The gradient of Unfold: each window's gradient added back where the window was, into zeros of the input's
    shape. Its adjoint is Unfold."""

    saves = ()

    def __init__(self, shape, dim, size, step):
        self.shape, self.dim, self.size, self.step = tuple(shape), dim, size, step

    def infer(self, g):
        return TensorMeta(self.shape, g.dtype)

    def forward(self, xp, g):
        out = xp.zeros(self.shape, dtype=g.dtype)
        d, size, step = self.dim, self.size, self.step
        n = g.shape[d]
        lead = (slice(None),) * d
        if size <= n:  # one pass per element of a window: the element j of every window
            for j in range(size):
                out[lead + (slice(j, j + (n - 1) * step + 1, step),)] += g[..., j]
        else:  # one pass per window
            for i in range(n):
                out[lead + (slice(i * step, i * step + size),)] += xp.moveaxis(g[lead + (i,)], -1, d)
        return out

    def backward(self, gg):
        return (apply(Unfold(self.dim, self.size, self.step), gg),)


@export(Unfold, ember=False, methods=("unfold",))
def unfold_method(self, dimension, size, step):
    """Return a view of the windows of ``size`` elements, ``step`` apart, along ``dimension``.

    ``dimension`` then indexes the windows and a new last dimension holds each window's elements; writes to the view
    reach ``self``.

    Args:
        dimension (int): the dimension to slide along.
        size (int): the window length, at most the dimension's size (else RuntimeError).
        step (int): the distance between the starts of consecutive windows, positive.

    Returns:
        Tensor: a view of ``self``'s shape with ``dimension`` of size (n - size) // step + 1 and a last dimension of
        ``size``.

    PyTorch:
        ``Tensor.unfold``; same semantics.

    Example:
        >>> ember.arange(1.0, 6.0).unfold(0, 2, 2)
        tensor([[1., 2.],
                [3., 4.]])
        >>> ember.arange(6).reshape(2, 3).unfold(1, 2, 1).shape
        ember.Size([2, 2, 2])
    """
    check_tensor(self, "unfold")
    shape = self._data.shape
    d = wrap_dim(dimension, len(shape), "unfold")
    n = shape[d] if shape else 1
    if size < 0 or size > n:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size} "
                           f"(input shape {tuple(shape)})")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    if not shape:
        return reshape(apply(Unfold(0, int(size), int(step)), reshape(self, 1)), int(size))
    return apply(Unfold(d, int(size), int(step)), self)


# --- F.unfold (im2col) / F.fold (col2im) ------------------------------------------------------------------------

def _windows(op, spatial, kernel_size, dilation, padding, stride):
    """The (height, width) Window geometry of the sliding blocks over an input of the given spatial size."""
    k = ntuple(kernel_size, 2, "kernel_size", op)
    d = ntuple(dilation, 2, "dilation", op)
    p = ntuple(padding, 2, "padding", op)
    s = ntuple(stride, 2, "stride", op)
    for name, v in (("kernel size", k), ("dilation", d), ("stride", s)):
        if min(v) <= 0:
            raise RuntimeError(f"{op}: {name} should be greater than zero, but got {name.replace(' ', '_')}={v}")
    if min(p) < 0:
        raise RuntimeError(f"{op}: padding should be non-negative, but got padding={p}")
    outs = tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, dd, pp, ss in zip(spatial, k, d, p, s))
    if min(outs) < 1:
        raise RuntimeError(f"{op}: Given input with spatial size {tuple(spatial)}, kernel_size={k}, dilation={d}, "
                           f"padding={p}, calculated shape of the array of sliding blocks as {outs}, but its "
                           f"components must be at least one.")
    return tuple(Window(kk, ss, dd, pp, n, o) for kk, ss, dd, pp, n, o in zip(k, s, d, p, spatial, outs))


class _Columns(Node):
    """Between an (N, C, H, W) image and its (N, C * kh * kw, L) columns, for the window geometry geo."""

    saves = ()

    def __init__(self, geo):
        self.geo = geo

    def _kernel(self):
        return self.geo[0].k * self.geo[1].k

    def _blocks(self):
        return self.geo[0].n_out * self.geo[1].n_out


@register
class Im2Col(_Columns):
    """The sliding blocks of a padded (N, C, H, W) input, as (N, C * kh * kw, L) columns (a copy)."""

    def infer(self, x):
        n, c = x.shape[:2]
        return TensorMeta((n, c * self._kernel(), self._blocks()), x.dtype)

    def forward(self, xp, x):
        (kh, sh, dh, _, _, oh), (kw, sw, dw, _, _, ow) = self.geo
        n, c = x.shape[:2]
        buf = place(xp, x, self.geo)
        s = buf.strides
        win = xp.lib.stride_tricks.as_strided(buf, (n, c, kh, kw, oh, ow),
                                              (s[0], s[1], dh * s[2], dw * s[3], sh * s[2], sw * s[3]))
        out = xp.empty((n, c * kh * kw, oh * ow), dtype=x.dtype)
        out.reshape(n, c, kh, kw, oh, ow)[...] = win
        return out

    def backward(self, g):
        return (apply(Col2Im(self.geo), g),)


@register
class Col2Im(_Columns):
    """(N, C * kh * kw, L) columns added back into an (N, C, H, W) image where their windows are (the padding
    dropped): the adjoint of Im2Col."""

    def infer(self, cols):
        n, ck = cols.shape[:2]
        return TensorMeta((n, ck // self._kernel(), self.geo[0].n_in, self.geo[1].n_in), cols.dtype)

    def forward(self, xp, cols):
        n, ck = cols.shape[:2]
        c = ck // self._kernel()
        oh, ow = self.geo[0].n_out, self.geo[1].n_out
        cols = cols.reshape(n, c, self._kernel(), oh, ow)
        buf = scatter_buffer(xp, (n, c), self.geo, cols.dtype, _C_ORDER)
        for k, sl in enumerate(kernel_slices(self.geo)):
            buf[sl] += cols[:, :, k]
        return xp.ascontiguousarray(crop(buf, self.geo))

    def backward(self, g):
        return (apply(Im2Col(self.geo), g),)


@export(Im2Col, ember=False, functional=True)
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract the sliding local blocks of a batch of images as columns (im2col).

    Block b's column holds its elements channel by channel, each channel's kH x kW window in row-major order; L is
    the number of blocks. A convolution is then a matrix product of the weight with these columns.

    Args:
        input (Tensor): a floating-point image batch, batched or not.
        kernel_size (int or tuple): the block size (kH, kW).
        dilation (int or tuple): the spacing between a block's elements. Default: 1.
        padding (int or tuple): implicit zero padding on each side. Default: 0.
        stride (int or tuple): the step between blocks. Default: 1.

    Returns:
        Tensor: the columns.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C * kH * kW, L) or (C * kH * kW, L), where L is the product over H and W of
          floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.

    PyTorch:
        ``torch.nn.functional.unfold``; same semantics.

    Example:
        >>> F.unfold(ember.arange(9.0).reshape(1, 1, 3, 3), 2)
        tensor([[[0., 1., 3., 4.],
                 [1., 2., 4., 5.],
                 [3., 4., 6., 7.],
                 [4., 5., 7., 8.]]])
        >>> F.unfold(ember.ones(2, 3, 4, 4), 2, stride=2).shape
        ember.Size([2, 12, 4])
    """
    check_input("unfold", input, 2)
    x = input if input._data.ndim == 4 else reshape(input, (1,) + tuple(input._data.shape))
    geo = _windows("unfold", x._data.shape[2:], kernel_size, dilation, padding, stride)
    out = apply(Im2Col(geo), x)
    return out if input._data.ndim == 4 else reshape(out, tuple(out._data.shape[1:]))


@export(Col2Im, ember=False, functional=True)
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding local blocks, given as columns, into a batch of images (col2im), summing overlaps.

    The adjoint of ``unfold``: ``fold(unfold(x))`` multiplies each pixel of x by the number of blocks that cover it.

    Args:
        input (Tensor): the floating-point columns, batched or not.
        output_size (int or tuple): the image size (H, W).
        kernel_size (int or tuple): the block size (kH, kW); C * kH * kW must divide the columns' length.
        dilation (int or tuple): the spacing between a block's elements. Default: 1.
        padding (int or tuple): implicit zero padding on each side of the image (dropped). Default: 0.
        stride (int or tuple): the step between blocks. Default: 1.

    Returns:
        Tensor: the images.

    Shape:
        - Input: (N, C * kH * kW, L) or (C * kH * kW, L), L the number of blocks that fit ``output_size``
          (else RuntimeError).
        - Output: (N, C, H, W) or (C, H, W).

    PyTorch:
        ``torch.nn.functional.fold``; same semantics.

    Example:
        >>> cols = F.unfold(ember.arange(9.0).reshape(1, 1, 3, 3), 2)
        >>> F.fold(cols, (3, 3), 2)
        tensor([[[[ 0.,  2.,  2.],
                  [ 6., 16., 10.],
                  [ 6., 14.,  8.]]]])
    """
    op = "fold"
    check_tensor(input, op)
    shape = tuple(input._data.shape)
    if len(shape) not in (2, 3):
        raise RuntimeError(f"{op}: expected a 2-D (unbatched) or 3-D (batched) input of shape (N, C * kh * kw, L), "
                           f"got shape {shape}")
    if input._data.dtype.kind not in "fV":
        raise RuntimeError(f"{op}: expected a floating-point input, got {input.dtype}")
    size = ntuple(output_size, 2, "output_size", op)
    geo = _windows(op, size, kernel_size, dilation, padding, stride)
    kernel = geo[0].k * geo[1].k
    ck, blocks = shape[-2:]
    if ck % kernel:
        raise RuntimeError(f"{op}: Expected size of input's dimension {len(shape) - 2} to be divisible by the product "
                           f"of kernel_size, but got input.size({len(shape) - 2})={ck} and kernel_size="
                           f"{(geo[0].k, geo[1].k)} (input shape {shape})")
    if blocks != geo[0].n_out * geo[1].n_out:
        raise RuntimeError(f"{op}: Given output_size={size}, kernel_size={(geo[0].k, geo[1].k)}, dilation="
                           f"{(geo[0].d, geo[1].d)}, padding={(geo[0].lo, geo[1].lo)}, stride={(geo[0].s, geo[1].s)}, "
                           f"expected size of input's dimension {len(shape) - 1} to match the calculated number of "
                           f"sliding blocks {geo[0].n_out} * {geo[1].n_out} = {geo[0].n_out * geo[1].n_out}, but got "
                           f"input.size({len(shape) - 1})={blocks}.")
    x = input if len(shape) == 3 else reshape(input, (1,) + shape)
    out = apply(Col2Im(geo), x)
    return out if len(shape) == 3 else reshape(out, tuple(out._data.shape[1:]))

