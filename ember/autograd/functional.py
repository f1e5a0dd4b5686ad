"""Higher-level derivatives of Python functions (torch.autograd.functional): jacobian, hessian, and the products
vjp, jvp, hvp and vhp, built on ``autograd.grad`` (one backward per output element for the matrices; jvp by the
double-backward trick)."""
from ..ops.creation import zeros_like
from ..ops.join import stack
from ..tensor import Tensor
from .engine import grad as _grad
from .grad_mode import enable_grad

__all__ = ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"]


def _as_tuple(x):
    return (x, False) if isinstance(x, tuple) else ((x,), True)


def _prepare(inputs, create_graph):
    """The inputs as leaves that require grad (detached copies of the caller's, unless create_graph keeps them
    in their graph)."""
    return tuple(x.requires_grad_() if create_graph and x.requires_grad else x.detach().requires_grad_()
                 for x in inputs)


def _vectors(v, like, what):
    """v as a tuple of tensors; None only where like is one single-element tensor (then a one)."""
    if v is not None:
        return _as_tuple(v)[0]
    if len(like) != 1 or like[0].numel() != 1:
        raise RuntimeError(f"The vector v can only be None if {what} a single Tensor with a single element.")
    return (zeros_like(like[0]) + 1,)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, what):
    """autograd.grad of outputs with respect to inputs, zeros (or, with strict, an error) for the independent."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        found = (None,) * len(inputs)
    else:
        found = _grad([o for o, _ in pairs], inputs, [g for _, g in pairs], create_graph=create_graph,
                      allow_unused=True)
    result = []
    for i, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                                   f"not allowed in strict mode{what}.")
            g = zeros_like(x)
        result.append(g if create_graph else g.detach())
    return tuple(result)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """The vector-Jacobian product ``v^T J`` of func at inputs.

    Args:
        func (callable): a function of the inputs returning a tensor or a tuple of tensors.
        inputs (Tensor or tuple of Tensor): where to differentiate.
        v (Tensor or tuple of Tensor, optional): the vectors, shaped as func's outputs; None only for a
            single-element output. Default: None.
        create_graph (bool): keep the result differentiable. Default: False.
        strict (bool): raise when an output does not depend on an input (else its product is zeros).
            Default: False.

    Returns:
        tuple: (func's outputs, the products, shaped as the inputs).

    PyTorch:
        ``torch.autograd.functional.vjp``; same semantics.

    Example:
        >>> ember.autograd.functional.vjp(lambda x: x ** 2, ember.tensor([1.0, 2.0]), ember.ones(2))
        (tensor([1., 4.]), tensor([2., 4.]))
    """
    inputs, single_input = _as_tuple(inputs)
    with enable_grad():
        inputs = _prepare(inputs, create_graph)
        outputs, single_output = _as_tuple(func(*inputs))
        vs = _vectors(v, outputs, "the user-provided function returns")
        products = _grads(outputs, inputs, vs, create_graph, strict, "")
    outputs = tuple(o if create_graph else o.detach() for o in outputs)
    return (outputs[0] if single_output else outputs), (products[0] if single_input else products)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """The Jacobian-vector product ``J v`` of func at inputs (by the double-backward trick).

    Args:
        func (callable): a function of the inputs returning a tensor or a tuple of tensors.
        inputs (Tensor or tuple of Tensor): where to differentiate.
        v (Tensor or tuple of Tensor, optional): the vectors, shaped as the inputs; None only for a
            single-element input. Default: None.
        create_graph (bool): keep the result differentiable. Default: False.
        strict (bool): raise when an output does not depend on an input. Default: False.

    Returns:
        tuple: (func's outputs, the products, shaped as the outputs).

    PyTorch:
        ``torch.autograd.functional.jvp``; same semantics.

    Example:
        >>> ember.autograd.functional.jvp(lambda x: x ** 2, ember.tensor([1.0, 2.0]), ember.ones(2))
        (tensor([1., 4.]), tensor([2., 4.]))
    """
    inputs, single_input = _as_tuple(inputs)
    vs = _vectors(v, inputs, "the input to the user-provided function is")
    with enable_grad():
        inputs = _prepare(inputs, create_graph)
        outputs, single_output = _as_tuple(func(*inputs))
        dummies = tuple(zeros_like(o).requires_grad_() for o in outputs)
        pulled = _grads(outputs, inputs, dummies, True, strict, "")  # u -> u^T J, linear in u
        products = _grads(pulled, dummies, vs, create_graph, strict, "")
    outputs = tuple(o if create_graph else o.detach() for o in outputs)
    return (outputs[0] if single_output else outputs), (products[0] if single_output else products)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs: for each output and input, a tensor of shape output.shape + input.shape.

    Args:
        func (callable): a function of the inputs returning a tensor or a tuple of tensors.
        inputs (Tensor or tuple of Tensor): where to differentiate.
        create_graph (bool): keep the result differentiable. Default: False.
        strict (bool): raise when an output does not depend on an input (else zeros). Default: False.
        vectorize (bool): accepted for PyTorch's signature; ember runs one backward per output element.
            Default: False.
        strategy (str): ``'reverse-mode'`` (``'forward-mode'`` raises NotImplementedError). Default:
            ``'reverse-mode'``.

    Returns:
        Tensor, tuple of Tensor or tuple of tuples: nested as func's outputs, then as the inputs.

    PyTorch:
        ``torch.autograd.functional.jacobian``; same results (forward mode is not implemented).

    Example:
        >>> ember.autograd.functional.jacobian(lambda x: x ** 2, ember.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    if strategy != "reverse-mode":
        raise NotImplementedError("jacobian: only strategy='reverse-mode' is implemented in ember")
    inputs, single_input = _as_tuple(inputs)
    with enable_grad():
        inputs = _prepare(inputs, create_graph)
        outputs, single_output = _as_tuple(func(*inputs))
        blocks = []
        for out in outputs:
            rows = [[] for _ in inputs]
            flat = out.reshape(-1)
            for k in range(flat.numel()):
                if out.requires_grad:
                    found = _grad(flat[k], inputs, retain_graph=True, create_graph=create_graph, allow_unused=True)
                else:
                    found = (None,) * len(inputs)
                for i, (x, g) in enumerate(zip(inputs, found)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {len(blocks)} of the user-provided function is independent "
                                               f"of input {i}. This is not allowed in strict mode.")
                        g = zeros_like(x)
                    rows[i].append(g if create_graph else g.detach())
            blocks.append(tuple(_stack_rows(r, out, x) for r, x in zip(rows, inputs)))
    if single_output:
        return blocks[0][0] if single_input else blocks[0]
    return tuple(b[0] for b in blocks) if single_input else tuple(blocks)


def _stack_rows(rows, out, x):
    if not rows:
        return zeros_like(x).reshape(*out.shape, *x.shape)
    return stack(rows).reshape(*out.shape, *x.shape)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar function at inputs: the Jacobian of its gradient.

    Args:
        func (callable): a function of the inputs returning a single-element tensor.
        inputs (Tensor or tuple of Tensor): where to differentiate.
        create_graph (bool): keep the result differentiable. Default: False.
        strict (bool): raise where the function does not depend on an input. Default: False.
        vectorize (bool): accepted for PyTorch's signature. Default: False.
        outer_jacobian_strategy (str): ``'reverse-mode'`` only. Default: ``'reverse-mode'``.

    Returns:
        Tensor or tuple of tuples: input.shape + input.shape blocks, for each pair of inputs.

    PyTorch:
        ``torch.autograd.functional.hessian``; same results (forward mode is not implemented).

    Example:
        >>> ember.autograd.functional.hessian(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    inputs, single_input = _as_tuple(inputs)

    def gradient(*xs):
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor with a single element")
        return _grads((out,), xs, (zeros_like(out) + 1,), True, strict, "")

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      strategy=outer_jacobian_strategy)
    return result[0][0] if single_input else result


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """The vector-Hessian product ``v^T H`` of a scalar function at inputs.

    Args:
        func (callable): a function of the inputs returning a single-element tensor.
        inputs (Tensor or tuple of Tensor): where to differentiate.
        v (Tensor or tuple of Tensor, optional): the vectors, shaped as the inputs. Default: None.
        create_graph (bool): keep the result differentiable. Default: False.
        strict (bool): raise where the function does not depend on an input. Default: False.

    Returns:
        tuple: (func's output, the products, shaped as the inputs).

    PyTorch:
        ``torch.autograd.functional.vhp``; same semantics.

    Example:
        >>> ember.autograd.functional.vhp(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]), ember.ones(2))
        (tensor(9.), tensor([ 6., 12.]))
    """
    inputs, single_input = _as_tuple(inputs)
    vs = _vectors(v, inputs, "the input to the user-provided function is")
    with enable_grad():
        inputs = _prepare(inputs, create_graph)
        out = func(*inputs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to vhp should return a single Tensor with a single element")
        gradient = _grads((out,), inputs, (zeros_like(out) + 1,), True, strict, "")
        products = _grads(gradient, inputs, vs, create_graph, strict, "")
    return (out if create_graph else out.detach()), (products[0] if single_input else products)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """The Hessian-vector product ``H v`` of a scalar function at inputs (equal to ``v^T H``: the Hessian is
    symmetric).

    Args:
        func (callable): a function of the inputs returning a single-element tensor.
        inputs (Tensor or tuple of Tensor): where to differentiate.
        v (Tensor or tuple of Tensor, optional): the vectors, shaped as the inputs. Default: None.
        create_graph (bool): keep the result differentiable. Default: False.
        strict (bool): raise where the function does not depend on an input. Default: False.

    Returns:
        tuple: (func's output, the products, shaped as the inputs).

    PyTorch:
        ``torch.autograd.functional.hvp``; same results (PyTorch computes it by the double-backward trick).

    Example:
        >>> ember.autograd.functional.hvp(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]), ember.ones(2))
        (tensor(9.), tensor([ 6., 12.]))
    """
    return vhp(func, inputs, v, create_graph, strict)
