"""Distributed training (issue 12): not built yet. The module exists so that programs importing ember.distributed
at the top run; it answers as PyTorch does on one process without a process group, and every call that needs a
process group says what is missing."""

__all__ = ["is_available", "is_initialized", "ReduceOp", "init_process_group", "destroy_process_group", "get_rank",
           "get_world_size", "barrier", "all_reduce", "reduce", "broadcast", "all_gather", "gather", "scatter"]


def is_available():
    """False: ember has no distributed backend yet."""
    return False


def is_initialized():
    """False: no process group has been initialized."""
    return False


class ReduceOp:
    """The reduction names of torch.distributed.ReduceOp (programs use them as default arguments)."""
    SUM, PRODUCT, MIN, MAX, BAND, BOR, BXOR, AVG = "sum", "product", "min", "max", "band", "bor", "bxor", "avg"


def _not_built(name):
    def fn(*args, **kwargs):
        raise NotImplementedError(f"ember.distributed.{name}: distributed training is not built yet")

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.distributed.{name}: distributed training is not built yet (issue 12)."
    return fn


init_process_group = _not_built("init_process_group")
destroy_process_group = _not_built("destroy_process_group")
get_rank = _not_built("get_rank")
get_world_size = _not_built("get_world_size")
barrier = _not_built("barrier")
all_reduce = _not_built("all_reduce")
reduce = _not_built("reduce")
broadcast = _not_built("broadcast")
all_gather = _not_built("all_gather")
gather = _not_built("gather")
scatter = _not_built("scatter")
