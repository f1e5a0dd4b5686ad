"""Special functions and the elementwise math beside them (ember/ops/special.py)."""
import ember
import ember.special as S

from . import OpInfo, Sample, T

_S = [Sample(T((2, 3))), Sample(T((1,))), Sample(T((0, 3)))]
_B = [Sample(T((3, 4)), T((4,), (0.2, 2.0))), Sample(T((1,)), T((2, 3), (0.2, 2.0))),
      Sample(T((0, 3)), T((1, 3), (0.2, 2.0)))]


def _u(op, fn, ref, domain, method=None, extra=(), **kw):
    return OpInfo((op,) + tuple(extra), fn, _S, name=op.lower(), method=method, ref=ref, domain=domain, **kw)


_NB = [Sample(T((3, 4), grad=False), T((4,), (0.2, 2.0), grad=False))]


def _b(op, fn, ref, method=None, samples=_B, **kw):
    return OpInfo((op,), fn, samples, name=op.lower(), method=method, ref=ref, domain=(-2.0, 2.0), **kw)


ENTRIES = [
    _u("Acosh", ember.acosh, lambda torch, x: torch.acosh(x), (1.2, 3.0), "acosh"),
    _u("Asinh", ember.asinh, lambda torch, x: torch.asinh(x), (-2.0, 2.0), "asinh"),
    _u("Atanh", ember.atanh, lambda torch, x: torch.atanh(x), (-0.9, 0.9), "atanh"),
    _u("Lgamma", ember.lgamma, lambda torch, x: torch.lgamma(x), (0.3, 4.0), "lgamma", extra=("Digamma", "Polygamma")),
    _u("Erfinv", ember.erfinv, lambda torch, x: torch.erfinv(x), (-0.9, 0.9), "erfinv"),
    _u("Erfcx", S.erfcx, lambda torch, x: torch.special.erfcx(x), (-2.0, 5.0)),
    _u("Ndtri", S.ndtri, lambda torch, x: torch.special.ndtri(x), (0.05, 0.95)),
    _u("LogNdtr", S.log_ndtr, lambda torch, x: torch.special.log_ndtr(x), (-5.0, 3.0)),
    _u("I0", ember.i0, lambda torch, x: torch.i0(x), (-3.0, 3.0), "i0", extra=("I1",)),
    _u("I0e", S.i0e, lambda torch, x: torch.special.i0e(x), (-3.0, 3.0), extra=("I1e",)),
    _u("Entr", S.entr, lambda torch, x: torch.special.entr(x), (0.2, 2.0)),
    _u("Sinc", ember.sinc, lambda torch, x: torch.sinc(x), (-2.0, 2.0), "sinc"),
    _u("Logit", ember.logit, lambda torch, x: torch.logit(x), (0.1, 0.9), "logit"),
    _u("Signbit", ember.signbit, lambda torch, x: torch.signbit(x), (-2.0, 2.0), "signbit"),
    _u("FrexpMantissa", lambda x: ember.frexp(x).mantissa, lambda torch, x: torch.frexp(x).mantissa, (-4.0, 4.0),
       extra=("FrexpExponent",)),
    _b("Xlogy", ember.xlogy, lambda torch, a, b: torch.xlogy(a, b), "xlogy"),
    _b("Xlog1py", S.xlog1py, lambda torch, a, b: torch.special.xlog1py(a, b)),
    _b("Logaddexp", ember.logaddexp, lambda torch, a, b: torch.logaddexp(a, b), "logaddexp"),
    _b("Logaddexp2", ember.logaddexp2, lambda torch, a, b: torch.logaddexp2(a, b), "logaddexp2"),
    _b("Nextafter", ember.nextafter, lambda torch, a, b: torch.nextafter(a, b), "nextafter", _NB),
    _b("Zeta", lambda a, b: S.zeta(a + 3.0, b), lambda torch, a, b: torch.special.zeta(a + 3.0, b),
       samples=_NB),
    OpInfo(("Gcd", "Lcm"), lambda a, b: ember.gcd(a, b) + ember.lcm(a, b), [], name="gcd_lcm"),
]
