"""torch.func's function transforms on ember's autograd: grad, grad_and_value, vjp, jacrev, jacfwd, hessian,
vmap and functional_call. They compose (grad of grad, vmap of grad: per-sample gradients) because each runs the
function on tensors that stay in the outer transform's graph. vmap runs the function once per batch element and
stacks the results: PyTorch's semantics without its batching rules (a loop's speed)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .autograd.engine import grad as _autograd_grad
from .autograd.grad_mode import enable_grad
from .nn.utils.stateless import functional_call
from .ops.creation import zeros_like
from .ops.join import stack
from .tensor import Tensor

__all__ = ["grad", "grad_and_value", "vjp", "jacrev", "jacfwd", "hessian", "vmap", "functional_call"]


def _leaves(tree):
    """The tensors of a tree (a tensor, or tuples, lists and dicts of them) and a function rebuilding it."""
    if isinstance(tree, Tensor):
        return [tree], lambda leaves: leaves[0]
    if isinstance(tree, (tuple, list)):
        parts = [_leaves(x) for x in tree]
        sizes = [len(p[0]) for p in parts]

        def rebuild(leaves):
            out, start = [], 0
            for (_, make), n in zip(parts, sizes):
                out.append(make(leaves[start:start + n]))
                start += n
            return type(tree)(out) if not hasattr(tree, "_fields") else type(tree)(*out)
        return [t for p in parts for t in p[0]], rebuild
    if isinstance(tree, dict):
        keys = list(tree)
        leaves, make = _leaves([tree[k] for k in keys])
        return leaves, lambda new: dict(zip(keys, make(new)))
    return [], lambda leaves: tree


def _differentiable(t):
    """t as a tensor to differentiate with respect to: a fresh leaf, or (inside another transform) a tensor still
    in that transform's graph."""
    return t.view_as(t) if t.requires_grad else t.detach().requires_grad_()


def _grad_and_value(func, argnums, has_aux, args, kwargs):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    args = list(args)
    nested = False
    trees = []
    with enable_grad():
        for i in nums:
            leaves, rebuild = _leaves(args[i])
            nested = nested or any(t.requires_grad for t in leaves)
            leaves = [_differentiable(t) for t in leaves]
            args[i] = rebuild(leaves)
            trees.append((leaves, rebuild))
        result = func(*args, **kwargs)
        output, aux = result if has_aux else (result, None)
        if not isinstance(output, Tensor) or output.numel() != 1:
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor "
                               f"with {output.dim() if isinstance(output, Tensor) else '?'} dims. Maybe you wanted to "
                               f"use the vjp or jacrev APIs instead?")
        everything = [t for leaves, _ in trees for t in leaves]
        found = _autograd_grad(output, everything, create_graph=nested, allow_unused=True)
    found = [zeros_like(t) if g is None else g for t, g in zip(everything, found)]
    grads, start = [], 0
    for leaves, rebuild in trees:
        grads.append(rebuild(found[start:start + len(leaves)]))
        start += len(leaves)
    grads = grads[0] if isinstance(argnums, int) else tuple(grads)
    if nested:
        return grads, output, aux
    aux_leaves, rebuild = _leaves(aux)
    return grads, output.detach(), rebuild([t.detach() for t in aux_leaves])


def grad(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """The function computing func's gradient with respect to the arguments ``argnums`` (func returns a
    single-element tensor, or (it, aux) with has_aux).

    Args:
        func (callable): the function to differentiate.
        argnums (int or tuple of int): which positional arguments (tensors, or trees of them). Default: 0.
        has_aux (bool): func returns (output, aux); the transform then returns (gradient, aux). Default: False.

    Returns:
        callable: taking func's arguments, returning the gradient (a tuple of them for a tuple of argnums).

    PyTorch:
        ``torch.func.grad``; same semantics.

    Example:
        >>> ember.func.grad(lambda x: (x ** 3).sum())(ember.tensor([1.0, 2.0]))
        tensor([ 3., 12.])
        >>> second = ember.func.grad(ember.func.grad(lambda x: x.sin().sum()))  # -sin
        >>> second(ember.tensor(0.5)).item() == -ember.tensor(0.5).sin().item()
        True
    """
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        grads, _, aux = _grad_and_value(func, argnums, has_aux, args, kwargs)
        return (grads, aux) if has_aux else grads
    return wrapper


def grad_and_value(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """The function computing func's gradient and its value at once (see ``grad``).

    Args:
        func (callable): the function to differentiate.
        argnums (int or tuple of int): which positional arguments. Default: 0.
        has_aux (bool): func returns (output, aux). Default: False.

    Returns:
        callable: returning (gradient, value), or (gradient, (value, aux)) with has_aux.

    PyTorch:
        ``torch.func.grad_and_value``; same semantics.

    Example:
        >>> ember.func.grad_and_value(lambda x: (x ** 2).sum())(ember.tensor([3.0]))
        (tensor([6.]), tensor(9.))
    """
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        grads, value, aux = _grad_and_value(func, argnums, has_aux, args, kwargs)
        return (grads, (value, aux)) if has_aux else (grads, value)
    return wrapper


def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """func's output at primals and the function of its vector-Jacobian products.

    Args:
        func (callable): a function of the primals returning a tensor or a tree of tensors.
        *primals (Tensor): where to differentiate.
        has_aux (bool): func returns (output, aux). Default: False.

    Returns:
        tuple: (output, vjp_fn) or (output, vjp_fn, aux); vjp_fn(cotangents) returns one gradient per primal.

    PyTorch:
        ``torch.func.vjp``; same semantics.

    Example:
        >>> out, vjp_fn = ember.func.vjp(lambda x: x ** 2, ember.tensor([1.0, 3.0]))
        >>> vjp_fn(ember.ones(2))
        (tensor([2., 6.]),)
    """
    with enable_grad():
        leaves = [_differentiable(p) for p in primals]
        nested = any(p.requires_grad for p in primals)
        result = func(*leaves)
        output, aux = result if has_aux else (result, None)
    outs, _ = _leaves(output)

    def vjp_fn(cotangents):
        given, _ = _leaves(cotangents)
        with enable_grad():
            found = _autograd_grad(outs, leaves, given, retain_graph=True, create_graph=nested, allow_unused=True)
        return tuple(zeros_like(p) if g is None else g for p, g in zip(leaves, found))

    shown = output if nested else _leaves(output)[1]([o.detach() for o in outs])
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def jacrev(func: Callable, argnums: int | tuple[int, ...] = 0, *, has_aux: bool = False) -> Callable:
    """The function computing func's Jacobian with respect to the arguments ``argnums``, row by row (reverse
    mode): of shape output.shape + argument.shape.

    Args:
        func (callable): a function returning a tensor.
        argnums (int or tuple of int): which positional arguments. Default: 0.
        has_aux (bool): func returns (output, aux). Default: False.

    Returns:
        callable: returning the Jacobian (a tuple of them for a tuple of argnums), with aux where has_aux.

    PyTorch:
        ``torch.func.jacrev``; same results.

    Example:
        >>> ember.func.jacrev(lambda x: x ** 2)(ember.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        args = list(args)
        with enable_grad():
            nested = any(args[i].requires_grad for i in nums)
            for i in nums:
                args[i] = _differentiable(args[i])
            result = func(*args, **kwargs)
            output, aux = result if has_aux else (result, None)
            inputs = [args[i] for i in nums]
            flat = output.reshape(-1)
            rows = [[] for _ in nums]
            for k in range(flat.numel()):
                found = _autograd_grad(flat[k], inputs, retain_graph=True, create_graph=nested, allow_unused=True)
                for r, x, g in zip(rows, inputs, found):
                    r.append(zeros_like(x) if g is None else g)
        jacobians = tuple(stack(r).reshape(*output.shape, *x.shape) if r else zeros_like(x).reshape(
            *output.shape, *x.shape) for r, x in zip(rows, inputs))
        if not nested:
            jacobians = tuple(j.detach() for j in jacobians)
        jacobian = jacobians[0] if isinstance(argnums, int) else jacobians
        return (jacobian, aux) if has_aux else jacobian
    return wrapper


def jacfwd(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False,
           *, randomness: str = "error") -> Callable:
    """func's Jacobian (``jacrev``'s result: ember computes it in reverse mode).

    Args:
        func (callable): a function returning a tensor.
        argnums (int or tuple of int): which positional arguments. Default: 0.
        has_aux (bool): func returns (output, aux). Default: False.
        randomness (str): accepted for PyTorch's signature. Default: "error".

    Returns:
        callable: returning the Jacobian.

    PyTorch:
        ``torch.func.jacfwd``; the same results (computed in reverse mode).

    Example:
        >>> ember.func.jacfwd(lambda x: x.sum() * x)(ember.tensor([1.0, 2.0]))
        tensor([[4., 1.],
                [2., 5.]])
    """
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """The function computing func's Hessian (the Jacobian of its Jacobian).

    Args:
        func (callable): a function returning a single-element tensor.
        argnums (int or tuple of int): which positional arguments. Default: 0.

    Returns:
        callable: returning the Hessian.

    PyTorch:
        ``torch.func.hessian``; same results.

    Example:
        >>> ember.func.hessian(lambda x: (x ** 3).sum())(ember.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    return jacrev(jacrev(func, argnums), argnums)


def vmap(func: Callable, in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error", *,
         chunk_size: int | None = None) -> Callable:
    """The function mapping func over a dimension of its arguments: func runs on each slice (its ``in_dims``
    dimension removed) and its outputs are stacked along ``out_dims``.

    Args:
        func (callable): a function of tensors returning a tensor or a tuple of tensors.
        in_dims (int, None or tuple): the mapped dimension of each argument (None: not mapped), or one for all;
            an argument may be a tree (tuple, list, dict) of tensors, each mapped. Default: 0.
        out_dims (int or tuple): where the mapped dimension goes in each output. Default: 0.
        randomness (str): accepted for PyTorch's signature; each call draws its own random numbers ("different").
            Default: "error".
        chunk_size (int, optional): accepted for PyTorch's signature. Default: None.

    Returns:
        callable: the mapped function.

    PyTorch:
        ``torch.func.vmap``; the same results, computed by calling func once per slice (no batching rules), so
        a function that needs the batch (e.g. in-place writes to an argument) and PyTorch's error on randomness
        differ.

    Example:
        >>> dot = lambda a, b: (a * b).sum()
        >>> ember.func.vmap(dot)(ember.ones(3, 2), ember.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
        tensor([ 3.,  7., 11.])
    """
    def wrapper(*args: Any) -> Any:
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap(func, in_dims={in_dims})(<inputs>): in_dims is not compatible with the structure "
                             f"of `inputs`: {len(dims)} in_dims for {len(args)} arguments")
        trees = [_leaves(a) if d is not None else ([], None) for a, d in zip(args, dims)]
        sizes = {t.shape[d] for (leaves, _), d in zip(trees, dims) for t in leaves}
        if not sizes:
            raise ValueError("vmap(func, in_dims)(<inputs>): at least one input must be a tensor mapped over a "
                             "dimension (in_dims all None)")
        if len(sizes) > 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                             f"{sorted(sizes)} for the mapped dimension")

        def sliced(i):
            return [rebuild([t[(slice(None),) * (d % t.dim()) + (i,)] for t in leaves]) if d is not None else a
                    for a, d, (leaves, rebuild) in zip(args, dims, trees)]
        results = [func(*sliced(i)) for i in range(sizes.pop())]
        single = isinstance(results[0], Tensor)
        columns = [results] if single else list(zip(*results))
        outs = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(columns)
        stacked = tuple(stack(list(col), d) for col, d in zip(columns, outs))
        return stacked[0] if single else stacked
    return wrapper
