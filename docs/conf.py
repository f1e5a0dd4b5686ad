"""Sphinx configuration of ember's documentation: ``python -m sphinx -W --keep-going -b html docs build/docs``."""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "docs" / "_ext")]

import ember  # noqa: E402

project = "ember"
author = "the ember developers"
copyright = "the ember developers (MIT license)"
version = release = ember.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.graphviz",
    "myst_parser",
    "ember_api",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_ext", "images/README*"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "alphabetical"
autodoc_typehints = "signature"
autodoc_inherit_docstrings = False  # a name documents itself (tests/test_docstrings.py checks the same)
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # a class's Attributes: section as fields (its slots are documented as members too)
napoleon_custom_sections = ["Shape", "PyTorch"]  # the house sections beside Args, Returns, Example

graphviz_output_format = "svg"
html_theme = "furo"
html_title = f"ember {release}"
html_static_path = []
html_copy_source = False
html_show_sourcelink = False
