"""PyTorch's checks of optimizer hyper-parameters, with its messages (``Invalid learning rate: nan``).

Written as ``not 0.0 <= value`` (as torch.optim.Adam is), so NaN fails every check."""


def check_nonnegative(**values):
    """Check each keyword argument (a parameter name: lr, eps, weight_decay, ...) is >= 0, in the order given."""
    for name, value in values.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {_WORDS.get(name, name + ' value')}: {value}")


def check_betas(betas):
    """Both betas in [0, 1)."""
    for i in (0, 1):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")


_WORDS = {"lr": "learning rate", "eps": "epsilon value"}
