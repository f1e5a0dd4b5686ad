"""Sphinx extension writing the API reference from ember itself: ``.. ember-api:: PAGE`` for the public names of
a page (listed by ember_names.py), ``.. ember-cli::`` for the ``ember`` command's help; and the docstring filter
that lets ember's plain-text docstrings render as they read."""
import contextlib
import io
import re

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList

from ember_names import PAGES, WITH_MEMBERS, public_names


def _home_page(obj):
    """The page that indexes a class listed on several pages: the one whose module is the longest prefix of the
    module that defines it (ember.no_grad is listed under ember and ember.autograd, indexed under the latter)."""
    homes = [p for p in PAGES if PAGES[p][0] != "ember.Tensor"
             and any(o is obj for _, o in public_names(p)) and obj.__module__.startswith(PAGES[p][0])]
    return max(homes, key=lambda p: len(PAGES[p][0]), default=None)


def _rst_for(page):
    module_name = PAGES[page][0]
    lines = []
    if module_name == "ember.Tensor":
        lines += [".. autoclass:: ember.Tensor", "   :members:", "   :undoc-members:", ""]
        return lines
    for name, obj in public_names(page):
        target = f"{module_name}.{name}"
        if isinstance(obj, type):
            lines.append(f".. autoclass:: {target}")
            if name in WITH_MEMBERS:
                lines.append("   :members:")
            if _home_page(obj) not in (None, page):
                lines.append("   :no-index:")
        elif callable(obj):
            lines.append(f".. autofunction:: {target}")
        else:
            lines.append(f".. autodata:: {target}")
            lines.append("   :annotation:")
        lines.append("")
    return lines


class EmberApi(Directive):
    """``.. ember-api:: PAGE`` expands to the autodoc directives of every public name of that page."""

    required_arguments = 1

    def run(self):
        page = self.arguments[0]
        node = nodes.section()
        node.document = self.state.document
        content = StringList(_rst_for(page), source=f"<ember-api {page}>")
        self.state.nested_parse(content, self.content_offset, node)
        return node.children


_LITERAL = re.compile(r"(``.*?``|:[a-z:]+:`[^`]*`)")


def _escape_plain(text):
    """Make plain text safe for reStructuredText: PyTorch's trailing underscores (``clip_grad_norm_``), ``|x|``
    and ``*args`` read as words, not as references, substitutions and emphasis."""
    parts = _LITERAL.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"(\w)_(?=\W|$)", r"\1\\_", parts[i].replace("*", r"\*").replace("|", r"\|"))
    return "".join(parts)


def plain_docstring(app, what, name, obj, options, lines):
    """autodoc-process-docstring, before napoleon: ember's docstrings are plain text with ````code```` spans and
    doctest examples; escape what reStructuredText would read as markup, leaving examples and literal blocks."""
    example, literal_indent = False, None
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None and stripped and indent <= literal_indent:
            literal_indent = None
        if stripped.startswith(">>>"):
            example = True
        elif not stripped:
            example = False
        if example or literal_indent is not None or not stripped:
            continue
        lines[i] = _escape_plain(line)
        if stripped.endswith("::"):
            literal_indent = indent


def cli_help(args):
    """What ``ember ARGS --help`` prints (argparse's text, 100 columns wide)."""
    import os
    from ember.cli import main
    out = io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([*args, "--help"])
    finally:
        if old is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = old
    return out.getvalue()


def cli_commands():
    """The subcommands that ``ember --help`` lists (bench parses its own options: it is left out)."""
    listed = re.search(r"\{([a-z_,-]+)\}", cli_help([])).group(1).split(",")
    return [c for c in listed if c != "bench"]


class EmberCli(Directive):
    """``.. ember-cli::`` writes ``ember --help`` and each subcommand's help, as the installed ember prints them."""

    def run(self):
        out = [nodes.literal_block(text=cli_help([]).rstrip(), language="text")]
        for command in cli_commands():
            section = nodes.section(ids=[f"ember-{command}"], names=[f"ember {command}"])
            section += nodes.title(text=f"ember {command}")
            section += nodes.literal_block(text=cli_help([command]).rstrip(), language="text")
            out.append(section)
        return out


class EmberGraph(Directive):
    """``.. ember-graph::`` runs its content (Python that defines and calls a compiled function ``fn``) and draws
    ``fn``'s optimized graph with Graphviz, as ``fn.save_graph("graph.dot")`` writes it: the figure is made by the
    build from the code as it is."""

    has_content = True

    def run(self):
        import os
        import tempfile
        from sphinx.ext.graphviz import graphviz
        namespace = {}
        exec(compile("\n".join(self.content), f"<ember-graph in {self.state.document['source']}>", "exec"), namespace)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "graph.dot")
            namespace["fn"].save_graph(path)
            with open(path) as f:
                dot = f.read()
        node = graphviz()
        node["code"] = dot
        node["options"] = {"docname": self.state.document.settings.env.docname}
        node["alt"] = "the optimized graph of a compiled function"
        code = nodes.literal_block(text="\n".join(self.content), language="python")
        return [code, node]


class EmberFigure(Directive):
    """``.. ember-figure::`` runs its content (Python that writes ``figure.png`` in the current directory) in a
    temporary directory and shows the code and the picture: the figures of the tutorials are made by the build from
    the code beside them (inlined as a data: URI, so no file is left in the sources)."""

    has_content = True
    option_spec = {"alt": directives.unchanged}

    def run(self):
        import base64
        import os
        import tempfile
        code = "\n".join(self.content)
        old = os.getcwd()
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            try:
                os.environ.setdefault("MPLBACKEND", "Agg")
                exec(compile(code, f"<ember-figure in {self.state.document['source']}>", "exec"), {})
                with open("figure.png", "rb") as f:
                    data = base64.b64encode(f.read()).decode()
            finally:
                os.chdir(old)
        image = nodes.image(uri=f"data:image/png;base64,{data}", alt=self.options.get("alt", "a figure"))
        return [nodes.literal_block(text=code, language="python"), image]


def setup(app):
    app.add_directive("ember-api", EmberApi)
    app.add_directive("ember-cli", EmberCli)
    app.add_directive("ember-graph", EmberGraph)
    app.add_directive("ember-figure", EmberFigure)
    app.connect("autodoc-process-docstring", plain_docstring, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
