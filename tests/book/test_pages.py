"""The built book shows its results: every figure, every promised table, no error and no log noise.

``book/build.py`` executes each chapter once into ``_build/executed/book/`` and builds
``_build/html`` from those copies; ``bash run.sh test`` (fast mode) and ``bash run.sh book``
(the published book) run this file right after. For every chapter of ``_toc.yml`` it
reads the page and the executed notebook it was built from and checks that

* every code cell that made figures has as many images in its output on the page;
* every table the chapter promises (``write(..., tables=...)`` in its source, kept in
  the notebook's metadata) is on the page: a ``<table>`` under that caption, with rows;
* no output on the page is an error, a traceback or anything written to standard error
  (TensorFlow's C++ start-up lines, LiteRT's notices, Python warnings all land there).

Without a build (or with one older than the chapters) the page checks skip and say how
to build; ``SELFIESEG_BOOK_REQUIRED=1`` (set by run.sh) turns that skip into a failure.
The checker itself is tested on small synthetic pages, so these tests can fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

bs4 = pytest.importorskip("bs4", reason="beautifulsoup4 comes with the book's stack (requirements-lock.txt)")

from selfieseg.quiet import NOISE  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SELFIESEG_BOOK_BUILD", REPO / "_build"))
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


def chapter_names() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    return [Path(name).name for name in files if (REPO / f"{name}.ipynb").exists()]


def shown_cells(notebook: dict) -> list[dict]:
    """The code cells that myst-nb puts on the page, in order (``remove-cell`` ones are not)."""
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"
            and "remove-cell" not in cell.get("metadata", {}).get("tags", [])]


def figures_made(cell: dict) -> int:
    return sum(1 for output in cell.get("outputs", []) if any(kind in output.get("data", {}) for kind in IMAGE_TYPES))


def _first_line(cell: dict) -> str:
    source = "".join(cell["source"])
    return source.splitlines()[0][:60] if source else ""


def page_problems(page_html: str, notebook: dict) -> list[str]:
    """Everything wrong with one chapter's page, given the executed notebook it was built from."""
    soup = bs4.BeautifulSoup(page_html, "html.parser")
    problems = []
    outputs = soup.select("div.cell_output")
    for output in outputs:
        for block in output.find_all("div", class_="output"):
            classes = set(block.get("class", []))
            text = block.get_text()
            if classes & {"traceback", "error"} or "Traceback (most recent call last)" in text:
                problems.append(f"an error on the page: {text.strip()[-300:]}")
            elif "stderr" in classes:
                problems.append(f"standard error on the page (log noise or a warning): {text.strip()[:300]}")
        noise = [fragment for fragment in NOISE if fragment in output.get_text()]
        if noise:
            problems.append(f"TensorFlow's start-up log on the page: {noise}")
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                problems.append(f"the executed notebook holds an error: {output.get('ename')}: {output.get('evalue')}")

    cells, page_cells = shown_cells(notebook), soup.select("div.cell")
    if len(cells) != len(page_cells):
        problems.append(f"the notebook has {len(cells)} code cells, the page {len(page_cells)}: cannot match figures")
    else:
        for index, (cell, shown) in enumerate(zip(cells, page_cells)):
            made = figures_made(cell)
            output = shown.select_one("div.cell_output")
            images = len(output.find_all("img")) if output else 0
            if "remove-output" not in cell.get("metadata", {}).get("tags", []) and images < made:
                problems.append(f"code cell {index} ({_first_line(cell)!r}) made {made} figure(s); the page shows {images}")
        if not any(figures_made(cell) for cell in cells) and any("plt.show()" in "".join(c["source"]) for c in cells):
            problems.append("cells call plt.show() but the executed notebook holds no figure: was it executed?")

    promised = notebook.get("metadata", {}).get("selfieseg", {}).get("tables", [])
    captions = {}
    for output in outputs:
        for table in output.find_all("table"):
            if table.caption:
                captions[table.caption.get_text(" ", strip=True)] = len(table.select("tbody tr"))
    for caption in promised:
        rows = [count for text, count in captions.items() if caption in text]
        if not rows:
            problems.append(f"the promised table {caption!r} is not on the page")
        elif not max(rows):
            problems.append(f"the promised table {caption!r} has no rows")
    return problems


# --- the checker on synthetic pages ------------------------------------------------------
def _notebook(cells, tables=()):
    notebook = {"cells": cells, "metadata": {}}
    if tables:
        notebook["metadata"]["selfieseg"] = {"tables": list(tables)}
    return notebook


def _code(source, outputs=()):
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": list(outputs)}


FIGURE = {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}


def _page(*cell_outputs):
    """A page in myst-nb's markup: one ``div.cell`` per code cell, its outputs inside ``div.cell_output``."""
    cells = "".join(f'<div class="cell docutils container"><div class="cell_input docutils container"><pre>x</pre></div>'
                    f'<div class="cell_output docutils container">{inner}</div></div>' for inner in cell_outputs)
    return f"<html><body><section><h1>A chapter</h1>{cells}</section></body></html>"


TABLE = ('<div class="output text_html"><table><caption>Scores in this run</caption><thead><tr><th>model</th></tr>'
         "</thead><tbody><tr><td>sinet</td></tr></tbody></table></div>")


def test_a_page_that_shows_every_figure_and_table_passes():
    notebook = _notebook([_code("plt.show()", [FIGURE]), _code("Table(...)")], tables=["Scores in this run"])
    assert page_problems(_page('<img src="a.png"/>', TABLE), notebook) == []


def test_the_checker_fails_a_page_with_a_traceback():
    traceback = ('<div class="output traceback highlight-ipythontb notranslate"><pre>ValueError   '
                 "Traceback (most recent call last)\nCell In[3], line 1\nValueError: boom</pre></div>")
    problems = page_problems(_page(traceback), _notebook([_code("raise ValueError('boom')")]))
    assert problems and "an error on the page" in problems[0] and "boom" in problems[0]
    # the same text printed to stdout (a caught exception printed by a cell) is still a traceback on the page
    printed = '<div class="output stream highlight-myst-ansi"><pre>Traceback (most recent call last):\n  File</pre></div>'
    assert any("an error on the page" in p for p in page_problems(_page(printed), _notebook([_code("print(tb)")])))


def test_the_checker_fails_log_noise_a_missing_figure_and_a_missing_table():
    noise = ('<div class="output stderr highlight-myst-ansi notranslate"><pre>WARNING: All log messages before '
             "absl::InitializeLog() is called are written to STDERR\nI0000 port.cc:153] oneDNN custom operations "
             "are on.</pre></div>")
    notebook = _notebook([_code("import keras"), _code("plt.show()", [FIGURE, FIGURE])], tables=["Scores in this run"])
    problems = page_problems(_page(noise, '<img src="a.png"/>'), notebook)
    assert any("standard error on the page" in p for p in problems)
    assert any("start-up log" in p and "oneDNN custom operations are on" in p for p in problems)
    assert any("made 2 figure(s); the page shows 1" in p for p in problems)
    assert any("'Scores in this run' is not on the page" in p for p in problems)
    empty = TABLE.replace("<tr><td>sinet</td></tr>", "")
    assert page_problems(_page(empty), _notebook([_code("Table()")], ["Scores in this run"])) == [
        "the promised table 'Scores in this run' has no rows"]


def test_the_checker_fails_a_page_built_without_outputs():
    """The test command used to build with execution off: code on the page, no figures."""
    notebook = _notebook([_code("plt.show()", [FIGURE])])
    problems = page_problems('<div class="cell docutils container"><div class="cell_input">x</div></div>', notebook)
    assert problems == ["code cell 0 ('plt.show()') made 1 figure(s); the page shows 0"]


# --- the real pages -----------------------------------------------------------------------
def _built(name: str) -> tuple[Path, Path]:
    """The page and the executed notebook of one chapter, or a skip (a failure under run.sh) saying why."""
    page, executed = BUILD / "html" / "book" / f"{name}.html", BUILD / "executed" / "book" / f"{name}.ipynb"
    reason = None
    if not page.exists() or not executed.exists():
        reason = f"no built book at {BUILD} ({page.name} or {executed.name} missing): `bash run.sh test` or `bash run.sh book` builds it"
    else:
        sources = [["".join(c["source"]) for c in shown_cells(json.loads(path.read_text()))]
                   for path in (REPO / "book" / f"{name}.ipynb", executed)]
        if sources[0] != sources[1]:
            reason = f"the built {page.name} is of an older book/{name}.ipynb: rebuild (`bash run.sh test` or `python book/build.py --fast`)"
    if reason:
        if os.environ.get("SELFIESEG_BOOK_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return page, executed


@pytest.mark.parametrize("name", chapter_names())
def test_every_chapter_page_shows_its_results(name):
    page, executed = _built(name)
    problems = page_problems(page.read_text(), json.loads(executed.read_text()))
    assert not problems, f"{page}:\n" + "\n".join(problems)


def test_a_real_page_with_a_traceback_added_fails():
    """The checks above pass on the real pages; the same page with one error output in it must not."""
    name = "evaluation" if "evaluation" in chapter_names() else chapter_names()[0]
    page, executed = _built(name)
    notebook = json.loads(executed.read_text())
    assert page_problems(page.read_text(), notebook) == [], "the real page must pass first"
    broken = page.read_text().replace('<div class="cell_output docutils container">',
                                      '<div class="cell_output docutils container"><div class="output traceback">'
                                      "<pre>KeyError    Traceback (most recent call last)</pre></div>", 1)
    assert broken != page.read_text()
    assert any("an error on the page" in p for p in page_problems(broken, notebook))


def test_every_chapter_is_built_from_an_executed_notebook():
    """The fast and the full build both leave the notebooks they built from, so the checks above can read them."""
    for name in chapter_names():
        _, executed = _built(name)
        cells = shown_cells(json.loads(executed.read_text()))
        assert any(cell.get("outputs") for cell in cells), f"{executed} has no outputs: it was not executed"
