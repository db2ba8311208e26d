"""Tiny helpers to write the book's notebooks from Python (used by book/_sources/*.py).

A notebook is a list of cells: ``md(text)``, ``code(text, tags)``. ``solution(text)``
marks a cell as an exercise solution: hidden in the book (``hide-cell``) and removed
by ``selfieseg exercises`` for the students' copy. ``write(cells, path, tables=...)``
records the captions of the results tables (``selfieseg.viz.Table``) the chapter shows;
``tests/book/test_pages.py`` checks that each is on the built page.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import nbformat

SETUP = '''# Installs selfieseg when it is missing (Colab, a fresh kernel); a no-op where it is installed.
try:
    import selfieseg
except ImportError:
    %pip install -q "selfieseg[export] @ git+https://github.com/selfieseg/selfieseg"
    import selfieseg

# TensorFlow's C++ runtime logs start-up notices (absl, oneDNN) as it loads, into the cell's output:
# load it now without them. Real errors still show; importing selfieseg alone changes nothing.
from selfieseg.quiet import load_tensorflow_quietly

load_tensorflow_quietly()'''

PARAMETERS = '''# Parameters: papermill may override them. FAST is the CI mode (SELFIESEG_FAST=1):
# every code path runs, on fewer images and fewer timing repeats.
import os

FAST = os.environ.get("SELFIESEG_FAST", "0") == "1"'''


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str, tags=()):
    cell = nbformat.v4.new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def solution(text: str):
    return code(text, tags=("solution", "hide-cell"))


def preamble(title: str, colab_path: str, intro: str):
    badge = (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/selfieseg/selfieseg/blob/main/{colab_path})"
    )
    return [md(f"# {title}\n\n{badge}\n\n{intro.strip()}"), code(SETUP), code(PARAMETERS, tags=("parameters",))]


def write(cells, path, tables=()):
    """Write the notebook; ``tables``: the captions of the results tables its cells show."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    for index, cell in enumerate(cells):
        # ids from position and source, not random: regenerating a chapter changes only
        # the cells whose text changed, so diffs stay readable
        cell["id"] = hashlib.sha1(f"{index}:{cell['source']}".encode()).hexdigest()[:8]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    if tables:
        notebook.metadata["selfieseg"] = {"tables": list(tables)}
    nbformat.validate(notebook)
    path = Path(__file__).resolve().parents[2] / path
    path.write_text(nbformat.writes(notebook))
    print(f"wrote {path}", file=sys.stderr)
