"""book/build.py: a chapter runs once in its own kernel, its executed copy is kept, a failing cell is named.

Real kernels on small notebooks; the whole book's build is what ``bash run.sh test``
runs (and tests/book/test_pages.py then checks).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("book_build", REPO / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _notebook(path: Path, *sources: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_a_chapter_runs_in_its_own_folder_and_keeps_its_outputs(build, tmp_path):
    (tmp_path / "beside.txt").write_text("found")
    source = _notebook(tmp_path / "chapter.ipynb", "print(open('beside.txt').read())", "import time; time.sleep(0.2)")
    result = build.execute(source, tmp_path / "out" / "chapter.ipynb", timeout=120)
    assert result["error"] is None
    executed = json.loads((tmp_path / "out" / "chapter.ipynb").read_text())
    assert "".join(executed["cells"][0]["outputs"][0]["text"]) == "found\n"  # the kernel's working folder is the notebook's
    assert json.loads(source.read_text())["cells"][0]["outputs"] == []  # the source is left as it was
    seconds = {index: taken for taken, index, _ in result["cells"]}
    assert seconds[1] >= 0.2 and (tmp_path / "out" / "chapter.kernel.log").exists()


def test_a_failing_cell_is_named_and_its_copy_still_written(build, tmp_path):
    source = _notebook(tmp_path / "broken.ipynb", "x = 1", "raise ValueError('the chapter broke here')", "print('never')")
    result = build.execute(source, tmp_path / "out" / "broken.ipynb", timeout=120)
    assert "ValueError" in result["error"] and "the chapter broke here" in result["error"]
    assert "raise ValueError" in result["error"]  # the failing cell's source, to find it
    executed = json.loads((tmp_path / "out" / "broken.ipynb").read_text())
    assert executed["cells"][1]["outputs"][0]["output_type"] == "error"
    assert executed["cells"][2]["outputs"] == []  # nothing ran after it


def test_the_chapters_are_the_notebooks_of_the_toc_in_order(build):
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    listed = [f"{entry['file']}.ipynb" for part in toc["parts"] for entry in part["chapters"]]
    chapters = build.chapters()
    assert chapters == [name for name in listed if (REPO / name).exists()]
    assert "book/evaluation.ipynb" in chapters and chapters.index("book/evaluation.ipynb") == chapters.index("book/training.ipynb") + 1
