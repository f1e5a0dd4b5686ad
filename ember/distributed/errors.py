"""The errors of ember.distributed, with torch.distributed's names."""

__all__ = ["DistError", "DistBackendError"]


class DistError(RuntimeError):
    """An error of the distributed package: the base of its own errors (a RuntimeError).

    PyTorch:
        ``torch.distributed.DistError``; same use.
    """


class DistBackendError(DistError):
    """A collective failed in the backend: a rank timed out waiting for the others (hung, or died).

    The message names the rank, the collective, the timeout and the other ranks of the group.

    PyTorch:
        ``torch.distributed.DistBackendError``; same use.
    """
