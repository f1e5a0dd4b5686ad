"""ember.linalg and torch's top-level decompositions: values and gradients against PyTorch (float64, batched and
unbatched), gradcheck (and gradgradcheck where the formula is differentiable), PyTorch's errors, the named
tuples, the docstrings of ember.linalg, and applied uses (least squares, a Gaussian process)."""
import doctest
import math
import pathlib
import sys

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "docs" / "_ext"))
from ember_names import docstring_problems  # noqa: E402

LA = ember.linalg
INF = math.inf


def _rng(seed=0):
    return np.random.default_rng(seed)


def well(*shape, seed=0):
    """Well-conditioned square matrices (random plus n I)."""
    a = _rng(seed).standard_normal(shape)
    return a + shape[-1] * np.eye(shape[-1])


def spd(*shape, seed=0):
    """Symmetric positive-definite matrices with well-separated eigenvalues."""
    a = _rng(seed).standard_normal(shape)
    n = shape[-1]
    return a @ a.swapaxes(-1, -2) + np.diag(np.arange(1.0, n + 1)) + n * np.eye(n)


def rand(*shape, seed=0):
    return _rng(seed).standard_normal(shape)


def _e(a, grad=True):
    return ember.tensor(a, dtype=ember.float64, requires_grad=grad)


def _outs(o):
    return list(o) if isinstance(o, (tuple, list)) else [o]


def against_torch(ember_fn, torch_fn, arrays, atol=1e-9, grad=True):
    """ember_fn and torch_fn on the same float64 inputs: the same outputs, and the same gradients of a random
    weighting of the floating-point outputs."""
    torch = pytest.importorskip("torch")
    e_in = [_e(a, grad) for a in arrays]
    t_in = [torch.tensor(a, dtype=torch.float64, requires_grad=grad) for a in arrays]
    eo, to = _outs(ember_fn(*e_in)), _outs(torch_fn(*t_in))
    assert len(eo) == len(to)
    for e, t in zip(eo, to):
        assert tuple(e.shape) == tuple(t.shape)
        np.testing.assert_allclose(e.numpy(force=True), t.detach().numpy(), atol=atol, rtol=1e-7)
    if not grad:
        return
    rng = _rng(99)
    weights = [rng.standard_normal(tuple(t.shape)) for t in to]
    e_loss = sum((e * ember.tensor(w)).sum() for e, w, t in zip(eo, weights, to) if t.is_floating_point())
    t_loss = sum((t * torch.tensor(w)).sum() for t, w in zip(to, weights) if t.is_floating_point())
    e_loss.backward()
    t_loss.backward()
    for e, t in zip(e_in, t_in):
        np.testing.assert_allclose(e.grad.numpy(force=True), t.grad.numpy(), atol=atol, rtol=1e-6)


def check_grads(fn, arrays, second=True):
    inputs = [_e(a) for a in arrays]
    assert gradcheck(fn, inputs)
    if second:
        assert gradgradcheck(fn, inputs)


# --- det, slogdet, inv, solve ---------------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_det_slogdet_inv_match_torch(batch):
    torch = pytest.importorskip("torch")
    a = well(*batch, 4, 4)
    a[..., 0, :] *= -1  # some negative determinants
    against_torch(LA.det, torch.linalg.det, [a])
    against_torch(lambda x: LA.slogdet(x).logabsdet, lambda x: torch.linalg.slogdet(x).logabsdet, [a])
    against_torch(lambda x: LA.slogdet(x).sign, lambda x: torch.linalg.slogdet(x).sign, [a], grad=False)
    against_torch(LA.inv, torch.linalg.inv, [a])
    against_torch(ember.inverse, torch.inverse, [a])
    against_torch(lambda x: x.det(), lambda x: x.det(), [a])
    against_torch(ember.logdet, torch.logdet, [spd(*batch, 3, 3)])


def test_logdet_of_negative_and_singular():
    out = ember.logdet(ember.tensor([[[-1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]))
    assert math.isnan(out[0].item()) and out[1].item() == -INF


def test_det_inv_gradcheck():
    a = well(2, 3, 3)
    check_grads(LA.det, [a])
    check_grads(lambda x: LA.slogdet(x).logabsdet, [a])
    check_grads(LA.inv, [a])


@pytest.mark.parametrize("sa, sb, left", [((3, 3), (3, 2), True), ((3, 3), (3,), True), ((2, 3, 3), (2, 3), True),
                                          ((2, 1, 3, 3), (4, 3, 2), True), ((3, 3), (2, 3), False),
                                          ((2, 3, 3), (2, 2, 3), False), ((3, 3), (2, 3, 4), True)])
def test_solve_matches_torch(sa, sb, left):
    torch = pytest.importorskip("torch")
    against_torch(lambda A, B: LA.solve(A, B, left=left), lambda A, B: torch.linalg.solve(A, B, left=left),
                  [well(*sa), rand(*sb, seed=1)])


def test_solve_gradcheck():
    check_grads(lambda A, B: LA.solve(A, B), [well(2, 3, 3), rand(3, 2, seed=1)])
    check_grads(lambda A, B: LA.solve(A, B, left=False), [well(3, 3), rand(2, 3, seed=1)], second=False)


# --- triangular, cholesky -------------------------------------------------------------------------------------

@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular_matches_torch(upper, left, unit):
    torch = pytest.importorskip("torch")
    a, b = well(2, 4, 4), rand(2, 4, 3, seed=1) if left else rand(2, 3, 4, seed=1)
    against_torch(lambda A, B: LA.solve_triangular(A, B, upper=upper, left=left, unitriangular=unit),
                  lambda A, B: torch.linalg.solve_triangular(A, B, upper=upper, left=left, unitriangular=unit),
                  [a, b])


def test_solve_triangular_zero_diagonal_gives_inf_like_torch():
    torch = pytest.importorskip("torch")
    a, b = np.triu(well(3, 3)), rand(3, 2)
    a[1, 1] = 0
    e = LA.solve_triangular(ember.tensor(a), ember.tensor(b), upper=True).numpy(force=True)
    t = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b), upper=True).numpy(force=True)
    np.testing.assert_array_equal(np.isfinite(e), np.isfinite(t))


@pytest.mark.parametrize("batch", [(), (3,)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_matches_torch(batch, upper):
    torch = pytest.importorskip("torch")
    a = spd(*batch, 4, 4)
    against_torch(lambda A: LA.cholesky(A, upper=upper), lambda A: torch.linalg.cholesky(A, upper=upper), [a])
    against_torch(lambda A: ember.cholesky(A, upper), lambda A: torch.cholesky(A, upper), [a])
    L = np.linalg.cholesky(a)
    L = L.swapaxes(-1, -2) if upper else L
    b = rand(*batch, 4, 2, seed=2)
    against_torch(lambda L, B: ember.cholesky_solve(B, L, upper), lambda L, B: torch.cholesky_solve(B, L, upper),
                  [L, b])
    against_torch(lambda L: ember.cholesky_inverse(L, upper), lambda L: torch.cholesky_inverse(L, upper), [L])


def test_cholesky_gradcheck():
    sym = lambda f: lambda A: f(0.5 * (A + A.mT))  # noqa: E731  (cholesky reads one triangle: perturb both)
    check_grads(sym(LA.cholesky), [spd(2, 3, 3)])
    check_grads(sym(lambda A: LA.cholesky(A, upper=True)), [spd(3, 3)], second=False)
    check_grads(lambda A, B: LA.solve_triangular(A, B, upper=False), [well(3, 3), rand(3, 2, seed=1)])


def test_cholesky_ex_and_inv_ex():
    bad = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])
    L, info = LA.cholesky_ex(ember.tensor(bad))
    assert info.tolist() == [0, 2] and np.isnan(L[1].numpy(force=True)).all()
    np.testing.assert_allclose(L[0].numpy(force=True), np.eye(2))
    inv, info = LA.inv_ex(ember.tensor(np.stack([2 * np.eye(2), np.zeros((2, 2))])))
    assert info.tolist() == [0, 1] and np.isnan(inv[1].numpy(force=True)).all()
    np.testing.assert_allclose(inv[0].numpy(force=True), 0.5 * np.eye(2))
    with pytest.raises(LA.LinAlgError, match="not positive-definite"):
        LA.cholesky_ex(ember.tensor(bad), check_errors=True)


# --- qr, svd, eigh --------------------------------------------------------------------------------------------

def _qr_loss(lib):
    def f(A, mode="reduced"):
        Q, R = lib.linalg.qr(A, mode=mode)
        # invariant under the signs: Q diag(s) and diag(s) R give the same Q R and Q Q^T
        return Q @ R, Q @ Q.mT, (R * R).sum(-1)
    return f


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 5, 3), (2, 3, 5)])
def test_qr_matches_torch(shape):
    torch = pytest.importorskip("torch")
    against_torch(_qr_loss(ember), _qr_loss(torch), [rand(*shape)])
    against_torch(lambda A: _qr_loss(ember)(A, "complete"), lambda A: _qr_loss(torch)(A, "complete"),
                  [rand(*shape)], grad=shape[-2] <= shape[-1])
    R = LA.qr(ember.tensor(rand(*shape)), mode="r").R
    Rt = torch.linalg.qr(torch.tensor(rand(*shape)), mode="r").R
    np.testing.assert_allclose(np.abs(R.numpy(force=True)), np.abs(Rt.numpy(force=True)), atol=1e-10)


def test_qr_gradcheck():
    check_grads(lambda A: LA.qr(A), [rand(4, 3)])
    check_grads(lambda A: LA.qr(A), [rand(2, 3, 4)], second=False)


def _svd_loss(lib, full):
    def f(A):
        U, S, Vh = lib.linalg.svd(A, full_matrices=full)
        k = S.shape[-1]
        U, Vh = U[..., :k], Vh[..., :k, :]
        return S, (U * S.exp().unsqueeze(-2)) @ Vh, U @ U.mT, Vh.mT @ Vh
    return f


@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5), (2, 4, 3), (2, 3, 4)])
@pytest.mark.parametrize("full", [False, True])
def test_svd_matches_torch(shape, full):
    torch = pytest.importorskip("torch")
    against_torch(_svd_loss(ember, full), _svd_loss(torch, full), [rand(*shape)], atol=1e-8)
    against_torch(LA.svdvals, torch.linalg.svdvals, [rand(*shape)])
    legacy = lambda lib: lambda A: (lambda U, S, V: ((U * S.unsqueeze(-2)) @ V.mT, S))(*lib.svd(A))  # noqa: E731
    against_torch(legacy(ember), legacy(torch), [rand(*shape)])


def test_svd_gradcheck():
    check_grads(_svd_loss(ember, False), [rand(3, 3)])
    check_grads(_svd_loss(ember, False), [rand(2, 4, 3)], second=False)
    check_grads(_svd_loss(ember, True), [rand(3, 4)], second=False)
    check_grads(LA.svdvals, [rand(3, 2)])


def _eigh_loss(lib, uplo="L"):
    def f(A):
        L, V = lib.linalg.eigh(A, UPLO=uplo)
        return L, (V * L.sin().unsqueeze(-2)) @ V.mT, V[..., :1] @ V[..., :1].mT
    return f


@pytest.mark.parametrize("batch", [(), (2,)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_matches_torch(batch, uplo):
    torch = pytest.importorskip("torch")
    a = spd(*batch, 4, 4)
    against_torch(_eigh_loss(ember, uplo), _eigh_loss(torch, uplo), [a])
    against_torch(lambda A: LA.eigvalsh(A, uplo), lambda A: torch.linalg.eigvalsh(A, uplo), [a])
    # only the triangle UPLO is read
    lower = np.tril(a) if uplo == "L" else np.triu(a)
    np.testing.assert_allclose(LA.eigvalsh(ember.tensor(lower), UPLO=uplo).numpy(force=True), np.linalg.eigvalsh(a))


def test_eigh_gradcheck():
    sym = lambda f: lambda A: f(0.5 * (A + A.mT))  # noqa: E731  (eigh reads one triangle: perturb both)
    check_grads(sym(_eigh_loss(ember)), [spd(3, 3)])
    check_grads(sym(LA.eigvalsh), [spd(2, 3, 3)], second=False)


# --- pinv, lstsq, matrix_rank ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 3), (5, 3), (3, 5), (2, 4, 3)])
def test_pinv_matches_torch(shape):
    torch = pytest.importorskip("torch")
    against_torch(LA.pinv, torch.linalg.pinv, [rand(*shape)])
    against_torch(lambda A: A.pinverse(), lambda A: A.pinverse(), [rand(*shape)])
    a = spd(3, 3) - 6 * np.eye(3)  # symmetric, indefinite
    against_torch(lambda A: LA.pinv(A, hermitian=True), lambda A: torch.linalg.pinv(A, hermitian=True), [a])


def test_pinv_rank_deficient_and_tolerances():
    torch = pytest.importorskip("torch")
    a = rand(4, 2) @ rand(2, 3, seed=1)  # rank 2
    against_torch(LA.pinv, torch.linalg.pinv, [a])
    for kw in ({"atol": 0.5}, {"rtol": 0.3}, {"atol": 0.1, "rtol": 0.2}):
        np.testing.assert_allclose(LA.pinv(ember.tensor(a), **kw).numpy(force=True),
                                   torch.linalg.pinv(torch.tensor(a), **kw).numpy(force=True), atol=1e-10)
        assert LA.matrix_rank(ember.tensor(a), **kw).item() == torch.linalg.matrix_rank(torch.tensor(a), **kw).item()
    b = rand(2, 3, 4, 4)
    b[0, 1, 3] = b[0, 1, 2]
    assert LA.matrix_rank(ember.tensor(b)).tolist() == torch.linalg.matrix_rank(torch.tensor(b)).tolist()
    assert LA.matrix_rank(ember.tensor(spd(3, 3)), hermitian=True).item() == 3


def test_pinv_gradcheck():
    check_grads(LA.pinv, [rand(3, 2)])
    check_grads(LA.pinv, [rand(2, 4)], second=False)


@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("sa, sb", [((5, 3), (5, 2)), ((5, 3), (5,)), ((2, 5, 3), (2, 5, 2)), ((3, 5), (3, 2)),
                                    ((3, 3), (3, 2))])
def test_lstsq_matches_torch(driver, sa, sb):
    torch = pytest.importorskip("torch")
    a, b = rand(*sa), rand(*sb, seed=1)
    if driver == "gels" and sa[-2] < sa[-1]:
        return  # gels solves the underdetermined case with another (non minimum-norm) solution in PyTorch
    against_torch(lambda A, B: LA.lstsq(A, B, driver=driver).solution,
                  lambda A, B: torch.linalg.lstsq(A, B, driver=driver).solution, [a, b])
    e = LA.lstsq(ember.tensor(a), ember.tensor(b), driver=driver)
    t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
    for name in ("residuals", "rank", "singular_values"):
        ev, tv = getattr(e, name), getattr(t, name)
        assert tuple(ev.shape) == tuple(tv.shape), name
        assert str(ev.dtype).split(".")[-1] == str(tv.dtype).split(".")[-1], name
        np.testing.assert_allclose(ev.numpy(force=True), tv.numpy(force=True), atol=1e-9)


def test_lstsq_fits_known_coefficients():
    rng = _rng(3)
    x = rng.uniform(-1, 1, 200)
    design = np.stack([np.ones_like(x), x, x ** 2], 1)
    y = design @ np.array([0.5, -2.0, 3.0]) + 0.01 * rng.standard_normal(200)
    fit = LA.lstsq(ember.tensor(design, dtype=ember.float32), ember.tensor(y, dtype=ember.float32))
    np.testing.assert_allclose(fit.solution.numpy(force=True), [0.5, -2.0, 3.0], atol=0.01)
    assert fit.rank.item() == 3 and fit.solution.dtype == ember.float32


def test_lstsq_gradcheck():
    check_grads(lambda A, B: LA.lstsq(A, B).solution, [rand(4, 2), rand(4, 2, seed=1)], second=False)


# --- matrix_exp, matrix_power ---------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.1, 1.0, 20.0])
def test_matrix_exp_matches_torch(scale):
    torch = pytest.importorskip("torch")
    a = scale * rand(2, 4, 4)
    against_torch(LA.matrix_exp, torch.linalg.matrix_exp, [a], atol=1e-9 * max(1, np.abs(
        torch.linalg.matrix_exp(torch.tensor(a)).numpy(force=True)).max()))
    against_torch(ember.matrix_exp, torch.matrix_exp, [scale * rand(3, 3, seed=2)], atol=1e-8 * math.exp(3 * scale))


def test_matrix_exp_float32_and_gradcheck():
    a = rand(3, 3)
    e32 = LA.matrix_exp(ember.tensor(a, dtype=ember.float32))
    assert e32.dtype == ember.float32
    np.testing.assert_allclose(e32.numpy(force=True), LA.matrix_exp(ember.tensor(a)).numpy(force=True), rtol=1e-5)
    check_grads(LA.matrix_exp, [0.5 * a])


@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 5])
def test_matrix_power_matches_torch(n):
    torch = pytest.importorskip("torch")
    against_torch(lambda A: LA.matrix_power(A, n), lambda A: torch.linalg.matrix_power(A, n), [0.3 * well(2, 3, 3)],
                  grad=n != 0)  # PyTorch's A^0 is a constant
    against_torch(lambda A: A.matrix_power(n), lambda A: A.matrix_power(n), [0.3 * well(3, 3)], grad=n != 0)


def test_matrix_power_integer_and_gradcheck():
    assert ember.matrix_power(ember.tensor([[1, 1], [0, 1]]), 4).tolist() == [[1, 4], [0, 1]]
    check_grads(lambda A: LA.matrix_power(A, -2), [well(3, 3)])


# --- norms, cross, multi_dot, vecdot, diagonal ----------------------------------------------------------------

@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, INF, -INF])
@pytest.mark.parametrize("dim, keepdim", [((-2, -1), False), ((0, 2), True), ((2, 0), False)])
def test_matrix_norm_matches_torch(ord, dim, keepdim):
    torch = pytest.importorskip("torch")
    against_torch(lambda A: LA.matrix_norm(A, ord, dim, keepdim), lambda A: torch.linalg.matrix_norm(A, ord, dim,
                                                                                                     keepdim),
                  [rand(3, 4, 5)])


@pytest.mark.parametrize("ord, dim", [(None, None), (2, None), (1, 1), (INF, 0), (3, (0, 1)), ("fro", (0, 1)),
                                      ("nuc", None), (-INF, None), (0, 1)])
def test_norm_and_vector_norm_match_torch(ord, dim):
    torch = pytest.importorskip("torch")
    x = rand(4, 3)
    tn = torch.linalg.norm
    if ord != "nuc" and not (isinstance(dim, tuple) and isinstance(ord, str)):
        against_torch(lambda a: LA.vector_norm(a, 2 if ord is None else ord, dim),
                      lambda a: torch.linalg.vector_norm(a, 2 if ord is None else ord, dim), [x], grad=ord != 0)
    if not (ord == 3 and isinstance(dim, tuple)):
        against_torch(lambda a: LA.norm(a, ord, dim), lambda a: tn(a, ord, dim), [x], grad=ord != 0)


def test_cross_multi_dot_vecdot_diagonal_match_torch():
    torch = pytest.importorskip("torch")
    against_torch(lambda a, b: LA.cross(a, b), lambda a, b: torch.linalg.cross(a, b), [rand(4, 3), rand(1, 3, seed=1)])
    against_torch(lambda a, b: LA.cross(a, b, dim=0), lambda a, b: torch.linalg.cross(a, b, dim=0),
                  [rand(3, 2), rand(3, 2, seed=1)])
    against_torch(lambda a, b: ember.cross(a, b), lambda a, b: torch.cross(a, b),
                  [rand(2, 3, 3), rand(2, 3, 3, seed=1)])
    against_torch(lambda a, b: a.cross(b, dim=1), lambda a, b: a.cross(b, dim=1), [rand(2, 3), rand(2, 3, seed=1)])
    arrays = [rand(3), rand(3, 4, seed=1), rand(4, 5, seed=2), rand(5, seed=3)]
    against_torch(lambda *t: LA.multi_dot(t), lambda *t: torch.linalg.multi_dot(t), arrays)
    against_torch(lambda *t: LA.multi_dot(t), lambda *t: torch.linalg.multi_dot(t), [rand(2, 3), rand(3, 4, seed=1)])
    against_torch(lambda a, b: LA.vecdot(a, b, dim=0), lambda a, b: torch.linalg.vecdot(a, b, dim=0),
                  [rand(3, 2), rand(3, 1, seed=1)])
    against_torch(lambda a: LA.diagonal(a, offset=1), lambda a: torch.linalg.diagonal(a, offset=1), [rand(2, 3, 4)])
    assert LA.matmul is ember.matmul


def test_composites_gradcheck():
    check_grads(lambda a: LA.matrix_norm(a, "nuc"), [rand(3, 2)], second=False)
    check_grads(lambda a: LA.matrix_norm(a, 2), [rand(2, 3)], second=False)
    check_grads(lambda a, b: LA.cross(a, b), [rand(2, 3), rand(2, 3, seed=1)])
    check_grads(lambda a, b, c: LA.multi_dot([a, b, c]), [rand(2, 3), rand(3, 3, seed=1), rand(3, seed=2)])
    check_grads(lambda L, B: ember.cholesky_solve(B, L.tril()), [np.linalg.cholesky(spd(3, 3)), rand(3, 2)],
                second=False)


# --- errors ---------------------------------------------------------------------------------------------------

def _torch_error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    raise AssertionError("PyTorch raised nothing")


@pytest.mark.parametrize("name, args", [
    ("det", [(2, 3)]), ("det", [(3,)]), ("inv", [(2, 3)]), ("cholesky", [(3,)]), ("cholesky", [(2, 3)]),
    ("eigh", [(2, 3)]), ("svd", [(3,)]), ("matrix_exp", [(2, 3)]), ("solve", [(3, 3), (4, 2)]),
    ("solve", [(2, 3, 3), (4, 3, 2)]),
])
def test_shape_errors_match_torch(name, args):
    torch = pytest.importorskip("torch")
    arrays = [rand(*s, seed=i) for i, s in enumerate(args)]
    expected = _torch_error(lambda: getattr(torch.linalg, name)(*[torch.tensor(a) for a in arrays]))
    with pytest.raises(RuntimeError) as info:
        getattr(LA, name)(*[ember.tensor(a) for a in arrays])
    if "size of tensor" in expected:  # PyTorch's batch-broadcast message is generic; ember's names the op
        assert "linalg.solve" in str(info.value) and "(2,)" in str(info.value) and "(4,)" in str(info.value)
    else:
        assert str(info.value) == expected


def test_singular_and_not_positive_definite_errors_match_torch():
    torch = pytest.importorskip("torch")
    not_pd = np.stack([np.eye(3), [[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    singular = np.stack([np.eye(3), [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]]])
    cases = [(lambda lib, a: lib.linalg.cholesky(a), not_pd), (lambda lib, a: lib.linalg.cholesky(a), not_pd[1]),
             (lambda lib, a: lib.linalg.inv(a), singular), (lambda lib, a: lib.linalg.inv(a), np.zeros((3, 3))),
             (lambda lib, a: lib.linalg.solve(a, a), singular), (lambda lib, a: lib.linalg.matrix_power(a, -1),
                                                                 singular[1])]
    for fn, a in cases:
        expected = _torch_error(lambda: fn(torch, torch.tensor(a)))
        with pytest.raises(LA.LinAlgError) as info:
            fn(ember, ember.tensor(a))
        assert str(info.value) == expected
        assert isinstance(info.value, RuntimeError)


def test_argument_errors_match_torch():
    torch = pytest.importorskip("torch")
    cases = [
        (lambda lib: lib.linalg.det(lib.ones(2, 2, dtype=lib.int64)), RuntimeError),
        (lambda lib: lib.linalg.inv(lib.eye(2, dtype=lib.float16)), RuntimeError),
        (lambda lib: lib.linalg.solve(lib.eye(3), lib.ones(3, dtype=lib.float64)), RuntimeError),
        (lambda lib: lib.linalg.qr(lib.eye(3), mode="x"), RuntimeError),
        (lambda lib: lib.linalg.eigh(lib.eye(3), UPLO="X"), RuntimeError),
        (lambda lib: lib.linalg.cross(lib.ones(4), lib.ones(4)), RuntimeError),
        (lambda lib: lib.linalg.cross(lib.ones(2, 3), lib.ones(3)), RuntimeError),
        (lambda lib: lib.cross(lib.ones(4, 2), lib.ones(4, 2)), RuntimeError),
        (lambda lib: lib.linalg.multi_dot([lib.ones(3, 3)]), RuntimeError),
        (lambda lib: lib.linalg.multi_dot([lib.ones(3, 3), lib.ones(4, 3)]), RuntimeError),
        (lambda lib: lib.linalg.multi_dot([lib.ones(2, 3, 3), lib.ones(3, 3)]), RuntimeError),
        (lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3), ord=3), RuntimeError),
        (lambda lib: lib.linalg.matrix_norm(lib.ones(3)), RuntimeError),
        (lambda lib: lib.linalg.norm(lib.ones(3, 3, 3), ord=2), RuntimeError),
        (lambda lib: lib.linalg.lstsq(lib.ones(5, 3), lib.ones(4, 2)), RuntimeError),
        (lambda lib: lib.linalg.lstsq(lib.ones(5, 3), lib.ones(5, 2), driver="foo"), RuntimeError),
        (lambda lib: lib.linalg.matrix_power(lib.ones(2, 3), 2), RuntimeError),
        (lambda lib: lib.cholesky_solve(lib.ones(3), lib.eye(3)), RuntimeError),
    ]
    for fn, kind in cases:
        expected = _torch_error(lambda: fn(torch))
        with pytest.raises(kind) as info:
            fn(ember)
        assert expected.split(": ")[-1] in str(info.value) or str(info.value) == expected, (str(info.value),
                                                                                             expected)


def test_non_differentiable_qr_modes_raise_like_torch():
    torch = pytest.importorskip("torch")
    for mode, shape in (("r", (3, 3)), ("complete", (4, 3))):
        expected = _torch_error(lambda: torch.linalg.qr(torch.ones(shape, requires_grad=True), mode=mode)[1]
                                .sum().backward())
        x = ember.tensor(rand(*shape), requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            LA.qr(x, mode=mode)[1].sum().backward()
        assert str(info.value) == expected


# --- named tuples, top-level names and methods, shapes ---------------------------------------------------------

def test_named_tuples_and_legacy_forms():
    a = ember.tensor(spd(2, 3, 3))
    assert LA.slogdet(a)._fields == ("sign", "logabsdet") and ember.slogdet(a)._fields == ("sign", "logabsdet")
    assert LA.qr(a)._fields == ("Q", "R") and a.qr()._fields == ("Q", "R")
    assert LA.svd(a)._fields == ("U", "S", "Vh") and ember.svd(a)._fields == ("U", "S", "V")
    assert LA.eigh(a)._fields == ("eigenvalues", "eigenvectors")
    assert LA.lstsq(a, a)._fields == ("solution", "residuals", "rank", "singular_values")
    U, S, V = ember.svd(ember.tensor(rand(4, 3)), compute_uv=False)
    assert U.shape == (4, 4) and V.shape == (3, 3) and not U.numpy(force=True).any()
    Q, R = ember.qr(ember.tensor(rand(4, 3)), some=False)
    assert Q.shape == (4, 4) and R.shape == (4, 3)
    Q, R = LA.qr(ember.tensor(rand(4, 3)), mode="r")
    assert Q.shape == (0,) and R.shape == (3, 3)
    for name in ("det", "logdet", "slogdet", "inverse", "pinverse", "matrix_power", "matrix_exp", "svd", "qr",
                 "cholesky", "cholesky_solve", "cholesky_inverse", "cross"):
        assert callable(getattr(ember, name)) and callable(getattr(ember.Tensor, name)), name
    for name in LA.__all__:
        assert callable(getattr(LA, name)), name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float32_and_float64_keep_their_dtype(dtype):
    dt = getattr(ember, dtype)
    a = ember.tensor(spd(2, 3, 3), dtype=dt)
    outs = [LA.det(a), LA.inv(a), LA.cholesky(a), LA.solve(a, a), *LA.qr(a), *LA.svd(a), *LA.eigh(a), LA.pinv(a),
            LA.matrix_exp(a), LA.solve_triangular(a, a, upper=True), *LA.slogdet(a), LA.matrix_norm(a, "nuc")]
    assert all(o.dtype == dt for o in outs)
    np.testing.assert_allclose(LA.inv(a).numpy(force=True), np.linalg.inv(spd(2, 3, 3)),
                               rtol=1e-4 if dtype == "float32" else 1e-12)


def test_infer_shape_rules_match_forward():
    from ember.ops.linalg_decomp import Cholesky, Det, Eigh, Inverse, MatrixExp, Pinv, Qr, SlogDet, Solve, Svd
    from ember.ops.meta import TensorMeta, meta_of
    a, b = rand(2, 4, 3), rand(2, 3, 3)
    cases = [(Det(), (b,)), (SlogDet(), (b,)), (Inverse(), (b,)), (Cholesky(False), (spd(3, 3),)),
             (MatrixExp(), (b,)), (Pinv(0.0, 1e-15, False), (a,)), (Qr("reduced"), (a,)), (Qr("complete"), (a,)),
             (Qr("r"), (a,)), (Svd(True), (a,)), (Svd(False), (a,)), (Eigh("L"), (spd(3, 3),)),
             (Solve(), (b, rand(3, 2)))]
    for node, arrays in cases:
        out = _outs(node.forward(np, *arrays))
        metas = node.infer(*[meta_of(x) for x in arrays])
        metas = [metas] if isinstance(metas, TensorMeta) else list(metas)
        assert [tuple(o.shape) for o in out] == [tuple(m.shape) for m in metas], node.name
        assert all(o.dtype == m.dtype for o, m in zip(out, metas)), node.name


def test_gaussian_process_posterior_matches_numpy():
    """A GP regression step: K = k(X, X) + s I, L = cholesky(K), alpha = K^{-1} y, mean = k(X*, X) alpha,
    log marginal likelihood; its gradient in the length scale against finite differences."""
    rng = _rng(5)
    x, xs = rng.uniform(-2, 2, 12), np.linspace(-2, 2, 5)
    y = np.sin(2 * x) + 0.05 * rng.standard_normal(12)

    def kernel(a, b, ell):
        return ((a[:, None] - b[None, :]) ** 2 / (-2 * ell * ell)).exp()

    def gp(ell):
        X, Xs, Y = (ember.tensor(v) for v in (x, xs, y))
        K = kernel(X, X, ell) + 0.01 * ember.eye(12, dtype=ember.float64)
        L = LA.cholesky(K)
        alpha = ember.cholesky_solve(Y.unsqueeze(-1), L)
        mean = (kernel(Xs, X, ell) @ alpha).squeeze(-1)
        nll = 0.5 * (Y.unsqueeze(-1) * alpha).sum() + L.diagonal().log().sum()
        return mean, nll

    ell = ember.tensor(0.7, dtype=ember.float64, requires_grad=True)
    mean, nll = gp(ell)
    K = np.exp(-(x[:, None] - x[None, :]) ** 2 / (2 * 0.49)) + 0.01 * np.eye(12)
    Ks = np.exp(-(xs[:, None] - x[None, :]) ** 2 / (2 * 0.49))
    np.testing.assert_allclose(mean.numpy(force=True), Ks @ np.linalg.solve(K, y), rtol=1e-10)
    np.testing.assert_allclose(nll.item(), 0.5 * y @ np.linalg.solve(K, y) + 0.5 * np.linalg.slogdet(K)[1])
    nll.backward()
    h = 1e-6
    fd = (gp(ember.tensor(0.7 + h, dtype=ember.float64))[1].item()
          - gp(ember.tensor(0.7 - h, dtype=ember.float64))[1].item()) / (2 * h)
    np.testing.assert_allclose(ell.grad.item(), fd, rtol=1e-5)


# --- docstrings of ember.linalg (not yet a page of the reference) ---------------------------------------------

@pytest.mark.parametrize("name", LA.__all__)
def test_linalg_docstrings(name, tmp_path, monkeypatch):
    obj = getattr(LA, name)
    assert not docstring_problems(obj), docstring_problems(obj)
    doc = obj.__doc__
    if ">>>" not in doc:
        return
    globs = {"ember": ember, "nn": ember.nn, "F": ember.nn.functional, "np": np}
    test = doctest.DocTestParser().get_doctest(doc, globs, name, None, 0)
    runner, report = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE), []
    ember.manual_seed(0)
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
