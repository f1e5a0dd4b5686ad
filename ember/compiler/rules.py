"""The compile rules of the elementwise ops: each op's value as a C expression (the ``compile_rule`` slot of the
registry, filled here; ops stay unaware of the compiler).

A rule is ``CRule(expr)`` where ``expr(node, c)`` returns the C expression of one element of the op's result, or
None when this instance of the op has no C form (``pow`` with a tensor exponent, a cast to an integer dtype): such
an op is not fused and runs as its node's forward. ``c`` (an ``Operands``) gives the operands as expressions of the
type the op computes in (``c.x(i)``, numbers as exact literals), the raw operand (``c.raw(i)``), its dtype, that
type (``c.t``), the name of a math helper for it (``c.f("exp")`` is ``em_exp_f32`` for float32) and literals
(``c.lit(0.5)``). The helpers (exp, log, tanh, erf, sigmoid, gelu... in float32 and float64) are the renderer's
prelude (``c_prelude``): the expressions are C that a CUDA renderer can print as they are, with its own prelude.

The expressions follow the ops' NumPy forwards operation by operation (same order, same types), so the
arithmetic ones give the same bits; the float32 transcendental helpers are vectorisable polynomials within a few
ulp of NumPy's.
"""
import math

import numpy as np

from ..ops import registry
from .ir import Value

__all__ = ["CRule", "Operands", "SUPPORTED_DTYPES", "rule_of", "supports", "literal"]

SUPPORTED_DTYPES = {np.dtype("float32"): ("float", "f32"), np.dtype("float64"): ("double", "f64"),
                    np.dtype("bool"): ("unsigned char", "b8")}
_NUMBERS = (bool, int, float)


class CRule:
    """An elementwise op's C form: ``expr(node, c)`` -> expression or None (see the module docstring).
    ``compute``: the type the op computes in, "out" (its result's dtype) or "operands" (the operands' common dtype,
    for comparisons); ``transcendental``: its float32 form is an approximation (a few ulp), not NumPy's exact bits;
    ``alone``: worth a kernel of its own (False where NumPy's one loop for it is as fast: exp, tanh, a copy)."""

    __slots__ = ("expr", "compute", "transcendental", "alone")

    def __init__(self, expr, compute="out", transcendental=False, alone=True):
        self.expr, self.compute, self.transcendental, self.alone = expr, compute, transcendental, alone


class Operands:
    """What a rule sees of one op: operand expressions and dtypes (None for a number), and the compute type."""

    def __init__(self, exprs, dtypes, compute_dtype):
        self.exprs, self.dtypes = list(exprs), list(dtypes)
        self.dtype = np.dtype(compute_dtype)
        self.t, self.suffix = SUPPORTED_DTYPES[self.dtype]

    def raw(self, i):
        """Operand i as it is (a number as a literal of the compute type)."""
        return self.exprs[i] if self.dtypes[i] is not None else literal(self.exprs[i], self.dtype)

    def x(self, i):
        """Operand i as a value of the compute type (cast when its dtype differs)."""
        if self.dtypes[i] is None:
            return literal(self.exprs[i], self.dtype)
        if self.dtypes[i] != self.dtype:
            return f"(({self.t}){self.exprs[i]})"
        return self.exprs[i]

    def number(self, i):
        """Operand i when it is a number (a rule that special-cases numbers), else None."""
        return self.exprs[i] if self.dtypes[i] is None else None

    def f(self, name):
        """The prelude helper `name` for the compute type, e.g. em_exp_f32."""
        return f"em_{name}_{self.suffix}"

    def lit(self, v):
        return literal(v, self.dtype)


def literal(v, dtype):
    """The exact C literal of number v converted to dtype (as NumPy converts a Python number to the tensor's dtype:
    float32 rounds once), e.g. 0x1.99999ap-4f for 0.1 in float32."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return "1" if v else "0"
    with np.errstate(over="ignore"):
        v = float(dtype.type(v))
    if math.isnan(v):
        return "NAN" if dtype.itemsize == 4 else "((double)NAN)"
    if math.isinf(v):
        inf = "INFINITY" if dtype.itemsize == 4 else "((double)INFINITY)"
        return inf if v > 0 else f"(-{inf})"
    text = v.hex() + ("f" if dtype.itemsize == 4 else "")
    return f"({text})" if v < 0 or text.startswith("-") else text


def rule_of(node):
    """The CRule of a node's op, or None."""
    try:
        return registry.get(type(node)).compile_rule
    except KeyError:
        return None


def supports(op):
    """Whether a graph op has a C form: a rule that accepts it, one output, tensor operands and result of float32,
    float64 or bool, number operands of Python's number types."""
    rule = rule_of(op.node)
    if not isinstance(rule, CRule) or len(op.outputs) != 1 or op.outputs[0] is None:
        return False
    out = op.outputs[0].dtype
    if out not in SUPPORTED_DTYPES:
        return False
    dtypes = []
    for a in op.args:
        if isinstance(a, Value):
            if a.dtype not in SUPPORTED_DTYPES:
                return False
            dtypes.append(a.dtype)
        elif a.__class__ in _NUMBERS:
            dtypes.append(None)
        else:
            return False
    if not any(d is not None for d in dtypes):
        return False
    compute = compute_dtype(rule, out, dtypes)
    if compute is None:
        return False
    names = [f"v{i}" for i in range(len(dtypes))]
    exprs = [a if d is None else n for a, d, n in zip(op.args, dtypes, names)]
    return rule.expr(op.node, Operands(exprs, dtypes, compute)) is not None


def compute_dtype(rule, out, dtypes):
    """The dtype an op computes in: its result's, or for a comparison its operands' common dtype (None when that is
    not supported)."""
    if rule.compute == "out":
        return out
    tensors = [d for d in dtypes if d is not None]
    common = np.result_type(*tensors)
    return common if common in SUPPORTED_DTYPES else None


# --- the rules --------------------------------------------------------------------------------------------------

def _rule(name, expr, **kw):
    registry.get(name).compile_rule = CRule(expr, **kw)


def _float_only(expr):
    """A rule for float results only (bool has no arithmetic in NumPy's sense here)."""
    def checked(node, c):
        return expr(node, c) if c.dtype.kind == "f" else None
    return checked


def _helper(name):
    return _float_only(lambda node, c: f"{c.f(name)}({c.x(0)})")


for _name, _op in (("Add", "+"), ("Sub", "-"), ("Mul", "*"), ("Div", "/")):
    _rule(_name, _float_only(lambda node, c, op=_op: f"({c.x(0)} {op} {c.x(1)})"))

_rule("Neg", _float_only(lambda node, c: f"(-{c.x(0)})"), alone=False)
_rule("Abs", _helper("abs"), alone=False)
_rule("Square", _float_only(lambda node, c: f"({c.x(0)} * {c.x(0)})"))
_rule("Reciprocal", _float_only(lambda node, c: f"({c.lit(1)} / {c.x(0)})"))
_rule("Sqrt", _helper("sqrt"), alone=False)
_rule("Rsqrt", _float_only(lambda node, c: f"({c.lit(1)} / {c.f('sqrt')}({c.x(0)}))"))
for _name, _fn in (("Exp", "exp"), ("Log", "log"), ("Log1p", "log1p"), ("Expm1", "expm1"), ("Tanh", "tanh")):
    _rule(_name, _helper(_fn), transcendental=True, alone=False)
for _name, _fn in (("Sigmoid", "sigmoid"), ("Silu", "silu")):
    _rule(_name, _helper(_fn), transcendental=True)

# relu: NaN stays NaN and -0 becomes 0, as np.maximum(a, 0)
_rule("Relu", _float_only(lambda node, c: f"({c.x(0)} > {c.lit(0)} || {c.x(0)} != {c.x(0)} ? {c.x(0)} : "
                                          f"{c.lit(0)})"))
_rule("ReluGrad", _float_only(lambda node, c: f"({c.x(0)} > {c.lit(0)} ? {c.x(1)} : {c.lit(0)})"))
_rule("SigmoidGrad", _float_only(lambda node, c: f"((({c.lit(1)} - {c.x(0)}) * {c.x(0)}) * {c.x(1)})"))
_rule("TanhGrad", _float_only(lambda node, c: f"(({c.lit(1)} - {c.x(0)} * {c.x(0)}) * {c.x(1)})"))
_rule("LeakyRelu", _float_only(lambda node, c: f"({c.x(0)} > {c.lit(0)} ? {c.x(0)} : {c.x(0)} * "
                                               f"{c.lit(node.slope)})"))


def _gelu(node, c):
    if c.dtype.kind != "f":
        return None
    return f"{c.f('gelu_tanh' if node.approximate == 'tanh' else 'gelu')}({c.x(0)})"


def _gelu_grad(node, c):
    if c.dtype.kind != "f":
        return None
    return f"({c.x(1)} * {c.f('gelu_tanh_grad' if node.approximate == 'tanh' else 'gelu_grad')}({c.x(0)}))"


_rule("Gelu", _gelu, transcendental=True)
_rule("GeluGrad", _gelu_grad, transcendental=True)

# maximum/minimum propagate NaN from either side, as NumPy's
_rule("Maximum", _float_only(lambda node, c: f"({c.x(0)} > {c.x(1)} || {c.x(0)} != {c.x(0)} ? {c.x(0)} : "
                                             f"{c.x(1)})"))
_rule("Minimum", _float_only(lambda node, c: f"({c.x(0)} < {c.x(1)} || {c.x(0)} != {c.x(0)} ? {c.x(0)} : "
                                             f"{c.x(1)})"))


def _clamp(node, c):
    if c.dtype.kind != "f":
        return None
    e = c.x(0)
    if node.lo is not None:  # a NaN fails both comparisons and stays NaN, as np.clip
        e = f"({e} < {c.lit(node.lo)} ? {c.lit(node.lo)} : {e})"
    if node.hi is not None:
        e = f"({e} > {c.lit(node.hi)} ? {c.lit(node.hi)} : {e})"
    return e


_rule("Clamp", _clamp)
_rule("Hardtanh", _clamp)


def _where(node, c):
    if c.dtypes[0] != np.dtype("bool"):
        return None
    return f"({c.raw(0)} ? {c.x(1)} : {c.x(2)})"


_rule("Where", _where)


def _pow(node, c):
    """pow with a number exponent that the NumPy forward computes by products, sqrt and reciprocals (the same
    formulas, so the same bits); other exponents have no C form here."""
    n = c.number(1)
    if c.dtype.kind != "f" or c.dtypes[0] is None or n is None or n.__class__ is bool:
        return None
    a, one = c.x(0), c.lit(1)
    r = f"({one} / {a})"
    forms = {0: one, 1: a, 2: f"({a} * {a})", 3: f"(({a} * {a}) * {a})", 4: f"(({a} * {a}) * ({a} * {a}))",
             -1: r, -2: f"({one} / ({a} * {a}))", -3: f"(({r} * {r}) * {r})", -4: f"(({r} * {r}) * ({r} * {r}))",
             0.5: f"{c.f('sqrt')}({a})", -0.5: f"({one} / {c.f('sqrt')}({a}))"}
    return forms.get(n)


_rule("Pow", _pow)

for _name, _op in (("Eq", "=="), ("Ne", "!="), ("Lt", "<"), ("Le", "<="), ("Gt", ">"), ("Ge", ">=")):
    _rule(_name, lambda node, c, op=_op: f"({c.x(0)} {op} {c.x(1)})", compute="operands")

_rule("LogicalNot", lambda node, c: f"(!{c.x(0)})", compute="operands")
_rule("LogicalAnd", lambda node, c: f"({c.x(0)} && {c.x(1)})", compute="operands")
_rule("LogicalOr", lambda node, c: f"({c.x(0)} || {c.x(1)})", compute="operands")
_rule("IsNan", lambda node, c: f"({c.x(0)} != {c.x(0)})" if c.dtype.kind == "f" else None, compute="operands")
# finite: x - x is 0 (not NaN)
_rule("IsFinite", lambda node, c: f"({c.x(0)} - {c.x(0)} == {c.lit(0)})" if c.dtype.kind == "f" else None,
      compute="operands")


def _cast(node, c):
    """ToCopy between float32, float64 and bool on the same device (NumPy's astype: round to nearest; nonzero is
    True)."""
    if node.device is not None:
        return None
    src = c.dtypes[0]
    if c.dtype.kind == "b":
        return f"({c.raw(0)} != 0)" if src.kind == "f" else c.raw(0)
    return f"(({c.t}){c.raw(0)})"


_rule("ToCopy", _cast, alone=False)
_rule("Clone", lambda node, c: c.raw(0), alone=False)
