"""A Sphinx extension of this book: each page carries every script once.

With Jupyter Book 1.x (Sphinx 7.4, sphinx-book-theme 1.3, sphinx-thebe 0.3) every
notebook page came out with two copies of the inline scripts that sphinx-thebe and
sphinx-togglebutton add (``const THEBE_JS_URL = ...``, ``var togglebuttonSelector =
...``). Sphinx 7.4 keeps an inline script twice when it is added after the builder has
started: once from its registry with the file name ``""``, once directly with ``None``,
so its own check for a script added twice sees two different ones.
A browser then throws ``SyntaxError: Identifier 'THEBE_JS_URL' has already been
declared`` on every chapter, which tests/book/test_render.py caught. Here the page's
script list is cut to the first copy of each (same file or same inline body, same
attributes) just before the page is written; nothing else changes.
"""

from __future__ import annotations


def _script_key(script) -> tuple:
    filename = getattr(script, "filename", script) or ""  # sphinx's _JavaScript, or a plain str
    attributes = getattr(script, "attributes", {})
    return str(filename), tuple(sorted((str(k), str(v)) for k, v in attributes.items() if k != "priority"))


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept  # the builder restores its own list for the next page


def setup(app):
    # late, so that scripts other extensions add for this page are in the list already
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
