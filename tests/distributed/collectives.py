"""Run by tests/test_distributed.py on 2 ranks (through `ember launch`): every collective of ember.distributed
against the values NumPy gives, on both ranks. Prints "ok" on rank 0."""
import os

import numpy as np

import ember
import ember.distributed as dist

dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
assert (rank, world) == (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])) and world == 2
assert os.environ["LOCAL_RANK"] == str(rank) and dist.is_initialized() and dist.get_backend() == "mpi"


def mine(r):
    """Rank r's data."""
    return np.arange(6, dtype=np.float32).reshape(2, 3) * (r + 1) - r


everyone = [mine(r) for r in range(world)]
for op, expect in ((dist.ReduceOp.SUM, sum(everyone)), (dist.ReduceOp.AVG, sum(everyone) / world),
                   (dist.ReduceOp.MAX, np.maximum(*everyone)), (dist.ReduceOp.MIN, np.minimum(*everyone)),
                   (dist.ReduceOp.PRODUCT, everyone[0] * everyone[1])):
    t = ember.tensor(mine(rank))
    version = t._version
    assert dist.all_reduce(t, op=op) is None
    np.testing.assert_allclose(t.numpy(), expect, rtol=1e-6)
    assert t._version > version  # written in place, as an in-place op

t = ember.tensor(mine(rank))
work = dist.all_reduce(t, async_op=True)
assert isinstance(work, dist.Work) and work.wait() is True and work.is_completed()
np.testing.assert_allclose(work.result()[0].numpy(), sum(everyone))

t = ember.tensor(mine(rank)).t()  # not contiguous: reduced through a copy, written back
dist.all_reduce(t)
np.testing.assert_allclose(t.numpy(), sum(everyone).T)
for dtype, values, expect in ((ember.int64, [rank, 5], [1, 5]), (ember.bool, [rank == 1, False], [True, False]),
                              (ember.float16, [0.5, rank], [0.5, 1.0])):
    t = ember.tensor(values, dtype=dtype)  # int64 natively; bool and float16 through a wider copy
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    assert t.dtype == dtype and t.tolist() == expect, (dtype, t)

t = ember.tensor(mine(rank))
dist.broadcast(t, src=1)
np.testing.assert_array_equal(t.numpy(), mine(1))

out = [ember.zeros(2, 3) for _ in range(world)]
dist.all_gather(out, ember.tensor(mine(rank)))
for r in range(world):
    np.testing.assert_array_equal(out[r].numpy(), mine(r))
big = ember.zeros(4, 3)
dist.all_gather_into_tensor(big, ember.tensor(mine(rank)))
np.testing.assert_array_equal(big.numpy(), np.concatenate(everyone))

pieces = [ember.tensor(mine(rank) + 10 * i) for i in range(world)]
got = ember.zeros(2, 3)
dist.reduce_scatter(got, pieces)
np.testing.assert_allclose(got.numpy(), sum(mine(r) + 10 * rank for r in range(world)))
got = ember.zeros(1, 3)
dist.reduce_scatter_tensor(got, ember.tensor(mine(rank)), op=dist.ReduceOp.MAX)
np.testing.assert_allclose(got.numpy(), np.maximum(*[e[rank:rank + 1] for e in everyone]))

t = ember.tensor(mine(rank))
dist.reduce(t, dst=1)
np.testing.assert_allclose(t.numpy(), sum(everyone) if rank == 1 else mine(rank))
gathered = [ember.zeros(2, 3) for _ in range(world)] if rank == 0 else None
dist.gather(ember.tensor(mine(rank)), gathered, dst=0)
if rank == 0:
    for r in range(world):
        np.testing.assert_array_equal(gathered[r].numpy(), mine(r))
t = ember.zeros(2, 3)
dist.scatter(t, [ember.tensor(mine(r) + 100) for r in range(world)] if rank == 1 else None, src=1)
np.testing.assert_array_equal(t.numpy(), mine(rank) + 100)

t = ember.zeros(3)
if rank == 0:
    dist.send(ember.tensor([1.0, 2.0, 3.0]), dst=1)
    work = dist.irecv(t, src=1)
    work.wait()
    assert t.tolist() == [4.0, 5.0, 6.0]
else:
    assert dist.recv(t) == 0 and t.tolist() == [1.0, 2.0, 3.0]
    dist.isend(ember.tensor([4.0, 5.0, 6.0]), dst=0).wait()
dist.barrier()

# all_to_all: rank r sends rank j a tensor of j + 1 values from r (the sizes differ per pair), and bools
out = [ember.zeros(rank + 1) for _ in range(world)]
dist.all_to_all(out, [ember.full((j + 1,), 10.0 * rank + j) for j in range(world)])
assert [t.tolist() for t in out] == [[10.0 * r + rank] * (rank + 1) for r in range(world)]
out = [ember.zeros(2, dtype=ember.bool) for _ in range(world)]
work = dist.all_to_all(out, [ember.tensor([r == rank, True]) for r in range(world)], async_op=True)
assert work.wait() and [t.tolist() for t in out] == [[r == rank, True] for r in range(world)]

# object collectives: what ember.save writes, read back through ember.load's allowlist
gathered = [None] * world
dist.all_gather_object(gathered, {"rank": rank, "loss": 0.5 * rank, "weights": ember.full((2,), float(rank))})
assert [g["rank"] for g in gathered] == list(range(world)) and [g["loss"] for g in gathered] == [0.0, 0.5]
assert [g["weights"].tolist() for g in gathered] == [[0.0, 0.0], [1.0, 1.0]]
config = [{"lr": 0.1, "name": "run"}, [1, 2, 3], ember.arange(3.0)] if rank == 1 else [None, None, None]
dist.broadcast_object_list(config, src=1)
assert config[:2] == [{"lr": 0.1, "name": "run"}, [1, 2, 3]] and config[2].tolist() == [0.0, 1.0, 2.0]

results = [None] * world if rank == 0 else None
dist.gather_object({"rank": rank, "words": ["a"] * (rank + 1)}, results, dst=0)
if rank == 0:
    assert results == [{"rank": r, "words": ["a"] * (r + 1)} for r in range(world)]
mine = [None]
dist.scatter_object_list(mine, [{"shard": r, "rows": list(range(r + 2))} for r in range(world)] if rank == 1 else None,
                         src=1)
assert mine == [{"shard": rank, "rows": list(range(rank + 2))}]


class Unlisted:  # a class no rank allowed: refused by the reading ranks, after the exchange (no rank waits)
    pass


try:
    dist.all_gather_object([None] * world, Unlisted())
except Exception as e:
    assert type(e).__name__ == "UnpicklingError" and "Unlisted" in str(e), e
else:
    raise AssertionError("all_gather_object built an object of a class no rank allowed")
dist.barrier()

solo = dist.new_group([1])
if rank == 1:
    assert dist.get_rank(solo) == 0 and dist.get_world_size(solo) == 1 and dist.get_process_group_ranks(solo) == [1]
    t = ember.ones(2)
    dist.all_reduce(t, group=solo)
    assert t.tolist() == [1.0, 1.0]
else:
    assert solo == dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(solo) == -1
    assert dist.all_reduce(ember.ones(2), group=solo) is None  # not a member: nothing to do
assert dist.group.WORLD is dist.GroupMember.WORLD and dist.group.WORLD.size() == world
dist.destroy_process_group()
assert not dist.is_initialized()
if rank == 0:
    print("ok", flush=True)
