"""NumPy's own BLAS, called from generated C: where its library is and the addresses of its GEMM and GEMV.

A graph segment in C (``c_graph``) multiplies matrices with the very functions NumPy's ``matmul`` calls, so its
products are NumPy's to the bit and follow the thread count ember sets for them. NumPy's wheels bundle OpenBLAS
(``scipy-openblas``, 64-bit integers, symbols such as ``scipy_cblas_sgemm64_``); the library is found beside
NumPy, or among the shared objects this process has loaded. Where none is found (NumPy built against another BLAS
without these names), ``find()`` gives None and graphs run without C segments.
"""
import ctypes
import glob
import os

import numpy as np

__all__ = ["find", "BlasFunctions"]

# (prefix, suffix, C integer type): the CBLAS names a NumPy build may export, 64-bit ones first
_NAMINGS = (("scipy_cblas_", "64_", "int64_t"), ("cblas_", "64_", "int64_t"), ("scipy_cblas_", "", "int"),
            ("cblas_", "", "int"))
_found = []


class BlasFunctions:
    """The addresses of ``{s,d}gemm`` and ``{s,d}gemv`` (CBLAS calling convention: ``addresses["sgemm"]``...) and
    the C type of their sizes."""

    def __init__(self, path, addresses, int_type):
        self.path, self.addresses, self.int_type = path, addresses, int_type


def _candidates():
    """Shared objects that may be NumPy's BLAS, as they are needed: those in NumPy's wheel, then the BLAS
    libraries this process has loaded (a NumPy built against a system BLAS: reading the process's maps takes ms)."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    seen = set()
    for pattern in ("numpy.libs/*blas*", "scipy_openblas64/lib/*blas*.so*", "scipy_openblas32/lib/*blas*.so*"):
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            seen.add(path)
            yield path
    try:
        with open("/proc/self/maps") as f:
            maps = [line.rsplit(None, 1)[-1] for line in f]
    except OSError:
        return
    for path in maps:
        if "blas" in os.path.basename(path).lower() and path not in seen and os.path.exists(path):
            seen.add(path)
            yield path


def _functions(path):
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix, suffix, int_type in _NAMINGS:
        try:
            addresses = {name: ctypes.cast(getattr(lib, f"{prefix}{name}{suffix}"), ctypes.c_void_p).value
                         for name in ("sgemm", "dgemm", "sgemv", "dgemv")}
        except AttributeError:
            continue
        return BlasFunctions(path, addresses, int_type)
    return None


def find():
    """NumPy's BLAS functions (BlasFunctions), or None where they cannot be found; looked up once per process."""
    if not _found:
        np.ones((2, 2)) @ np.ones((2, 2))  # NumPy loads its BLAS lazily on some builds
        _found.append(next((f for f in map(_functions, _candidates()) if f is not None), None))
    return _found[0]
