"""The API reference's docstrings: every public name of the documented modules (and the public methods of the
classes documented with their members) has one of its own in the house format (summary, Args naming every
parameter, Returns, Shape for layers, PyTorch, Example: docs/_ext/ember_names.docstring_problems), and every
example runs as a doctest. ``python tests/test_docstrings.py`` prints the coverage table (names with a docstring /
with an example / total, per reference page); ``--problems [PATH ...]`` lists what the docstrings defined under
those paths lack."""
import doctest
import inspect
import pathlib
import sys

import numpy as np
import pytest

import ember
from helpers import skip_without_optional_imports

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "docs" / "_ext"))
from ember_names import PAGES, docstring_problems, documented_objects, own_doc, public_names  # noqa: E402

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _pages():
    return [pytest.param(page, id=page) for page in PAGES]


def _unique_examples():
    """(qualified name, docstring) of every documented object whose docstring has an example."""
    for name, obj in documented_objects():
        doc = own_doc(obj)
        if ">>>" in doc:
            yield pytest.param(name, doc, id=name)


def source_of(obj):
    """``path:line`` where obj is defined (relative to the repository), or "?"."""
    obj = getattr(obj, "__func__", obj)
    obj = inspect.unwrap(obj.fget if isinstance(obj, property) else obj)  # a decorated function's own file
    try:
        path = pathlib.Path(inspect.getsourcefile(obj)).resolve()
        line = inspect.getsourcelines(obj)[1]
    except (TypeError, OSError):
        return "?"
    root = pathlib.Path(__file__).resolve().parent.parent
    return f"{path.relative_to(root) if path.is_relative_to(root) else path}:{line}"


def format_problems():
    """{qualified name: (source, problems)} of the documented objects whose docstring lacks a house section."""
    table = {}
    for name, obj in documented_objects():
        problems = docstring_problems(obj)
        if problems:
            table[name] = (source_of(obj), problems)
    return table


@pytest.mark.parametrize("page", _pages())
def test_every_public_name_has_a_docstring(page):
    missing = [name for name, obj in public_names(page) if not own_doc(obj).strip()]
    assert not missing, f"{PAGES[page][0]}: public names without a docstring: {', '.join(missing)}"


@pytest.mark.parametrize("name, doc", list(_unique_examples()))
def test_docstring_example(name, doc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    globs = {"ember": ember, "nn": ember.nn, "F": ember.nn.functional, "np": np}
    test = doctest.DocTestParser().get_doctest(doc, globs, name, None, 0)
    skip_without_optional_imports("".join(example.source for example in test.examples))  # onnx, mpi4py
    runner, report = doctest.DocTestRunner(optionflags=OPTIONS), []
    ember.manual_seed(0)
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def coverage():
    """Per page: (names with a docstring, with an example, total)."""
    table = {}
    for page in PAGES:
        names = public_names(page)
        docs = [own_doc(obj) for _, obj in names]
        table[page] = (sum(bool(d.strip()) for d in docs), sum(">>>" in d for d in docs), len(names))
    return table


def test_docstrings_follow_the_house_format():
    problems = format_problems()
    listing = "\n".join(f"{name} ({source}): {'; '.join(found)}" for name, (source, found) in problems.items())
    assert not problems, f"{len(problems)} docstrings lack a section of the house format:\n{listing}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--problems"]:  # python tests/test_docstrings.py --problems [PATH_PREFIX ...]
        prefixes = sys.argv[2:] or [""]
        for name, (source, found) in format_problems().items():
            if any(source.startswith(p) for p in prefixes):
                print(f"{source}  {name}: {'; '.join(found)}")
        sys.exit()
    total = [0, 0, 0]
    print(f"{'page':22} {'docstring':>9} {'example':>8} {'total':>6}")
    for page, row in coverage().items():
        print(f"{page:22} {row[0]:9} {row[1]:8} {row[2]:6}")
        total = [a + b for a, b in zip(total, row)]
    print(f"{'all':22} {total[0]:9} {total[1]:8} {total[2]:6}")
    complete = sum(not docstring_problems(obj) for _, obj in documented_objects())
    print(f"house format complete: {complete} of {sum(1 for _ in documented_objects())} (methods included)")
