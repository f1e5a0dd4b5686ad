"""Data-parallel training of an MLP on the bundled 8x8 digits across processes (DistributedDataParallel over MPI):
each rank trains on its share of every batch, and the gradients are averaged across the ranks during backward.
Only rank 0 prints and saves. Start it on 2 processes of this machine with either of

    ember launch -n 2 examples/digits_ddp.py [--epochs 10] [--save model.safetensors]
    mpiexec -n 2 python examples/digits_ddp.py

or alone (`python examples/digits_ddp.py`: a world of one process).
"""
import argparse
import sys

import ember
import ember.distributed as dist
from ember import nn, optim
from ember.data import DataLoader, DistributedSampler, datasets
from ember.nn.parallel import DistributedDataParallel as DDP


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch (split across the ranks)")
    parser.add_argument("--save", help="rank 0 saves the trained weights here")
    args = parser.parse_args(argv)

    dist.init_process_group(backend="mpi")  # rank and world size come from MPI
    rank, world = dist.get_rank(), dist.get_world_size()
    ember.manual_seed(0)
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    sampler = DistributedSampler(train, shuffle=True, seed=0)
    loader = DataLoader(train, batch_size=args.batch_size // world, sampler=sampler)
    model = DDP(nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()  # gradients averaged over the ranks here
            optimizer.step()
    model.eval()
    with ember.no_grad():
        x, y = next(iter(DataLoader(test, batch_size=len(test))))
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    if rank == 0:
        print(f"{world} ranks, {args.epochs} epochs: test accuracy {accuracy:.4f}")
        if args.save:
            ember.save(model.module.state_dict(), args.save)  # the wrapped model's keys, without "module."
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
