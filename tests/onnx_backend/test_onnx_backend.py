"""onnx's backend test suite over ember.onnx.backend: the node cases, the simple, pytorch-converted and
pytorch-operator model tests (data in the onnx wheel, offline). Cases of ops ember does not import assert the
"unsupported ONNX op X (opset N)" error; conftest.py prints the pass counts per op family."""
import pytest

pytest.importorskip("onnx")
conformance = pytest.importorskip("ember.onnx.conformance")

_classes, _infos = conformance.backend_test()
globals().update(_classes)


def test_suite_covers_the_cases_of_issue_10():
    """The suite holds the 1884 node cases and the 140 model tests; no model test uses an op ember lacks, and the
    cases expected to pass (all but ops ember lacks and KNOWN_FAILURES) are at least 60 % of the node cases."""
    models = [i for i in _infos.values() if i.op is None]
    assert len(models) == 140
    assert not [i.name for i in models if i.unsupported]
    node = [i for i in _infos.values() if i.op is not None]
    assert len(node) == 1884
    expected_pass = [i for i in node if not i.unsupported and i.name not in conformance.KNOWN_FAILURES]
    assert len(expected_pass) >= 0.6 * len(node)
