import numpy as np
import pytest

import ember


@pytest.fixture(scope="session")
def torch():
    """PyTorch, the reference implementation; a test that asks for it is skipped when it is not installed."""
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state and default dtype."""
    ember.manual_seed(0)
    np.random.seed(0)
    yield
    ember.set_default_dtype(ember.float32)
