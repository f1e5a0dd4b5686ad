"""torch.multiprocessing's names over the standard library's multiprocessing.

Process, Queue, Pool, Pipe, Manager, set_start_method, ... are the standard library's own; ``spawn`` and
``start_processes`` run ``fn(i, *args)`` in ``nprocs`` processes and, when one fails, stop the others and raise
in the parent with its traceback, as PyTorch's do.

A tensor sent to another process (through a Queue or a Pipe, as Pool or spawn arguments) after
``share_memory_()`` travels as a handle to its shared memory (PyTorch's 'file_descriptor' strategy, see
ember._shared_memory): the receiver writes to the sender's memory. Other tensors travel as copies of their values
(PyTorch would move them to shared memory first). ``set_sharing_strategy`` is accepted and changes nothing.
"""
import multiprocessing as _mp
import multiprocessing.connection as _connection
import os
import pickle
import signal
import sys
import tempfile
import time
import traceback
import warnings
from multiprocessing import (  # noqa: F401  (the standard library's names, as torch.multiprocessing has them)
    Array, AuthenticationError, Barrier, BoundedSemaphore, BufferTooShort, Condition, Event, JoinableQueue, Lock,
    Manager, Pipe, Pool, Process, ProcessError, Queue, RLock, RawArray, RawValue, Semaphore, SimpleQueue,
    TimeoutError, Value, active_children, allow_connection_pickling, cpu_count, current_process, freeze_support,
    get_all_start_methods, get_context, get_logger, get_start_method, log_to_stderr, parent_process, set_executable,
    set_forkserver_preload, set_start_method,
)

_STRATEGIES = {"file_system"} if sys.platform == "darwin" else {"file_descriptor", "file_system"}
_sharing = {"strategy": "file_system" if sys.platform == "darwin" else "file_descriptor"}


def get_all_sharing_strategies():
    return set(_STRATEGIES)


def get_sharing_strategy():
    return _sharing["strategy"]


def set_sharing_strategy(new_strategy):
    """Accepted for PyTorch's programs: ember sends tensors to other processes as pickled copies either way."""
    if new_strategy not in _STRATEGIES:
        raise ValueError(f"set_sharing_strategy: unknown strategy {new_strategy!r} (expected one of "
                         f"{sorted(_STRATEGIES)})")
    _sharing["strategy"] = new_strategy


# --- spawn: fn(i, *args) in nprocs processes (PyTorch's torch.multiprocessing.spawn) ---------------------------------
class ProcessException(Exception):
    __slots__ = ["error_index", "error_pid"]

    def __init__(self, msg, error_index, error_pid):
        super().__init__(msg)
        self.msg, self.error_index, self.error_pid = msg, error_index, error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """A process failed with an exception (its traceback is in the message)."""


class ProcessExitedException(ProcessException):
    """A process exited with a non-zero code or was killed by a signal."""

    __slots__ = ["exit_code", "signal_name"]

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid, self.exit_code, self.signal_name)


def _wrap(fn, i, args, error_file):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass  # stopped by the parent
    except Exception:
        with open(error_file, "wb") as f:
            pickle.dump(traceback.format_exc(), f)
        sys.exit(1)


class ProcessContext:
    """The processes started by start_processes(join=False): ``join()`` until it returns True."""

    def __init__(self, processes, error_files):
        self.processes, self.error_files = processes, error_files
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self):
        return [int(p.pid) for p in self.processes]

    def join(self, timeout=None, grace_period=None):
        """Wait (up to timeout) for processes to finish: True when all have finished, False when some still run.
        When one has failed, stop the others (SIGTERM, then SIGKILL after grace_period or 30 s) and raise
        ProcessRaisedException (with its traceback) or ProcessExitedException."""
        if not self.sentinels:
            return True
        error_index = None
        for sentinel in _connection.wait(list(self.sentinels), timeout=timeout):
            index = self.sentinels.pop(sentinel)
            self.processes[index].join()
            if self.processes[index].exitcode != 0:
                error_index = index
                break
        if error_index is None:
            return not self.sentinels
        if grace_period is not None:
            self._join_all(grace_period)
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        self._join_all(30 if grace_period is None else grace_period)
        for p in self.processes:
            if p.is_alive():
                p.kill()
            p.join()
        failed = self.processes[error_index]
        trace = None
        if os.access(self.error_files[error_index], os.R_OK):
            with open(self.error_files[error_index], "rb") as f:
                trace = pickle.load(f)
        for path in self.error_files:  # others may have failed too: leave no file behind
            if os.path.exists(path):
                os.unlink(path)
        if trace is not None:
            raise ProcessRaisedException(f"\n\n-- Process {error_index} terminated with the following error:\n"
                                         f"{trace}", error_index, failed.pid)
        code = failed.exitcode
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"<Unknown signal {-code}>"
            raise ProcessExitedException(f"process {error_index} terminated with signal {name}", error_index,
                                         failed.pid, code, name)
        raise ProcessExitedException(f"process {error_index} terminated with exit code {code}", error_index,
                                     failed.pid, code)

    def _join_all(self, timeout):
        end = time.monotonic() + timeout
        for p in self.processes:
            p.join(max(0, end - time.monotonic()))


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run fn(i, *args) for i in range(nprocs), each in a new process started by start_method ('spawn', 'fork',
    'forkserver'); with join, wait for all and raise if one fails (see ProcessContext.join), else return the
    ProcessContext. fn must be defined at the top level of a module (so that it pickles)."""
    ctx = _mp.get_context(start_method)
    processes, error_files = [], []
    for i in range(nprocs):
        with tempfile.NamedTemporaryFile(prefix="ember-errorfile-", suffix=".pickle", delete=False) as tf:
            path = tf.name
        os.unlink(path)  # the child writes it only when fn raises
        p = ctx.Process(target=_wrap, args=(fn, i, args, path), daemon=daemon)
        p.start()
        processes.append(p)
        error_files.append(path)
    context = ProcessContext(processes, error_files)
    if not join:
        return context
    while not context.join():
        pass


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """start_processes with the 'spawn' start method (PyTorch's torch.multiprocessing.spawn): None when join,
    else the ProcessContext."""
    if start_method != "spawn":
        warnings.warn(f"spawn only supports start_method=spawn (got: {start_method}); to use another start method "
                      "use ember.multiprocessing.start_processes(...)", FutureWarning, stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")
