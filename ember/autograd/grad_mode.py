"""Grad modes: whether operations are recorded for autograd (per thread, as in PyTorch).

``no_grad``, ``enable_grad``, ``set_grad_enabled`` and ``inference_mode`` work as context managers and as
decorators (of functions and of generator functions).
"""
from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]

_F = TypeVar("_F", bound=Callable[..., Any])  # a decorated function keeps its type


class _GradMode(threading.local):
    """The grad mode, per thread as in PyTorch (every new thread starts with recording enabled)."""

    def __init__(self):
        self.enabled = True
        self.inference = False


state = _GradMode()  # this thread's mode: read by autograd.graph.apply for every op; set only by the classes here


def is_grad_enabled():
    """Return whether operations are being recorded for autograd in this thread.

    Returns:
        bool: False inside ``no_grad``, ``inference_mode`` or ``set_grad_enabled(False)``; True otherwise.

    PyTorch:
        ``torch.is_grad_enabled``; same semantics.

    Example:
        >>> ember.is_grad_enabled()
        True
        >>> with ember.no_grad():
        ...     ember.is_grad_enabled()
        False
    """
    return state.enabled


def is_inference_mode_enabled():
    """Return whether this thread is inside an ``inference_mode`` region.

    Returns:
        bool: True inside ``inference_mode()`` (not ``inference_mode(False)``).

    PyTorch:
        ``torch.is_inference_mode_enabled``; same semantics.

    Example:
        >>> with ember.inference_mode():
        ...     ember.autograd.is_inference_mode_enabled()
        True
    """
    return state.inference


def _decorate(fn, enter, leave):
    """Wrap fn (a function or a generator function) so that it runs between enter() and leave(saved)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            saved = enter()
            try:
                value = gen.send(None)
            finally:
                leave(saved)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:  # forward throw() into the generator
                    saved = enter()
                    try:
                        value = gen.throw(exc)
                    finally:
                        leave(saved)
                else:
                    saved = enter()
                    try:
                        value = gen.send(sent)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        leave(saved)

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        saved = enter()
        try:
            return fn(*args, **kwargs)
        finally:
            leave(saved)

    return wrapper


def _setter(enabled):
    def enter():
        prev = state.enabled
        state.enabled = enabled
        return prev

    def leave(prev):
        state.enabled = prev

    return enter, leave


class set_grad_enabled:
    """Turn gradient recording on or off in this thread.

    Called as a function it sets the mode at once (until set again); as a context manager it restores the
    previous mode on exit; as a decorator the function runs with that mode.

    Args:
        mode (bool): True to record operations for autograd, False not to. Default: True.

    PyTorch:
        ``torch.set_grad_enabled``; same semantics, but ``mode`` defaults to True (PyTorch requires it).

    Example:
        >>> x = ember.ones(2, requires_grad=True)
        >>> with ember.set_grad_enabled(False):
        ...     (x * 2).requires_grad
        False
    """

    def __init__(self, mode=True):
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev

    def __call__(self, fn):
        state.enabled = self.prev  # used as a decorator: the constructor must not have changed the mode
        return _decorate(fn, *_setter(self.mode))


class _ModeContext:
    """Base of no_grad/enable_grad: a context manager and a decorator (with or without parentheses)."""

    mode = True

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if fn is not None and callable(fn):  # @no_grad without parentheses
            return self(fn)
        return self

    def __init__(self, fn=None):
        self.prev = []

    def __enter__(self) -> _ModeContext:
        self.prev.append(state.enabled)
        state.enabled = self.mode
        return self

    def __exit__(self, *exc: object) -> None:
        state.enabled = self.prev.pop()

    def __call__(self, fn: _F) -> _F:
        return _decorate(fn, *_setter(self.mode))


class no_grad(_ModeContext):
    """Context manager and decorator that turns gradient recording off.

    Inside it, results of operations do not require grad even when their inputs do (use it for evaluation and
    for in-place updates of parameters). It restores the previous mode on exit and works on generator functions.

    Args:
        fn (callable, optional): the function to decorate, when used as ``@no_grad`` without parentheses.
            Default: None.

    PyTorch:
        ``torch.no_grad``; same semantics.

    Example:
        >>> x = ember.ones(2, requires_grad=True)
        >>> with ember.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    mode = False


class enable_grad(_ModeContext):
    """Context manager and decorator that turns gradient recording on (inside ``no_grad``, for instance).

    It restores the previous mode on exit and works on generator functions.

    Args:
        fn (callable, optional): the function to decorate, when used as ``@enable_grad`` without parentheses.
            Default: None.

    PyTorch:
        ``torch.enable_grad``; same semantics.

    Example:
        >>> x = ember.ones(2, requires_grad=True)
        >>> with ember.no_grad():
        ...     with ember.enable_grad():
        ...         y = x * 2
        >>> y.requires_grad
        True
    """

    mode = True


class inference_mode:
    """Context manager and decorator for inference: gradient recording off, as ``no_grad``.

    ``is_inference_mode_enabled()`` is True inside; ``inference_mode(False)`` changes nothing. It works with or
    without parentheses as a decorator.

    Args:
        mode (bool or callable): whether to enter inference mode; or the function to decorate, when used as
            ``@inference_mode`` without parentheses. Default: True.

    PyTorch:
        ``torch.inference_mode``; same semantics, except that ember has no separate inference tensors: tensors
        made inside are ordinary tensors that do not require grad (``Tensor.is_inference()`` does not exist,
        and using them in autograd later is allowed).

    Example:
        >>> x = ember.ones(2, requires_grad=True)
        >>> with ember.inference_mode():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode) and not isinstance(mode, bool):  # @inference_mode without parentheses
            self.__init__(True)
            return self(mode)
        return self

    def __init__(self, mode=True):
        self.enabled = bool(mode)
        self.prev = []

    def _enter(self):
        prev = (state.enabled, state.inference)
        if self.enabled:
            state.enabled, state.inference = False, True
        return prev

    @staticmethod
    def _leave(prev):
        state.enabled, state.inference = prev

    def __enter__(self):
        self.prev.append(self._enter())
        return self

    def __exit__(self, *exc):
        self._leave(self.prev.pop())

    def __call__(self, fn):
        return _decorate(fn, self._enter, self._leave)
