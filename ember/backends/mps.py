"""torch.backends.mps: Apple's Metal backend, which ember does not have."""

__all__ = ["is_available", "is_built"]


def is_available():
    """False: ember runs on the CPU (NumPy) and on CUDA (CuPy), not on Metal."""
    return False


def is_built():
    """False: ember has no Metal backend."""
    return False
