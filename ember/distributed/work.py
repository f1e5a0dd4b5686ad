"""Work: the handle of an asynchronous collective (torch.distributed.Work), waited on against a deadline."""
import os
import time

__all__ = ["Work"]

_YIELD_S = 0.05   # poll, yielding the core now and then, this long (MPI's own blocking calls spin too) ...
_NAP_S = 0.001    # ... then sleep this long between polls: by then a rank is far behind (or hung)
_POLLS = 64       # polls between looks at the clock


class Work:
    """The handle of a started collective, as collectives with ``async_op=True``, isend and irecv return it.

    ``wait()`` blocks until it has finished on this rank (raising DistBackendError when the process group's
    timeout passes first), ``is_completed()`` polls, ``result()`` gives the output tensors. Non-blocking MPI
    requests are polled, never waited on in MPI, so a rank that stops responding cannot block the others forever.
    The collectives make Works; code does not construct them.

    Args:
        requests (list): the collective's mpi4py requests.
        group (ProcessGroup): its process group.
        what (str): the collective's name, for messages.
        finish (callable, optional): called once when the requests are done (copies results into the tensors).
            Default: None.
        result (sequence of Tensor): the output tensors. Default: ().
        statuses (list, optional): mpi4py Status objects MPI fills when the requests complete. Default: None.

    PyTorch:
        ``torch.distributed.Work``; ``wait``, ``is_completed``, ``is_success``, ``result`` and ``exception``
        (always None) as PyTorch's; no futures (``get_future``).

    Example:
        >>> import mpi4py  # the MPI backend: pip install 'ember[mpi]'
        >>> import ember.distributed as dist
        >>> dist.init_process_group("mpi")  # without mpiexec: a world of one process
        >>> work = dist.all_reduce(ember.tensor([1.0, 2.0]), async_op=True)
        >>> work.wait(), work.is_completed(), work.result()
        (True, True, [tensor([1., 2.])])
        >>> dist.destroy_process_group()
    """

    def __init__(self, requests, group, what, finish=None, result=(), statuses=None):
        self._requests, self._group, self._what = list(requests), group, what
        self._statuses = statuses  # filled in by MPI when the requests complete (recv reads its sender there)
        self._finish, self._result, self._done = finish, list(result), False
        self._started = time.monotonic()

    def _complete(self):
        self._done, self._requests = True, []
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()

    def _test(self):
        if self._statuses is None:
            return self._group._mpi.Request.Testall(self._requests)
        return self._group._mpi.Request.Testall(self._requests, self._statuses)

    def is_completed(self):
        """Whether the collective has finished on this rank (polls MPI once; never blocks)."""
        if not self._done and self._test():
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()

    def wait(self, timeout=None):
        """Block until the collective has finished; True. Raises DistBackendError when timeout (a timedelta or
        seconds; default: the process group's) passes first from the moment the collective started."""
        if self._done:
            return True
        limit = self._group.timeout_s if timeout is None else _seconds(timeout)
        test = self._test
        start = time.monotonic()
        nap_after, deadline = start + _YIELD_S, self._started + limit
        polls = 0
        while not test():
            polls += 1
            if polls % _POLLS:
                continue
            now = time.monotonic()
            if now > deadline:
                raise self._group._timed_out(self._what, limit)
            if now > nap_after:
                time.sleep(_NAP_S)
            else:
                os.sched_yield()
        self._complete()
        return True

    def result(self):
        """The output tensors of the collective (after wait())."""
        return self._result

    def exception(self):
        return None

    def __repr__(self):
        return f"Work({self._what}, completed={self._done})"


def _seconds(timeout):
    seconds = timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)
    if not seconds > 0:
        raise ValueError(f"ember.distributed: timeout must be positive, got {timeout!r}")
    return seconds


