"""erf and erfc on arrays (NumPy has neither; CuPy has cupyx.scipy.special).

The NumPy version is a vectorised port of FDLIBM's s_erf.c (piecewise rational approximations, error below
1 ulp in float64). float32 and narrower erf uses one rational approximation evaluated in float32 (the one Eigen and
XLA use: a few ulp, about 7x faster, which matters for GELU); their erfc goes through float64 for accurate tails.

====================================================
Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.

Developed at SunSoft, a Sun Microsystems, Inc. business.
Permission to use, copy, modify, and distribute this
software is freely granted, provided that this notice
is preserved.
====================================================
"""
import numpy as np

__all__ = ["erf", "erfc"]

_ERX = 8.45062911510467529297e-01  # erf(1) rounded to float: erf(x) = erx + P/Q on [0.84375, 1.25)
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01)

_SMALL, _MID = 0.84375, 1.25
_RB_FROM = 2.857142686843872  # ~1/0.35 (high word 0x4006DB6E): where the second erfc approximation starts
_HIGH_WORD = np.uint64(0xFFFFFFFF00000000)
_UP, _DOWN = 2.0 ** 54, 2.0 ** -54


def _poly(c, x):
    """c[0] + c[1] x + c[2] x^2 + ... by Horner's rule."""
    r = c[-1]
    for k in c[-2::-1]:
        r = r * x + k
    return r


def _small_ratio(x):
    """y with erf(x) = x + x*y for |x| < 0.84375."""
    z = x * x
    return _poly(_PP, z) / _poly(_QQ, z)


def _mid_ratio(ax):
    """P/Q with erf(|x|) = erx + P/Q for 0.84375 <= |x| < 1.25."""
    s = ax - 1.0
    return _poly(_PA, s) / _poly(_QA, s)


def _tail_erfc(ax):
    """erfc(|x|) for 1.25 <= |x| < 28, as exp(-x^2 - 0.5625 + R/S) / |x|."""
    s = 1.0 / (ax * ax)
    near = ax < _RB_FROM
    ratio = np.empty_like(ax)
    sn, sf = s[near], s[~near]
    ratio[near] = _poly(_RA, sn) / _poly(_SA, sn)
    ratio[~near] = _poly(_RB, sf) / _poly(_SB, sf)
    # z is ax with its low 32 bits cleared, so that z*z is exact and exp(-x^2) keeps full relative accuracy
    z = (ax.view(np.uint64) & _HIGH_WORD).view(np.float64)
    return np.exp(-z * z - 0.5625) * np.exp((z - ax) * (z + ax) + ratio) / ax


def _erf64(x):
    """erf of a 1-D float64 array."""
    ax = np.abs(x)
    out = x.copy()  # NaN stays NaN
    m = ax < _SMALL
    xs = x[m] * _UP  # scaled so that subnormal results are rounded only once
    out[m] = (xs + xs * _small_ratio(x[m])) * _DOWN
    m = (ax >= _SMALL) & (ax < _MID)
    out[m] = np.copysign(_ERX + _mid_ratio(ax[m]), x[m])
    m = (ax >= _MID) & (ax < 6.0)
    out[m] = np.copysign(1.0 - _tail_erfc(ax[m]), x[m])
    m = ax >= 6.0  # erf rounds to +-1 (also for +-inf)
    out[m] = np.copysign(1.0, x[m])
    return out


def _erfc64(x):
    """erfc of a 1-D float64 array."""
    ax = np.abs(x)
    out = x.copy()
    m = ax < _SMALL
    xs = x[m]
    xy = xs * _small_ratio(xs)
    # for x >= 1/4 the form 0.5 - (x*y + (x - 0.5)) avoids cancellation
    out[m] = np.where(xs < 0.25, 1.0 - (xs + xy), 0.5 - (xy + (xs - 0.5)))
    m = (ax >= _SMALL) & (ax < _MID)
    xs, pq = x[m], _mid_ratio(ax[m])
    out[m] = np.where(xs > 0, (1.0 - _ERX) - pq, 1.0 + (_ERX + pq))
    m = (ax >= _MID) & (ax < 28.0)
    xs, r = x[m], _tail_erfc(ax[m])
    out[m] = np.where(xs > 0, r, 2.0 - r)
    m = ax >= 28.0
    out[m] = np.where(x[m] > 0, 0.0, 2.0)
    return out


def _apply(fn64, a):
    flat = np.asarray(a, dtype=np.float64).reshape(-1)
    out = fn64(flat).reshape(np.shape(a))
    return out if a.dtype == np.float64 or a.dtype.kind in "biu" else out.astype(a.dtype)


# erf(x) = x P(x^2) / Q(x^2) on [-4, 4] (erf is +-1 in float32 beyond), coefficients highest degree first
_P32 = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
        -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_Q32 = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
        -1.42647390514189e-02)


def _erf32(a):
    x = np.clip(a.astype(np.float32), np.float32(-4), np.float32(4))
    x2 = x * x
    p = np.full_like(x, _P32[0])
    for c in _P32[1:]:
        p *= x2
        p += np.float32(c)
    q = np.full_like(x, _Q32[0])
    for c in _Q32[1:]:
        q *= x2
        q += np.float32(c)
    p *= x
    p /= q
    return p if a.dtype == np.float32 else p.astype(a.dtype)


def erf(xp, a):
    """erf of every element of a (in a's floating dtype)."""
    if xp is not np:
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(a)
    if a.dtype.kind == "f" and a.dtype.itemsize <= 4 or a.dtype.kind == "V":
        return _erf32(a)
    return _apply(_erf64, a)


def erfc(xp, a):
    """erfc = 1 - erf of every element of a, accurate in the tails (in a's floating dtype)."""
    if xp is not np:
        import cupyx.scipy.special
        return cupyx.scipy.special.erfc(a)
    return _apply(_erfc64, a)
