"""ONNX rules of the elementwise ops (arithmetic, comparisons, unary maths, activations, clamp, where), softmax
and the reductions."""
import math

import numpy as np

from .._builder import Var, onnx_dtype
from . import rule


def operand(g, x, like):
    """x as an ONNX input: a Var as it is, a number as a 0-d constant of like's dtype."""
    return x if isinstance(x, Var) else g.scalar(x, like)


def _pair(g, a, b):
    like = a if isinstance(a, Var) else b
    return operand(g, a, like), operand(g, b, like)


def _binary(onnx_op):
    def convert(g, node, a, b):
        return g.op(onnx_op, *_pair(g, a, b))
    return convert


for _name, _onnx in (("Add", "Add"), ("Sub", "Sub"), ("Mul", "Mul"), ("Div", "Div"), ("Maximum", "Max"),
                     ("Minimum", "Min"), ("Eq", "Equal"), ("Lt", "Less"), ("Le", "LessOrEqual"),
                     ("Gt", "Greater"), ("Ge", "GreaterOrEqual"), ("LogicalAnd", "And"), ("LogicalOr", "Or"),
                     ("LogicalXor", "Xor"), ("Atan2", None)):
    if _onnx:
        rule(_name)(_binary(_onnx))


@rule("BitwiseAnd", "BitwiseOr", "BitwiseXor")
def bitwise(g, node, a, b):
    """And/Or/Xor on bools; on integers ONNX's Bitwise ops (opset 18)."""
    a, b = _pair(g, a, b)
    kind = type(node).__name__[len("Bitwise"):]
    if np.dtype(a.dtype).kind == "b":
        return g.op(kind, a, b)
    if g.opset < 18:
        raise g.unsupported("on integers")
    return g.op(f"Bitwise{kind}", a, b)


@rule("BitwiseNot")
def bitwise_not(g, node, a):
    if np.dtype(a.dtype).kind == "b":
        return g.op("Not", a)
    if g.opset < 18:
        raise g.unsupported("on integers")
    return g.op("BitwiseNot", a)


@rule("Ne")
def ne(g, node, a, b):
    return g.op("Not", g.op("Equal", *_pair(g, a, b)))


@rule("Pow")
def pow_(g, node, a, b):
    return g.op("Pow", *_pair(g, a, b))


@rule("Remainder")
def remainder(g, node, a, b):
    a, b = _pair(g, a, b)
    if np.dtype(a.dtype).kind == "f":  # Python's sign rule: a - floor(a / b) * b
        return g.op("Sub", a, g.op("Mul", g.op("Floor", g.op("Div", a, b)), b))
    return g.op("Mod", a, b, fmod=0)


@rule("Fmod")
def fmod(g, node, a, b):
    return g.op("Mod", *_pair(g, a, b), fmod=1)


_UNARY = {"Neg": "Neg", "Abs": "Abs", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Reciprocal": "Reciprocal",
          "Sin": "Sin", "Cos": "Cos", "Tan": "Tan", "Asin": "Asin", "Acos": "Acos", "Atan": "Atan", "Sinh": "Sinh",
          "Cosh": "Cosh", "Erf": "Erf", "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Relu": "Relu", "Sign": "Sign",
          "Floor": "Floor", "Ceil": "Ceil", "LogicalNot": "Not", "IsNan": "IsNaN",
          "Contiguous": "Identity", "Clone": "Identity", "Alias": "Identity"}


def _unary(onnx_op):
    def convert(g, node, a, *rest):
        return g.op(onnx_op, a)
    return convert


for _name, _onnx in _UNARY.items():
    rule(_name)(_unary(_onnx))


@rule("Rsqrt")
def rsqrt(g, node, a):
    return g.op("Reciprocal", g.op("Sqrt", a))


@rule("Square")
def square(g, node, a):
    return g.op("Mul", a, a)


@rule("Log1p")
def log1p(g, node, a):
    return g.op("Log", g.op("Add", a, g.scalar(1, a)))


@rule("Expm1")
def expm1(g, node, a):
    return g.op("Sub", g.op("Exp", a), g.scalar(1, a))


@rule("Log2", "Log10")
def log_base(g, node, a):
    base = 2.0 if type(node).__name__ == "Log2" else 10.0
    return g.op("Div", g.op("Log", a), g.scalar(math.log(base), a))


@rule("Round")
def round_(g, node, a):
    if getattr(node, "decimals", 0):
        s = g.scalar(10.0 ** node.decimals, a)
        return g.op("Div", g.op("Round", g.op("Mul", a, s)), s)
    return g.op("Round", a)


@rule("Trunc")
def trunc(g, node, a):  # sign(a) * floor(|a|)
    return g.op("Mul", g.op("Sign", a), g.op("Floor", g.op("Abs", a)))


# --- activations --------------------------------------------------------------------------------------------------

@rule("Gelu")
def gelu(g, node, x):
    """torch.onnx's rule (opset 17 has no Gelu op): x * 0.5 * (1 + erf(x / sqrt 2)), or the tanh form."""
    half, one = g.scalar(0.5, x), g.scalar(1.0, x)
    if node.approximate == "tanh":
        inner = g.op("Mul", g.op("Add", x, g.op("Mul", g.scalar(0.044715, x), g.op("Mul", x, g.op("Mul", x, x)))),
                     g.scalar(math.sqrt(2 / math.pi), x))
        return g.op("Mul", g.op("Mul", x, half), g.op("Add", one, g.op("Tanh", inner)))
    erf = g.op("Erf", g.op("Div", x, g.scalar(math.sqrt(2.0), x)))
    return g.op("Mul", g.op("Mul", x, half), g.op("Add", one, erf))


@rule("Silu")
def silu(g, node, x):
    return g.op("Mul", x, g.op("Sigmoid", x))


@rule("Softplus")
def softplus(g, node, x):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""
    beta = g.scalar(node.beta, x)
    bx = g.op("Mul", x, beta)
    soft = g.op("Div", g.op("Softplus", bx), beta)
    return g.op("Where", g.op("Greater", bx, g.scalar(node.threshold, x)), x, soft)


@rule("LeakyRelu")
def leaky_relu(g, node, x):
    return g.op("LeakyRelu", x, alpha=float(node.slope))


@rule("Elu")
def elu(g, node, x):
    """scale * (x if x > 0 else alpha * (exp(input_scale x) - 1)) (elu, selu, celu)."""
    neg = g.op("Mul", g.scalar(node.alpha, x), g.op("Sub", g.op("Exp", g.op("Mul", x, g.scalar(node.input_scale, x))),
                                                     g.scalar(1, x)))
    y = g.op("Where", g.op("Greater", x, g.scalar(0, x)), x, neg)
    return y if node.scale == 1 else g.op("Mul", y, g.scalar(node.scale, x))


@rule("Hardtanh")
def hardtanh(g, node, x):
    return g.op("Clip", x, g.scalar(node.lo, x), g.scalar(node.hi, x))


@rule("Hardswish")
def hardswish(g, node, x):
    return g.op("HardSwish", x)


@rule("Hardsigmoid")
def hardsigmoid(g, node, x):
    return g.op("HardSigmoid", x, alpha=1.0 / 6, beta=0.5)


@rule("LogSigmoid")
def log_sigmoid(g, node, x):  # -softplus(-x)
    return g.op("Neg", g.op("Softplus", g.op("Neg", x)))


@rule("Softmax")
def softmax(g, node, x):
    return g.op("Softmax", x, axis=node.dim)


@rule("LogSoftmax")
def log_softmax(g, node, x):
    return g.op("LogSoftmax", x, axis=node.dim)


# --- clamp, where ---------------------------------------------------------------------------------------------------

@rule("Clamp")
def clamp(g, node, x):
    lo = None if node.lo is None else g.scalar(node.lo, x)
    hi = None if node.hi is None else g.scalar(node.hi, x)
    if np.dtype(x.dtype).kind == "b":
        raise g.unsupported("of a bool tensor")
    return g.op("Clip", x, lo, hi)


@rule("ClampTensor")
def clamp_tensor(g, node, x, lo=None, hi=None):
    y = x
    if lo is not None:
        y = g.op("Max", y, operand(g, lo, x))
    if hi is not None:
        y = g.op("Min", y, operand(g, hi, x))
    return y


@rule("Where")
def where(g, node, cond, a, b):
    like = a if isinstance(a, Var) else b
    if not isinstance(like, Var):
        raise g.unsupported("of two numbers")
    return g.op("Where", cond, operand(g, a, like), operand(g, b, like))


# --- reductions -----------------------------------------------------------------------------------------------------

def reduce(g, onnx_op, x, dims, keepdim):
    """ReduceX over dims (axes an attribute before opset 18, an input from 18 on; ReduceSum: from 13)."""
    dims = [int(d) for d in dims]
    if not dims:
        return g.op("Identity", x)
    keep = int(bool(keepdim))
    if onnx_op == "ReduceSum" or g.opset >= 18:
        return g.op(onnx_op, x, g.ints(dims), keepdims=keep)
    return g.op(onnx_op, x, axes=dims, keepdims=keep)


@rule("Sum")
def sum_(g, node, x):
    return reduce(g, "ReduceSum", x, node.dims, node.keepdim)


@rule("Mean")
def mean(g, node, x):
    return reduce(g, "ReduceMean", x, node.dims, node.keepdim)


@rule("AMax")
def amax(g, node, x):
    return reduce(g, "ReduceMax" if node.largest else "ReduceMin", x, node.dims, node.keepdim)


@rule("LogSumExp")
def logsumexp(g, node, x):
    return reduce(g, "ReduceLogSumExp", x, node.dims, node.keepdim)


@rule("Var", "Std")
def var(g, node, x):
    """sum((x - mean)^2) / (n - correction), n counted from the input's shape when the graph runs (a reduced axis
    may be dynamic); Std its square root."""
    dims = [int(d) for d in node.dims]
    xc = g.op("Sub", x, reduce(g, "ReduceMean", x, dims, True))
    n = g.op("ReduceProd", g.op("Gather", g.op("Shape", x), g.ints(dims)), keepdims=0)
    n = g.op("Cast", g.op("Sub", n, g.const(np.asarray(node.correction, dtype=np.int64))), to=onnx_dtype(x.dtype))
    y = g.op("Div", reduce(g, "ReduceSum", g.op("Mul", xc, xc), dims, node.keepdim), n)
    return g.op("Sqrt", y) if type(node).__name__ == "Std" else y
