"""Run by tests/test_distributed.py under 2, 3 and 4 ranks: N steps of DistributedDataParallel on the ranks, each
on its share of a global batch of B samples, must give the parameters of N steps of one process on the same B
samples (1e-5). Also checks no_sync (gradient accumulation) and find_unused_parameters the same way; each case with
the buckets reduced in a shared-memory window (all ranks on this machine: one-shot up to 3 ranks, two-shot beyond
and for gradient_as_bucket_view) and with MPI's Iallreduce; then DistributedTrainer(compile=True). Prints "ok" on
rank 0."""
import copy
import sys

import numpy as np

import ember
import ember.distributed as dist
from ember import nn
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.nn.parallel import distributed as ddp_module

STEPS, B = 3, 24  # (an odd number of steps: the one-shot reductions end in the second set of parts; B splits
# evenly into the shares and micro-batches of 2, 3 and 4 ranks)


class Net(nn.Module):
    def __init__(self, unused=False, width=32, norm=False):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, width), nn.BatchNorm1d(width) if norm else nn.Tanh(),
                                  nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 3))
        self.spare = nn.Linear(6, 3) if unused else None

    def forward(self, x):
        return self.body(x)


def data(step, n=B):
    rng = np.random.default_rng(step)
    return (ember.tensor(rng.standard_normal((n, 6)).astype(np.float32)),
            ember.tensor(rng.integers(0, 3, n)))


def train(model, opt, rank, world, accumulate=1, wrap=None):
    """STEPS optimizer steps; each on the global batch of its step, of which this rank takes its share."""
    net = wrap or model
    for step in range(STEPS):
        x, y = data(step)
        share = slice(rank * B // world, (rank + 1) * B // world)
        x, y = x[share], y[share]
        chunk = x.shape[0] // accumulate
        opt.zero_grad()
        for k in range(accumulate):
            part = slice(k * chunk, (k + 1) * chunk)
            last = k == accumulate - 1
            ctx = net.no_sync() if wrap is not None and not last else _nothing()
            with ctx:
                loss = nn.functional.cross_entropy(net(x[part]), y[part]) / accumulate
                loss.backward()
        opt.step()
    return model


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def check(name, ours, reference, buffers=True):
    """The largest difference between the parameters (and buffers) of two models; exits when it passes 1e-5."""
    pairs = [*zip(ours.parameters(), reference.parameters())] + [*zip(ours.buffers(), reference.buffers())] * buffers
    worst = max(float(np.abs(a.detach().numpy() - b.detach().numpy()).max()) for a, b in pairs)
    if worst > 1e-5:
        print(f"FAIL {name}: parameters (or buffers) differ from the reference by {worst:.3g}", flush=True)
        sys.exit(1)
    return worst


def fit(model, rank, world, accumulate, compile=False, micro=None, weight_decay=0.0):
    """Trainer.fit (DistributedTrainer's on several ranks) for one epoch of the STEPS global batches, this rank
    taking its share of each in micro (default: accumulate) loader batches; SGD with momentum."""
    from ember.data import DataLoader, TensorDataset
    from ember.train import Trainer
    from ember.train.distributed import DistributedTrainer
    xs, ys = zip(*(data(step) for step in range(STEPS)))
    mine = np.concatenate([np.arange(step * B + rank * B // world, step * B + (rank + 1) * B // world)
                           for step in range(STEPS)])
    loader = DataLoader(TensorDataset(ember.cat(xs)[mine], ember.cat(ys)[mine]),
                        batch_size=B // world // (micro or accumulate))
    kind = Trainer if world == 1 else DistributedTrainer
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=weight_decay)
    trainer = kind(model, opt, nn.functional.cross_entropy, metrics=[], accumulate_steps=accumulate, compile=compile)
    trainer.fit(loader, epochs=1, verbose=0)
    return trainer


def trainer_cases(rank, world):
    """DistributedTrainer: eagerly with accumulated gradients (one all-reduce per update: the epoch's 6
    micro-batches make an update of 4 and a last one of 2), and compile=True (the compiled step leaves local
    gradients, the update averages them)."""
    finish, reductions = ddp_module._Reducer._finish, []
    ddp_module._Reducer._finish = lambda self: reductions.append(1) or finish(self)
    ember.manual_seed(rank)
    model = Net()
    fit(model, rank, world, 4, micro=2)
    ddp_module._Reducer._finish = finish
    ember.manual_seed(0)
    worst = check("DistributedTrainer, accumulate 4", model, fit(Net(), 0, 1, 4, micro=2).model)
    if len(reductions) != 2:
        print(f"FAIL DistributedTrainer, accumulate 4: {len(reductions)} all-reduces for 2 updates", flush=True)
        sys.exit(1)
    if rank == 0:
        print(f"DistributedTrainer, accumulate 4: max difference {worst:.2g}", flush=True)
    for accumulate in (1, 2):
        ember.manual_seed(rank)
        model = Net()
        trainer = fit(model, rank, world, accumulate, compile=True)
        explained = trainer._compiled["train_step"].explain()
        if "graph break" in explained:
            print(f"FAIL compiled DistributedTrainer: the step broke the graph:\n{explained}", flush=True)
            sys.exit(1)
        ember.manual_seed(0)  # rank 0's initial weights, which the trainer broadcast
        reference = fit(Net(), 0, 1, accumulate).model
        worst = check(f"compiled DistributedTrainer, accumulate {accumulate}", model, reference)
        if rank == 0:
            print(f"compiled DistributedTrainer, accumulate {accumulate}: max difference {worst:.2g}", flush=True)
    # a parameter no rank uses keeps no gradient (SGD's weight decay then leaves it as it was), as in one process
    ember.manual_seed(rank)
    model = Net(unused=True)
    fit(model, rank, world, 1, compile=True, weight_decay=0.1)
    ember.manual_seed(0)
    reference = fit(Net(unused=True), 0, 1, 1, weight_decay=0.1).model
    worst = check("compiled DistributedTrainer, an unused parameter", model, reference)
    if rank == 0:
        print(f"compiled DistributedTrainer, an unused parameter: max difference {worst:.2g}", flush=True)
    # with batch norm, DDP is not one process (each rank normalises its share): the eager DistributedTrainer is
    # the reference, its parameters and buffers; after an epoch every rank holds rank 0's running statistics
    # (the compiled trainer sends them after each update, the eager one's DDP before each forward and the trainer
    # after the epoch), so every rank validates the same model
    ember.manual_seed(rank)
    model = Net(norm=True)
    fit(model, rank, world, 1, compile=True)
    ember.manual_seed(rank)
    reference = Net(norm=True)
    fit(reference, rank, world, 1)
    worst = check("compiled DistributedTrainer, batch norm", model, reference)
    for trained in (model, reference):
        stats = trained.body[1].running_mean
        every = [ember.zeros_like(stats) for _ in range(world)]
        dist.all_gather(every, stats)
        if not all(np.array_equal(t.numpy(), every[0].numpy()) for t in every) or not stats.abs().sum().item():
            print("FAIL DistributedTrainer, batch norm: the ranks' running statistics differ", flush=True)
            sys.exit(1)
    if rank == 0:
        print(f"compiled DistributedTrainer, batch norm: max difference {worst:.2g}", flush=True)


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    assert world in (2, 3, 4), world
    cases = (("buckets of 1 KB, SGD momentum", dict(bucket_cap_mb=0.001), 1, "sgd"),
             ("one bucket, Adam", {}, 1, "adam"),
             ("no_sync, 2 micro-batches", {}, 2, "sgd"),
             ("find_unused_parameters", dict(find_unused_parameters=True), 1, "sgd"),
             ("gradient_as_bucket_view", dict(gradient_as_bucket_view=True), 1, "adam"),
             ("a 1 MB weight", {}, 2, "sgd"))
    for (name, kwargs, accumulate, opt_kind), shared in [(c, s) for s in (True, False) for c in cases]:
        ddp_module._SHARED_MEMORY = shared
        ember.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
        unused = "find_unused" in name
        model = Net(unused, width=512 if "1 MB" in name else 32)  # Iallreduce: a 1 MB weight is reduced in its .grad
        name += ", shared memory" if shared else ", Iallreduce"
        ddp = DDP(model, **kwargs)
        if (ddp.reducer.shared is not None) != shared:
            print(f"FAIL {name}: the buckets are {'not ' if shared else ''}in shared memory", flush=True)
            sys.exit(1)
        reference = copy.deepcopy(model)  # rank 0's weights, after the broadcast
        make = (lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9)) if opt_kind == "sgd" else \
            (lambda ps: ember.optim.Adam(ps, lr=0.01))
        train(model, make(model.parameters()), rank, world, accumulate, wrap=ddp)
        train(reference, make(reference.parameters()), 0, 1, accumulate)
        worst = check(name, model, reference)
        # one-shot reductions take turns between the window's two sets of parts (two-shot ones, beyond
        # _ONE_SHOT_RANKS and for gradients that are views of the buckets, stay in the first)
        one_shot = world <= ddp_module._ONE_SHOT_RANKS and "as_bucket_view" not in name
        turns = STEPS % 2 if one_shot else 0
        if shared and ddp.reducer.shared.turn != turns:
            print(f"FAIL {name}: the shared buckets are in set {ddp.reducer.shared.turn} after {STEPS} steps",
                  flush=True)
            sys.exit(1)
        if unused and model.spare.weight.grad is not None:
            print(f"FAIL {name}: the unused parameter got a gradient", flush=True)
            sys.exit(1)
        if rank == 0:
            print(f"{name}: max difference {worst:.2g}", flush=True)
    ddp_module._SHARED_MEMORY = True
    trainer_cases(rank, world)
    dist.destroy_process_group()
    if rank == 0:
        print("ok", flush=True)


if __name__ == "__main__":
    main()
