"""The op registry: every op registered once, public names and Tensor methods taken from it, the table."""
import subprocess
import sys

import pytest

import ember
import ember.nn.functional as F
from ember.autograd import Node
from ember.ops import registry


def test_every_op_has_a_shape_rule_and_empty_compile_and_onnx_slots():
    defs = registry.ops()
    assert len(defs) > 100
    for d in defs:
        assert d.has_shape_rule, f"{d.name} has no shape rule"
        assert issubclass(d.node, Node) and registry.get(d.name) is d and registry.get(d.node) is d


def test_public_names_and_methods_come_from_the_registry():
    for name, fn in registry.namespace(registry.EMBER).items():
        assert getattr(ember, name) is fn, f"ember.{name}"
    for name, fn in registry.namespace(registry.FUNCTIONAL).items():
        assert getattr(F, name) is fn, f"ember.nn.functional.{name}"
    for name, fn in registry.methods().items():
        assert getattr(ember.Tensor, name) is fn, f"Tensor.{name}"
    assert ember.add is registry.namespace("ember")["add"] and F.relu is registry.namespace(registry.FUNCTIONAL)["relu"]


def test_the_table_lists_every_op():
    out = subprocess.run([sys.executable, "-m", "ember.ops"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["op", "shape", "compile", "onnx"]
    listed = {line.split()[0] for line in lines[1:] if line and not line.startswith(" ")}
    assert {d.name for d in registry.ops()} <= listed
    assert f"{len(registry.ops())} ops." in out
    sum_line = next(line for line in lines if line.startswith("Sum "))
    assert "  sum, " in sum_line and "Tensor.sum" in sum_line


def test_registering_twice_or_exporting_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(type("Sum", (Node,), {}))
    with pytest.raises(TypeError, match="Node subclass"):
        registry.register(int)
    with pytest.raises(ValueError, match="ember.sum is already exported"):
        registry.export(ember=("sum",))(lambda x: x)
    with pytest.raises(ValueError, match="not a registered op"):
        registry.export(type("Unregistered", (Node,), {}))
