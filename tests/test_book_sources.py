"""The book's notebooks are generated from book/_sources/*.py: they must not drift apart.

A notebook edited by hand (or a source edited without regenerating) loses the edit at the
next regeneration; this test says which notebook and which cell differ.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
SOURCES = sorted(p for p in (BOOK / "_sources").glob("*.py") if p.name != "notebook_builder.py")


def _cells(path: Path) -> list[tuple]:
    notebook = json.loads(path.read_text())
    return [(c["cell_type"], "".join(c["source"]), tuple(c.get("metadata", {}).get("tags", [])))
            for c in notebook["cells"]]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_notebooks_are_what_their_source_generates(source, tmp_path):
    # the builder writes relative to its own location: run a copy, so the repo is untouched
    copy = tmp_path / "book" / "_sources"
    shutil.copytree(BOOK / "_sources", copy)
    done = subprocess.run([sys.executable, str(copy / source.name)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    generated = sorted((tmp_path / "book").glob("*.ipynb"))
    assert generated, f"{source.name} wrote no notebook"
    for path in generated:
        committed = BOOK / path.name
        assert committed.exists(), f"{source.name} generates {path.name}, which is not in book/"
        ours, theirs = _cells(path), _cells(committed)
        assert len(ours) == len(theirs), f"book/{path.name}: {len(theirs)} cells, its source makes {len(ours)}"
        for index, (made, kept) in enumerate(zip(ours, theirs)):
            assert made == kept, (f"book/{path.name} cell {index} differs from what {source.name} generates: "
                                  f"edit the source and run `python book/_sources/{source.name}`")
        # the tables the chapter promises (checked on the built page by tests/book/test_pages.py)
        promised = json.loads(path.read_text())["metadata"].get("selfieseg")
        assert json.loads(committed.read_text())["metadata"].get("selfieseg") == promised, (
            f"book/{path.name}: its promised tables differ from {source.name}'s: run `python book/_sources/{source.name}`")
