"""torch.sparse: functions on sparse COO tensors. The ops themselves (and sparse_coo_tensor, to_dense, to_sparse,
coalesce, and mm/matmul with a sparse operand) are in ember/ops/sparse.py."""
from .ops.sparse import sparse_mm as mm, sparse_sum as sum  # noqa: A001  (torch.sparse.sum's name)

__all__ = ["mm", "sum"]
