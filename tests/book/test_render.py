"""The built book renders in a browser: every chapter's figures load and nothing on it fails.

``tests/book/test_pages.py`` reads the HTML, so it knows a figure's ``<img>`` is there but
not that the browser can show it: a wrong relative path, an image missing from
``_build/html/_images``, a script of the theme that throws, a page that comes out blank.
This file opens the built pages the way a reader on GitHub Pages gets them, over http
(a local server for ``_build/html`` on 127.0.0.1, started here), in headless Chromium,
and for every chapter of ``_toc.yml``

* fails on any JavaScript exception or console error, and on any of the book's own files
  answering 404 (or any status >= 400) or failing to load;
* scrolls to the bottom, so images loaded lazily are asked for, and then requires every
  image of the book's own in the article (the chapter's content, not the theme's sidebar;
  not the Colab badge, which comes from another host) to be loaded and decoded
  (``complete`` with a ``naturalWidth``), naming the chapter and the image's src; and that
  there are at least as many as the figures its executed notebook made, so a change of
  the theme's markup cannot make the check look at nothing;
* saves a full-page screenshot to ``_build/screenshots/<chapter>.png`` (to look at, and
  for the Pages workflow to keep) and fails a blank one: an empty white page has one grey
  level, a page with text and figures hundreds.

Nothing is fetched from the internet: every request to another host is aborted, so the
test gives the same answer offline and in CI, and those aborted requests are not counted
as failures (the book's only external loads are optional extras like MathJax from a CDN;
whatever of ours depends on them would still throw and fail the test).

The checking function, :func:`render_problems`, is run first on small synthetic pages with
a missing image, a JavaScript error and nothing at all on them: it must catch each. Without
a build the chapter checks skip and say how to build; ``SELFIESEG_BOOK_REQUIRED=1`` (set
by run.sh) turns that skip into a failure. Without Chromium or the playwright package all
of it skips, saying which is missing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image
from test_pages import BUILD, _built, chapter_names, figures_made, shown_cells

from selfieseg.webdemo import CHROMIUM, CHROMIUM_FLAGS, serve

SCREENSHOTS = BUILD / "screenshots"
#: the chapter's content in sphinx-book-theme's markup (``main > ... > article.bd-article``)
FIGURES = "main article img"
PAGE_TIMEOUT_MS = 30_000
#: a full-page screenshot with fewer grey levels, or less spread in them, is a blank page
#: (measured on the fast build: the chapters have std 40-60 and 256 levels; a white page 0 and 1)
MIN_GREY_STD, MIN_GREY_LEVELS = 5.0, 16

SCROLL_TO_BOTTOM = """async () => {
    const step = Math.max(200, window.innerHeight - 100);
    for (let y = 0; y < document.scrollingElement.scrollHeight; y += step) {
        window.scrollTo(0, y);
        await new Promise(resolve => setTimeout(resolve, 30));
    }
    window.scrollTo(0, document.scrollingElement.scrollHeight);
}"""
IMAGES_SETTLED = "selector => [...document.querySelectorAll(selector)].every(img => img.complete)"
IMAGE_STATES = """selector => [...document.querySelectorAll(selector)].map(img => ({
    src: img.getAttribute('src') || '', url: img.currentSrc || img.src,
    external: new URL(img.currentSrc || img.src, location.href).origin !== location.origin,
    complete: img.complete, width: img.naturalWidth}))"""


@dataclass
class Rendered:
    problems: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # the src of every figure image checked
    external: list[str] = field(default_factory=list)  # images from other hosts (badges): aborted, not checked


def blank_screenshot(path: Path) -> str | None:
    """Why the screenshot at ``path`` looks blank, or None if it shows something."""
    grey = np.asarray(Image.open(path).convert("L"))
    spread, levels = float(grey.std()), len(np.unique(grey))
    if spread < MIN_GREY_STD or levels < MIN_GREY_LEVELS:
        return f"the screenshot {path} is blank: grey std {spread:.1f}, {levels} distinct levels"
    return None


def render_problems(browser, url: str, screenshot: Path) -> Rendered:
    """Open ``url`` in a new page of ``browser`` and say everything that did not render.

    ``url`` must be served from 127.0.0.1: requests to any other host are aborted.
    """
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    found, aborted, console = Rendered(), set(), []

    def local_only(route, request):
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
            aborted.add(request.url)
            route.abort()
        else:
            route.continue_()

    def on_response(response):
        if response.status >= 400 and response.url.startswith(origin):
            found.problems.append(f"{response.status} for the book's own {response.url}")

    def on_failed(request):
        # a request aborted above (another host) fails by design: it is not the book's fault
        if request.url not in aborted:
            found.problems.append(f"request failed: {request.url} ({request.failure})")

    def on_console(message):
        # "Failed to load resource" for an aborted request comes with its url as location
        if message.type == "error" and message.location.get("url") not in aborted:
            console.append(f"console error: {message.text} (at {message.location.get('url')})")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.route("**/*", local_only)
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    page.on("console", on_console)
    page.on("pageerror", lambda error: console.append(f"JavaScript exception: {error}"))
    try:
        page.goto(url, wait_until="load")
        page.evaluate(SCROLL_TO_BOTTOM)
        try:
            page.wait_for_function(IMAGES_SETTLED, arg=FIGURES, timeout=PAGE_TIMEOUT_MS)
        except Exception:  # playwright's TimeoutError: the images still loading are named below
            pass
        page.evaluate("window.scrollTo(0, 0)")
        for image in page.evaluate(IMAGE_STATES, FIGURES):
            if image["external"]:  # the Colab badge: its request was aborted above, as offline
                found.external.append(image["url"])
                continue
            found.images.append(image["src"])
            if not image["complete"]:
                found.problems.append(f"figure image still loading after {PAGE_TIMEOUT_MS} ms: {image['src']}")
            elif not image["width"]:
                found.problems.append(f"figure image not shown (broken or not decoded): {image['src']} ({image['url']})")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    blank = blank_screenshot(screenshot)
    found.problems += console + ([blank] if blank else [])
    return found


# --- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser(playwright):
    """One headless Chromium for every page here: Debian's, driven by the playwright package (conftest)."""
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS))
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def site():
    """The built book served over http from 127.0.0.1, as GitHub Pages serves it: its base URL."""
    index = BUILD / "html" / "index.html"
    if not index.exists():
        reason = f"no built book at {BUILD} ({index} missing): `bash run.sh test` or `bash run.sh book` builds it"
        if os.environ.get("SELFIESEG_BOOK_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with serve(BUILD / "html") as base:
        yield base


# --- the checker on synthetic pages -----------------------------------------------------------
def _synthetic_site(folder: Path) -> Path:
    """A good page (a real PNG, and a script from the internet that the test aborts), a page with a
    missing image, one whose script throws and one with nothing on it."""
    gradient = np.tile(np.linspace(0, 255, 240, dtype=np.uint8), (120, 1))
    Image.fromarray(np.dstack([gradient, gradient[:, ::-1], np.full_like(gradient, 90)])).save(folder / "figure.png")
    article = "<main><article><h1>A chapter</h1><p>Some text about the figure.</p>{}</article></main>"
    pages = {
        "good.html": '<script src="https://cdn.example.com/extra.js"></script>'
                     + article.format('<img src="https://cdn.example.com/badge.svg" alt="a badge">'
                                      '<img src="figure.png" alt="a figure">'),
        "missing_image.html": article.format('<img src="figure.png"><img src="_images/missing.png">'),
        "script_error.html": article.format('<img src="figure.png"><script>undefinedFunction();</script>'),
        "blank.html": "",
    }
    for name, body in pages.items():
        (folder / name).write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>")
    return folder


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    with serve(_synthetic_site(tmp_path_factory.mktemp("pages"))) as base:
        yield base


def test_a_page_whose_figures_load_passes(browser, synthetic, tmp_path):
    rendered = render_problems(browser, synthetic + "good.html", tmp_path / "good.png")
    assert rendered.problems == []
    assert rendered.images == ["figure.png"]
    assert rendered.external == ["https://cdn.example.com/badge.svg"]  # another host's image: left alone


def test_the_checker_fails_a_missing_image(browser, synthetic, tmp_path):
    problems = render_problems(browser, synthetic + "missing_image.html", tmp_path / "missing.png").problems
    assert any("figure image not shown" in p and "_images/missing.png" in p for p in problems), problems
    assert any(p.startswith("404 for the book's own") and p.endswith("/_images/missing.png") for p in problems), problems
    assert not any("figure.png" in p and "missing" not in p for p in problems), "the good image was blamed"


def test_the_checker_fails_a_javascript_error(browser, synthetic, tmp_path):
    problems = render_problems(browser, synthetic + "script_error.html", tmp_path / "error.png").problems
    assert any(p.startswith("JavaScript exception") and "undefinedFunction" in p for p in problems), problems


def test_the_checker_fails_a_blank_page(browser, synthetic, tmp_path):
    problems = render_problems(browser, synthetic + "blank.html", tmp_path / "blank.png").problems
    assert len(problems) == 1 and "is blank" in problems[0], problems


# --- the real pages -----------------------------------------------------------------------
@pytest.mark.parametrize("name", chapter_names())
def test_every_chapter_renders_its_figures(browser, site, name):
    _, executed = _built(name)
    rendered = render_problems(browser, f"{site}book/{name}.html", SCREENSHOTS / f"{name}.png")
    assert not rendered.problems, f"{name}:\n" + "\n".join(rendered.problems)
    made = sum(figures_made(cell) for cell in shown_cells(json.loads(executed.read_text()))
               if "remove-output" not in cell.get("metadata", {}).get("tags", []))
    assert len(rendered.images) >= made, (f"{name}: its notebook made {made} figure(s), the browser found "
                                          f"{len(rendered.images)} images under {FIGURES!r}: has the theme's markup changed?")
