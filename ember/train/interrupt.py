"""Ctrl-C during training: the first one asks the training loop to stop at the end of the current batch, so the
checkpoint saved then is a consistent point to resume from (a KeyboardInterrupt raised in the middle of
optimizer.step() would leave some parameters updated and others not); a second one stops at once."""
import os
import signal
import sys
import threading

__all__ = ["StopRequest"]


class StopRequest:
    """Context manager that turns SIGINT into a request: ``requested`` becomes True and ``check()`` raises
    KeyboardInterrupt where the loop calls it; a second SIGINT raises KeyboardInterrupt at once.

    It takes over only in the main thread and only from Python's default handler (a program's own SIGINT handler
    is left alone). Worker processes forked meanwhile inherit it and ignore the signal: their parent stops them.
    """

    def __init__(self):
        self.requested = False
        self._previous = self._pid = None

    def __enter__(self):
        self.requested = False
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._pid = os.getpid()
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum, frame):
        if os.getpid() != self._pid:
            return
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping at the end of this batch (press Ctrl-C again to stop at once)", file=sys.stderr,
              flush=True)

    def check(self):
        """Raise KeyboardInterrupt if a stop was requested."""
        if self.requested:
            raise KeyboardInterrupt
