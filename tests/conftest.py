import numpy as np
import pytest

import ember


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state and default dtype."""
    ember.manual_seed(0)
    np.random.seed(0)
    yield
    ember.set_default_dtype(ember.float32)
