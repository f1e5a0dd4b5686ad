"""torch.distributions: probability distributions with sampling, log-probabilities and KL divergences.

Every distribution samples from ember's generator (``ember.manual_seed``), so draws repeat under a seed (the
numbers differ from PyTorch's); densities, moments and KL divergences are PyTorch's formulas.
"""
# the submodules (constraints, transforms, kl, utils) are attributes of the package once these imports ran
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .exponential import Exponential
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .log_normal import LogNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ExpTransform, Transform
from .uniform import Uniform

__all__ = [
    "AffineTransform", "Bernoulli", "Categorical", "Distribution", "ExpTransform", "Exponential", "Independent",
    "Laplace", "LogNormal", "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough", "Transform",
    "TransformedDistribution", "Uniform", "kl_divergence", "register_kl",
]
