"""The errors of ember.distributed, with torch.distributed's names."""

__all__ = ["DistError", "DistBackendError"]


class DistError(RuntimeError):
    """An error of the distributed package (torch.distributed.DistError)."""


class DistBackendError(DistError):
    """A collective failed in the backend: a rank timed out waiting for the others (torch.distributed's)."""
