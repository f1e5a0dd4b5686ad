"""ember's own float32 GEMM (ember.compiler.c_gemm) against NumPy in float64: shapes across its tiles and blocks,
a and b as they are or transposed, accumulating into c, a bias, strided matrices, and the bits of a block of rows or
columns computed apart; then in a compiled Linear, as segments run it."""
import ctypes

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.compiler import blas, c_backend, c_gemm, cache, render_c
from helpers import assert_compiles_strictly

COMPILER = cache.find_compiler()
needs_cc = pytest.mark.skipif(COMPILER is None, reason="no C compiler")

_WRAPPER = r"""
/* the GEMM for the tests: 1 when it ran, 0 without its buffer, -1 where the module has no AVX-512 */
int em_test_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                 int64_t ldb, int add, float *c, int64_t ldc, const float *bias, int relu, const float *gate,
                 const em_gemm_after *after)
{
#if defined(__AVX512F__)
    return em_sgemm_own(ta, tb, m, n, k, a, lda, b, ldb, add, c, ldc, bias, relu, gate, after);
#else
    (void)ta; (void)tb; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)add; (void)c;
    (void)ldc; (void)bias; (void)relu; (void)gate; (void)after;
    return -1;
#endif
}
"""


@pytest.fixture(autouse=True, scope="module")
def _cache_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMBER_CACHE_DIR", str(tmp_path_factory.mktemp("ember_cache")))
        yield


@pytest.fixture(scope="module")
def gemm():
    """c = op(a) @ op(b) (+ c) (+ bias) by em_sgemm_own on NumPy arrays (views with strided rows too): a is given
    as op(a) is stored, (k, m) where a_transposed."""
    if COMPILER is None:
        pytest.skip("no C compiler")
    source = "\n".join([render_c.header(c_backend.data_offset()), "#include <string.h>", c_gemm.BODY, _WRAPPER])
    fn = cache.load(source, COMPILER).em_test_gemm
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    fn.argtypes = [ctypes.c_int, ctypes.c_int, i64, i64, i64, p, i64, p, i64, ctypes.c_int, p, i64, p, ctypes.c_int,
                   p, p]
    fn.restype = ctypes.c_int

    def run(a, b, c, transposed=False, add=False, bias=None, a_transposed=False, after=None, relu=False,
            gate=None):
        for x in (a, b, c):
            assert x.dtype == np.float32 and x.strides[1] == 4
        k, m = a.shape if a_transposed else a.shape[::-1]
        n = b.shape[0] if transposed else b.shape[1]
        ran = fn(a_transposed, transposed, m, n, k, a.ctypes.data, a.strides[0] // 4, b.ctypes.data,
                 b.strides[0] // 4, add, c.ctypes.data, c.strides[0] // 4, None if bias is None else bias.ctypes.data,
                 relu, None if gate is None else gate.ctypes.data, after)
        if ran == -1:
            pytest.skip("no AVX-512 on this machine: segments use the BLAS")
        assert ran == 1
    return run


def _wide(rng, rows, cols, extra=0):
    """A float32 (rows, cols) view of a (rows, cols + extra) array: rows at a stride of cols + extra."""
    return rng.standard_normal((rows, cols + extra)).astype(np.float32)[:, :cols]


@needs_cc
@pytest.mark.parametrize("m, n, k", [(12, 32, 1), (12, 16, 7), (13, 31, 64), (25, 33, 256), (100, 100, 300),
                                     (37, 1030, 40), (24, 64, 513)])
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("a_transposed", [False, True])
@pytest.mark.parametrize("add", [False, True])
def test_the_product_equals_numpys(gemm, m, n, k, transposed, a_transposed, add):
    rng = np.random.default_rng(m * n + k)
    a = _wide(rng, k, m, extra=3) if a_transposed else _wide(rng, m, k, extra=3)
    b = _wide(rng, n, k, extra=5) if transposed else _wide(rng, k, n, extra=5)
    whole = np.full((m + 2, n + 7), 7.0, np.float32)  # c: a block of it, rows at a stride of n + 7
    c = whole[1:m + 1, 2:n + 2]
    c[...] = rng.standard_normal((m, n))
    bias = rng.standard_normal(n).astype(np.float32)
    want = (a.T if a_transposed else a).astype(np.float64) @ (b.T if transposed else b).astype(np.float64) + \
        (c if add else 0) + bias
    gemm(a, b, c, transposed, add, bias, a_transposed)
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    outside = whole.copy()
    outside[1:m + 1, 2:n + 2] = 7.0
    np.testing.assert_array_equal(outside, 7.0)  # nothing written past c's block


@needs_cc
def test_without_a_bias_and_over_what_c_held(gemm):
    rng = np.random.default_rng(1)
    a, b = _wide(rng, 30, 50), _wide(rng, 50, 40)
    c = np.full((30, 40), np.nan, np.float32)  # not added (beta 0): NaN there stays out
    gemm(a, b, c)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


@needs_cc
@pytest.mark.parametrize("m, n, k", [(13, 31, 64), (24, 64, 513)])
def test_relu_in_the_stores_equals_the_relu_kernels(gemm, m, n, k):
    """relu after the bias, in the last block of k's stores: the bits of the product then np.maximum(., 0) (NaN
    kept, -0 made +0, as the Relu kernels)."""
    rng = np.random.default_rng(m + k)
    a, b = _wide(rng, m, k), _wide(rng, k, n)
    a[0, :] = 0  # row 0: the bias alone, with -0 among it
    a[1, 0] = np.nan  # row 1: NaN
    bias = rng.standard_normal(n).astype(np.float32)
    bias[:3] = (-0.0, 0.0, -1.0)
    plain, relued = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
    gemm(a, b, plain, bias=bias)
    gemm(a, b, relued, bias=bias, relu=True)
    want = np.maximum(plain, np.float32(0))
    np.testing.assert_array_equal(relued, want)
    assert np.isnan(relued[1]).all() and not np.signbit(relued[0]).any() and (relued[0, :3] == 0).all()
    assert (relued >= 0).sum() + np.isnan(relued).sum() == m * n and (plain < 0).any()


@needs_cc
@pytest.mark.parametrize("m, n, k", [(13, 31, 64), (24, 64, 513)])
def test_a_gate_in_the_stores_equals_the_relu_gradient_kernels(gemm, m, n, k):
    """gate (a ReLU's output, rows as c's): the product where the gate's value is > 0, else 0 (NaN, 0 and -0 gate
    to 0), the bits of the product then np.where, as the ReluGrad kernels."""
    rng = np.random.default_rng(m * k)
    a, b = _wide(rng, m, k), _wide(rng, k, n)
    whole = rng.standard_normal((m, n + 3)).astype(np.float32)
    gate = whole[:, :n]  # rows at c's stride (c below is (m, n + 3) too)
    gate[0, :4] = (np.nan, 0.0, -0.0, 1e-30)
    plain, gated = np.empty((m, n + 3), np.float32)[:, :n], np.empty((m, n + 3), np.float32)[:, :n]
    gemm(a, b, plain)
    gemm(a, b, gated, gate=gate)
    np.testing.assert_array_equal(gated, np.where(gate > 0, plain, np.float32(0)))
    assert (gated[0, :3] == 0).all() and not np.signbit(gated[0, :3]).any() and gated[0, 3] == plain[0, 3]


@needs_cc
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("a_transposed", [False, True])
def test_a_block_of_rows_or_columns_computed_apart_has_the_same_bits(gemm, transposed, a_transposed):
    """em_sgemm_on splits c over threads by rows, or by columns in multiples of 16: each element sums in one
    order whatever block it is in."""
    rng = np.random.default_rng(2)
    m, n, k = 50, 96, 600
    a = _wide(rng, k, m) if a_transposed else _wide(rng, m, k)
    b = _wide(rng, n, k) if transposed else _wide(rng, k, n)
    bias = rng.standard_normal(n).astype(np.float32)
    whole = np.empty((m, n), np.float32)
    gemm(a, b, whole, transposed, bias=bias, a_transposed=a_transposed)
    rows = np.empty((m, n), np.float32)
    for r0, r1 in ((0, 25), (25, 50)):
        part = a[:, r0:r1] if a_transposed else a[r0:r1]
        gemm(part, b, rows[r0:r1], transposed, bias=bias, a_transposed=a_transposed)
    np.testing.assert_array_equal(rows, whole)
    cols = np.empty((m, n), np.float32)
    for c0, c1 in ((0, 48), (48, 96)):
        part = b[c0:c1] if transposed else b[:, c0:c1]
        gemm(a, part, cols[:, c0:c1], transposed, bias=bias[c0:c1], a_transposed=a_transposed)
    np.testing.assert_array_equal(cols, whole)


@pytest.mark.skipif(COMPILER is None or blas.find() is None, reason="no C compiler or BLAS")
@pytest.mark.parametrize("batch, bias", [(1, True), (13, False), (64, True)])
def test_a_compiled_linear_and_its_gradients_equal_eager(batch, bias):
    ember.manual_seed(0)
    layer = nn.Linear(70, 45, bias=bias)
    x = ember.randn(batch, 70, requires_grad=True)

    def step(x):
        layer.zero_grad()
        y = layer(x)
        (y * y).sum().backward()
        return y

    want = step(x).detach().numpy().copy()
    want_grads = [p.grad.numpy().copy() for p in layer.parameters()]
    compiled = ember.compile(step, fullgraph=True)
    for _ in range(3):
        x.grad = None
        got = compiled(x)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-5, atol=1e-6)
    for p, g in zip(layer.parameters(), want_grads):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-5, atol=1e-5)


@needs_cc
def test_the_module_with_the_gemm_compiles_without_warnings(tmp_path):
    source = "\n".join([render_c.header(c_backend.data_offset()), "#include <string.h>", c_gemm.BODY, _WRAPPER])
    assert_compiles_strictly([source], tmp_path)


@needs_cc
def test_the_library_and_a_module_calling_it_compile_without_warnings(tmp_path):
    module = "\n".join([render_c.header(c_backend.data_offset()), c_gemm.CALLS,
                        "int em_probe(float *c) { return EM_GEMM_OWN_s(111, 111, 12, 16, 1, 1.0f, c, 1, c, 16, 0.0f, "
                        "c, 16, NULL, 0, NULL, NULL); }"])
    assert_compiles_strictly([c_gemm.LIBRARY, module], tmp_path)


class _After(ctypes.Structure):
    """c_gemm.AFTER's em_gemm_after: the function given each block of c's rows as they are final."""
    _fields_ = [("fn", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.c_int64))]


def _after_recording(c):
    """An em_gemm_after that records (first row, first column, the block's values as given) of c's blocks."""
    blocks = []

    def fn(_, first, rows, cols, ldc):
        assert ldc == c.strides[0] // 4
        at = (first - c.ctypes.data) // 4
        r0, c0 = divmod(at, ldc)
        blocks.append((r0, c0, c[r0:r0 + rows, c0:c0 + cols].copy()))
    after = _After(_After._fields_[0][1](fn))
    return after, blocks


@needs_cc
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("a_transposed", [False, True])
def test_the_librarys_gemm_equals_numpys(transposed, a_transposed):
    """em_gemm_f32, the function whose address the modules calling the GEMM hold (c_gemm.address), and its
    after-block function."""
    i64, p = ctypes.c_int64, ctypes.c_void_p
    fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64, p, i64, p, i64, ctypes.c_int, p,
                          i64, p, ctypes.c_int, p, p)(c_gemm.address(COMPILER))
    rng = np.random.default_rng(8)
    a = _wide(rng, 70, 30, 3) if a_transposed else _wide(rng, 30, 70, 3)
    b = _wide(rng, 40 if transposed else 70, 70 if transposed else 40, 5)
    bias = rng.standard_normal(40).astype(np.float32)
    c = np.zeros((30, 40), np.float32)
    after, blocks = _after_recording(c)
    ran = fn(a_transposed, transposed, 30, 40, 70, a.ctypes.data, a.strides[0] // 4, b.ctypes.data,
             b.strides[0] // 4, 0, c.ctypes.data, 40, bias.ctypes.data, 0, None, ctypes.addressof(after))
    if not ran:
        pytest.skip("no AVX-512 on this machine: segments use the BLAS")
    want = (a.T if a_transposed else a).astype(np.float64) @ (b.T if transposed else b).astype(np.float64) + bias
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5)
    assert [(r0, c0, block.shape) for r0, c0, block in blocks] == [(0, 0, (12, 40)), (12, 0, (12, 40)),
                                                                   (24, 0, (6, 40))]


@needs_cc
@pytest.mark.parametrize("m, n, k", [(25, 33, 256), (37, 1030, 40), (24, 64, 513)])
def test_the_after_block_function_gets_each_block_of_rows_once_final(gemm, m, n, k):
    """Blocks of a tile's rows by blocks of 1024 columns, each given once, with the product's final values (after
    the last block of the shared dimension: k > 256 takes several)."""
    rng = np.random.default_rng(m + n + k)
    a, b = _wide(rng, m, k, extra=3), _wide(rng, k, n, extra=5)
    whole = np.zeros((m, n + 7), np.float32)
    c = whole[:, :n]
    after, blocks = _after_recording(c)
    gemm(a, b, c, after=ctypes.addressof(after))
    covered = np.zeros(c.shape, int)
    for r0, c0, block in blocks:
        assert block.shape[0] <= 12 and block.shape[1] <= 1024
        np.testing.assert_array_equal(block, c[r0:r0 + block.shape[0], c0:c0 + block.shape[1]])
        covered[r0:r0 + block.shape[0], c0:c0 + block.shape[1]] += 1
    assert (covered == 1).all()


@pytest.mark.skipif(COMPILER is None or blas.find() is None, reason="no C compiler or BLAS")
def test_modules_calling_the_gemm_get_its_address_as_they_load(monkeypatch):
    """Every library loaded with c_gemm.CALLS is given the GEMM library's function (one compile, one packing
    buffer a thread), both a segment module and the LSTM's."""
    from ember.compiler import cache as cache_module
    given = []
    load = cache_module.load

    def recorded(source, compiler, *args):
        lib = load(source, compiler, *args)
        if "em_set_gemm" in source:
            set_gemm = lib.em_set_gemm
            lib = type("Lib", (), {"__getattr__": lambda self, name: getattr(load(source, compiler, *args), name),
                                   "em_set_gemm": staticmethod(lambda fn: given.append((source, fn.value))
                                                               or set_gemm(fn))})()
        return lib

    monkeypatch.setattr(c_backend.cache, "load", recorded)
    layer, lstm = nn.Linear(40, 24), nn.LSTM(8, 32)
    compiled = ember.compile(lambda x, s: layer(x).relu().sum() + lstm(s)[0].sum(), fullgraph=True)
    x, s = ember.randn(64, 40), ember.randn(5, 16, 8)
    for _ in range(2):
        got = compiled(x, s)
    np.testing.assert_allclose(got.item(), (layer(x).relu().sum() + lstm(s)[0].sum()).item(), rtol=1e-5)
    address = c_gemm.address(COMPILER)
    assert address and {fn for _, fn in given} == {address}
    assert any("em_lstm_layer" in source for source, _ in given) and any("es_" in source for source, _ in given)


@pytest.mark.skipif(COMPILER is None or blas.find() is None, reason="no C compiler or BLAS")
@pytest.mark.parametrize("batch, features, included", [(4, 8, False), (4, 24, True), (64, 24, True)])
def test_a_segment_module_holds_the_gemm_only_where_a_product_can_use_it(batch, features, included, monkeypatch):
    """A product takes it from 12 rows and 16 columns: the forward's from a batch of 12, the weight gradient's
    (features x 40: the graph holds the backward, as the parameters need gradients) from 12 features."""
    from ember.compiler import c_graph
    sources = []
    render = c_graph._source

    def recorded(*args):
        sources.append(render(*args))
        return sources[-1]

    monkeypatch.setattr(c_graph, "_source", recorded)
    layer = nn.Linear(40, features)
    compiled = ember.compile(lambda x: layer(x).relu().sum(), fullgraph=True)
    x = ember.randn(batch, 40)
    for _ in range(2):
        got = compiled(x)
    np.testing.assert_allclose(got.item(), layer(x).relu().sum().item(), rtol=1e-5)
    assert sources and all(("em_sgemm_own" in s) == included for s in sources)
