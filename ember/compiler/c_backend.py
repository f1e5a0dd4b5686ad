"""The "c" backend: the optimized graph with its elementwise chains fused (``passes.fuse``, after Linear's bias
is split from its GEMM to join the activation after it: ``passes.epilogue``), each fused kernel
rendered to C (``render_c``), the module compiled and cached (``cache``) and its functions bound to the fused ops;
the updates of SGD, Adam and AdamW, the cross-entropy loss, max pooling and the window copies of convolutions run
by hand-written C functions too (``c_optim``, ``c_loss``, ``c_pool``, ``c_conv``), and runs of ops C can do one
after another become one generated C function each (``c_graph``: a segment, which calls NumPy's BLAS itself).
Everything else (matmul and convolution through NumPy's BLAS, reductions, the ops without a compile rule) runs
as in the numpy backend, by the same interpreter.

The fused graph runs whenever the program runs on arrays (inference, no_grad, a whole training step); when
autograd must record the ops (a compiled forward whose backward runs outside), the unfused graph runs instead.
Without a C compiler, or where NumPy arrays cannot be read from C as expected, the graph runs on the numpy
backend, after one warning per process.
"""
import contextlib
import ctypes
import warnings

import numpy as np

from . import (c_attention, c_conv, c_embedding, c_gemm, c_graph, c_loss, c_nhwc, c_norm, c_optim, c_pool, c_rnn, cache,
               render_c)
from ..ops.conv import _ConvOp
from .interpret import Program
from .c_nhwc import as_channels_last, is_channels_last
from .kernel import FusedKernel
from .lower import FLOAT32_ONLY, LazyTable, has_float64
from .passes import log_graph
from .passes.epilogue import split_linear_bias
from .passes.fuse import fuse_elementwise
from .render_c import kernel_dims, render_module

__all__ = ["program", "data_offset", "runtime_source", "convolutions_in_c"]

_warned = set()
_offset = []


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, stacklevel=6)  # the line calling the compiled function


def data_offset():
    """Where a NumPy array object holds its data pointer (bytes from the object's address), checked on two
    arrays; None when it cannot be found (the kernels could not read their arguments)."""
    if not _offset:
        _offset.append(render_c.field_offset((np.empty(3), np.empty((2, 2), np.float32)[:, 1]),
                                             lambda a: a.ctypes.data))
    return _offset[0]


@contextlib.contextmanager
def convolutions_in_c():
    """Within it (a trace for the c backend), eager convolutions run on the C that the graph's will run on
    (``c_conv.WindowOps``: direct and channels-last convolutions, im2col's copies) where the cache holds those
    libraries already: a warm start's trace is an eager step, and resnet_small's first in a process takes 77-80
    ms so against 136-150 (steady: 46-54 against 91-103). Nothing is compiled for it: a cold start compiles the
    libraries with the graph's others, all at once."""
    ops = _cached_window_ops()
    if ops is None:
        yield
        return
    before = _ConvOp.window_ops
    _ConvOp.window_ops = ops
    try:
        yield
    finally:
        _ConvOp.window_ops = before


_window_ops = {}


def _cached_window_ops():
    """c_conv's window ops on the cached libraries of c_conv and c_nhwc (built for float32 only, as a float32
    graph builds them, else for both dtypes), or None where the cache lacks them (or there is no compiler)."""
    compiler = cache.find_compiler()
    offset = data_offset() if compiler is not None else None
    if offset is None:
        return None
    where = (tuple(compiler), cache.cache_dir())
    if where not in _window_ops:
        for float64 in (False, True):
            sources = [_header(offset, float64) + module.BODY for module in (c_conv, c_nhwc)]
            if all(cache.cached(source, compiler) for source in sources):
                _window_ops[where] = c_conv.WindowOps(*(lambda s=s: _load(s, compiler) for s in sources))
                break
        else:
            return None
    return _window_ops[where]


def _header(offset, float64):
    """What a hand-written module's C starts with: render_c's header, and FLOAT32_ONLY where no float64 value
    needs the module's float64 functions (the source, and so the library's cache key, a graph builds)."""
    return render_c.header(offset) + ("" if float64 else FLOAT32_ONLY)


def runtime_source(offset):
    """All the hand-written C functions (optimizer updates, cross-entropy, max pooling, convolutions' window
    copies, layer and batch norm, the LSTM cell, attention, an embedding's gradient) in one module (a graph builds
    the library of each module it needs)."""
    modules = (c_optim, c_loss, c_pool, c_conv, c_nhwc, c_norm, c_rnn, c_attention, c_embedding)
    return render_c.header(offset) + "".join(module.BODY for module in modules)


class _Launcher:
    """Runs one compiled kernel on arrays: C-contiguous aligned inputs (copied when not), new outputs, ember's
    threads for a kernel of PARALLEL_MIN elements or more. A kernel without broadcasting (each input of the
    output's shape, or one value) of (N, C, H, W) arrays runs on channels-last memory where an input is
    channels-last (see passes.layout): the others copied so, the outputs channels-last too."""

    __slots__ = ("fn", "dims", "dims_ptr", "shape", "dtypes", "size", "elementwise")

    def __init__(self, fn, kernel):
        n_args = len(kernel.input_dtypes) + len(kernel.outputs)
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.py_object] * n_args
        fn.restype = None
        self.fn = fn
        self.dims = np.array(kernel_dims(kernel), dtype=np.int64)
        self.dims_ptr = self.dims.ctypes.data
        self.shape, self.dtypes = kernel.shape, kernel.output_dtypes
        self.size = int(np.prod(kernel.shape))
        self.elementwise = kernel.flat and len(kernel.shape) == 4

    def __call__(self, arrays, into=None):
        """The outputs for the input arrays; into: for each output, an array to write it over (one of the inputs,
        C-contiguous, of the output's shape and dtype) or None for a new one."""
        if self.elementwise and any(is_channels_last(a) for a in arrays):
            return self._channels_last(arrays)
        ins = [a if a.flags.carray else np.array(a, order="C") for a in arrays]  # a fresh, aligned copy
        if into is None:
            outs = [np.empty(self.shape, d) for d in self.dtypes]
        else:
            outs = [np.empty(self.shape, d) if a is None else a for a, d in zip(into, self.dtypes)]
        self.fn(self.dims_ptr, self._threads(), *ins, *outs)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _threads(self):
        return render_c.threads_for(self.size)

    def _channels_last(self, arrays):
        """The kernel over channels-last memory: the elements in another order, each the same."""
        ins = []
        for a in arrays:
            if a.shape == self.shape:
                a = as_channels_last(a)
            elif not a.flags.carray:
                a = np.array(a, order="C")
            ins.append(a)
        n, c, h, w = self.shape
        outs = [np.empty((n, h, w, c), d).transpose(0, 3, 1, 2) for d in self.dtypes]
        self.fn(self.dims_ptr, self._threads(), *ins, *outs)
        return outs[0] if len(outs) == 1 else tuple(outs)


_RNN = (c_rnn.CLSTMLayer, c_rnn.CLSTMLayerGrad)  # (their C calls ember's GEMM)


def _libraries_outside_segments(graph, sources, offset, runs):
    """(the sources of the libraries that the ops left outside C segments (``runs``: c_graph.segment_runs) will
    load: the hand-written modules of their nodes (``sources``: {module: source}), the module of their fused
    kernels, and ember's GEMM where a segment's product or an LSTM layer calls it; the kernels' module as
    (kernels, source, function names), or None)."""
    inside = {i for run in runs for i in run}
    outside = [op.node for i, op in enumerate(graph.ops) if i not in inside]
    needed = [sources[m] for node in outside if getattr(node, "window_ops", None) is not None for m in (c_conv, c_nhwc)]
    if any(isinstance(node, _RNN) for node in outside) or any(c_graph.calls_gemm(graph.ops[i]) for i in inside):
        needed.append(c_gemm.LIBRARY)
    needed += [sources[m] for m in sources for node in outside if type(node).__module__ == m.__name__]
    kernels = [node.kernel for node in outside if isinstance(node, FusedKernel)]
    if not kernels:
        return needed, None
    rendered = (kernels, *render_module(kernels, offset))
    return needed + [rendered[1]], rendered


def _load(source, compiler):
    """The library of source (cache.load), given the address of ember's GEMM where it calls it (c_gemm.CALLS)."""
    lib = cache.load(source, compiler)
    if "em_set_gemm" in source:
        lib.em_set_gemm(ctypes.c_void_p(c_gemm.address(compiler)))
    return lib


def program(graph, name="graph", phases=False):
    """(Program, the graph it runs on arrays): graph fused and compiled, or graph itself on the numpy backend
    (see the module docstring). ``phases``: a joint graph, whose forward and backward ops stay apart (no kernel
    or segment holds both)."""
    compiler = cache.find_compiler()
    if compiler is None:
        _warn_once("compiler", "ember.compile: no C compiler found (set CC, or install cc or gcc): the 'c' "
                               "backend runs graphs with the 'numpy' backend")
        return Program(graph), graph
    offset = data_offset()
    if offset is None:
        _warn_once("offset", "ember.compile: NumPy arrays cannot be read from C on this Python: the 'c' backend "
                             "runs graphs with the 'numpy' backend")
        return Program(graph), graph
    fused = fuse_elementwise(split_linear_bias(graph), phases=phases)
    lowerings = ((c_optim, c_optim.lower_updates), (c_loss, c_loss.lower_losses), (c_pool, c_pool.lower_pools),
                 (c_conv, c_conv.lower_convolutions), (c_norm, c_norm.lower_norms), (c_rnn, c_rnn.lower_rnns),
                 (c_attention, c_attention.lower_attention), (c_embedding, c_embedding.lower_embeddings))
    # (the channels-last convolutions' C is a library of its own, c_conv's convolutions load it beside c_conv's)
    header = _header(offset, has_float64(graph))
    sources = {module: header + module.BODY for module in [m for m, _ in lowerings] + [c_nhwc]}
    loads = {module: (lambda source=source: _load(source, compiler)) for module, source in sources.items()}
    try:
        for module, lower in lowerings:
            fused = lower(fused, loads[module], loads[c_nhwc]) if module is c_conv else lower(fused, loads[module])
        fused = c_conv.lower_layouts(c_norm.fold_relu_grads(c_norm.fold_activations(fused)))
        log_graph(fused, f"{name} (after fuse_elementwise and the lowerings to hand-written C)")
        # the libraries the ops outside segments need compile on threads meanwhile the segments' own C compiles
        own = c_graph.owns_threads(fused, phases)
        runs = c_graph.segment_runs(fused, phases, own)
        needed, rendered = _libraries_outside_segments(fused, sources, offset, runs)
        wait = cache.build_all(needed, compiler)
        try:
            fused = c_graph.lower_segments(fused, offset, lambda source: _load(source, compiler), phases, own, runs)
        finally:
            wait()
        log_graph(fused, f"{name} (after lower_segments)")
        for op in fused.ops:  # the hand-written C of the ops outside segments: loaded now, not at their first run
            if isinstance(getattr(op.node, "lib", None), LazyTable):
                op.node.lib.built()
            if getattr(op.node, "window_ops", None) is not None:
                op.node.window_ops.built()
        # the kernels outside segments (those inside run in their segment's C; one by one, by NumPy)
        ops = [op for op in fused.ops if isinstance(op.node, FusedKernel)]
        if ops:
            kernels = [op.node.kernel for op in ops]
            same = rendered is not None and len(rendered[0]) == len(kernels) and all(
                a is b for a, b in zip(rendered[0], kernels))
            source, names = rendered[1:] if same else render_module(kernels, offset)
            lib = cache.load(source, compiler)
            for op, fn_name in zip(ops, names):
                op.node.launch = _Launcher(getattr(lib, fn_name), op.node.kernel)
    except (cache.CompileError, OSError) as e:
        _warn_once(str(e), f"ember.compile: {e}\nthe graph of {name} runs with the 'numpy' backend")
        return Program(graph), graph
    if all(a is b for a, b in zip(fused.ops, graph.ops)) and len(fused.ops) == len(graph.ops):
        return Program(graph), graph  # nothing for C in it
    return Program(graph, array_graph=fused, blas_on_one_thread=own), fused
