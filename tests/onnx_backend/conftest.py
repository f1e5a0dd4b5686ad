"""Prints the ONNX backend conformance counts (per op family, model tests, total) after a run that included
tests/onnx_backend/test_onnx_backend.py."""
_OUTCOMES = {}


def pytest_runtest_logreport(report):
    if "test_onnx_backend.py::Onnx" not in report.nodeid:
        return
    test_id = ".".join(report.nodeid.split("::")[-2:])
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _OUTCOMES[test_id] = report.passed and report.when == "call" and not hasattr(report, "wasxfail")


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES:
        return
    from ember.onnx import conformance
    _, infos = conformance.backend_test()
    outcomes = {tid: conformance.passed_outcome(tid, ok, infos) for tid, ok in _OUTCOMES.items() if tid in infos}
    for line in conformance.format_summary(conformance.summarize(outcomes, infos)):
        terminalreporter.write_line(line)
