"""Matrix decompositions and solvers (ember.linalg): inputs made well-conditioned (a diagonal shift; symmetric
positive-definite for cholesky and eigh), and outputs the decompositions determine uniquely (products of the
factors, singular values, projectors), so that values and gradients compare with PyTorch's."""
import ember

from . import OpInfo, Sample, T


def _conditioned(lib, a):
    """a plus 3 times the identity: far from singular."""
    return a + 3 * lib.eye(a.shape[-1], dtype=a.dtype)


def _spd(lib, a):
    return a @ a.transpose(-2, -1) + a.shape[-1] * lib.eye(a.shape[-1], dtype=a.dtype)


def _cases():
    def c(fn):  # fn(lib, *tensors) for both libraries
        return (lambda *a: fn(ember, *a)), (lambda torch, *a: fn(torch, *a))

    rows = [
        ("Det", lambda lib, a: lib.linalg.det(_conditioned(lib, a)), [Sample(T((3, 3))), Sample(T((2, 3, 3)))]),
        ("SlogDet", lambda lib, a: lib.linalg.slogdet(_conditioned(lib, a))[1], [Sample(T((3, 3)))]),
        ("Inverse", lambda lib, a: lib.linalg.inv(_conditioned(lib, a)), [Sample(T((2, 3, 3)))]),
        ("Solve", lambda lib, a, b: lib.linalg.solve(_conditioned(lib, a), b), [Sample(T((3, 3)), T((3, 2)))]),
        ("SolveTriangular", lambda lib, a, b: lib.linalg.solve_triangular(_conditioned(lib, a).triu(), b,
                                                                          upper=True), [Sample(T((3, 3)), T((3, 2)))]),
        ("Cholesky", lambda lib, a: lib.linalg.cholesky(_spd(lib, a)), [Sample(T((3, 3)))]),
        ("CholeskySolve", lambda lib, a, b: lib.cholesky_solve(b, lib.linalg.cholesky(_spd(lib, a))),
         [Sample(T((3, 3)), T((3, 2)))]),
        ("Qr", lambda lib, a: (lambda q, r: q @ r)(*lib.linalg.qr(a)), [Sample(T((4, 3)))]),
        ("Svd", lambda lib, a: lib.linalg.svdvals(a), [Sample(T((4, 3)))]),
        ("Eigh", lambda lib, a: lib.linalg.eigvalsh(_spd(lib, a)), [Sample(T((3, 3)))]),
        ("Pinv", lambda lib, a: lib.linalg.pinv(a), [Sample(T((4, 3)))]),
        ("MatrixExp", lambda lib, a: lib.linalg.matrix_exp(a * 0.5), [Sample(T((3, 3)))]),
    ]
    entries = []
    for op, fn, samples in rows:
        mine, theirs = c(fn)
        entries.append(OpInfo(op, mine, samples, ref=theirs, gradgrad=False, name=f"linalg_{op.lower()}"))
    return entries


ENTRIES = _cases()
