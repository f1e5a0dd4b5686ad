"""torch.special: special functions (the ops are in ember/ops/special.py)."""
from .ops.activation import log_softmax_method as log_softmax, softmax_method as softmax
from .ops.reduce import logsumexp
from .ops.special import (digamma, entr, erfcx, erfinv, i0, i0e, i1, i1e, lgamma, log_ndtr, logit, mvlgamma, ndtr,
                          ndtri, polygamma, sinc, xlog1py, xlogy, zeta)
from .ops.unary import erf, erfc, exp2, expm1, log1p, round, sigmoid

__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i0e", "i1",
           "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta"]

expit = sigmoid
gammaln = lgamma
psi = digamma
multigammaln = mvlgamma
