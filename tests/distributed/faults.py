"""Run by tests/test_distributed.py under 2 ranks: DDP training where rank 1 misbehaves at step 2.
usage: faults.py MODE TIMEOUT_S, MODE one of hang (rank 1 stops responding), kill (rank 1 is killed by SIGKILL),
raise (rank 1 dies of an uncaught exception). Rank 0 prints "step N" as it goes."""
import datetime
import os
import signal
import sys
import time

import ember
import ember.distributed as dist
from ember import nn
from ember.nn.parallel import DistributedDataParallel as DDP

mode, timeout = sys.argv[1], float(sys.argv[2])
# the default timeout while the ranks start (on a loaded machine one may finish importing seconds after the
# other), then a group of both with the short one for the training
dist.init_process_group("mpi")
dist.barrier()
group = dist.new_group(timeout=datetime.timedelta(seconds=timeout))
rank = dist.get_rank()
model = DDP(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), process_group=group)
opt = ember.optim.SGD(model.parameters(), lr=0.1)
for step in range(5):
    if rank == 1 and step == 2:
        if mode == "hang":
            time.sleep(120)
        elif mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif mode == "raise":
            raise ValueError("rank 1 broke")
    opt.zero_grad()
    model(ember.randn(8, 4)).pow(2).mean().backward()
    opt.step()
    if rank == 0:
        print(f"step {step}", flush=True)
dist.destroy_process_group()
