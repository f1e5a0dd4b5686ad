"""python -m ember.ops: the op registry as a table (op, functions and methods, which rules it has)."""
import ember  # noqa: F401  (imports every op module, so the registry is complete)
from ember.ops import registry

_SHORT = {registry.FUNCTIONAL + ".": "F.", registry.EMBER + ".": ""}  # the longer prefix first


def _short(name):
    for prefix, short in _SHORT.items():
        if name.startswith(prefix):
            return short + name[len(prefix):]
    return name


def _names(functions, methods):
    return ", ".join([_short(f) for f in functions] + [f"Tensor.{m}" for m in methods]) or "-"


def table():
    """The registry as lines of text."""
    rows = [(d.name, _names(d.functions, d.methods), "yes" if d.has_shape_rule else "-",
             "yes" if d.compile_rule else "-", "yes" if d.onnx_rule else "-") for d in registry.ops()]
    head = ("op", "functions / methods", "shape", "compile", "onnx")
    width = max(len(r[0]) for r in rows + [head])
    lines = [f"{head[0]:<{width}}  {head[2]:<5}  {head[3]:<7}  {head[4]:<4}  {head[1]}"]
    lines += [f"{r[0]:<{width}}  {r[2]:<5}  {r[3]:<7}  {r[4]:<4}  {r[1]}" for r in rows]
    lines.append("")
    lines.append(f"{len(rows)} ops. Functions that run no op of their own (composites of ops, factories):")
    for functions, methods in registry.composites():
        lines.append("  " + _names(functions, methods))
    return lines


if __name__ == "__main__":
    print("\n".join(table()))
