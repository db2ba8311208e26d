"""Build the book's HTML from chapters executed once each: ``python book/build.py [--fast] [--workers N]``.

``bash run.sh book`` (the published book, every chapter in full) and ``bash run.sh test``
(fast mode, ``SELFIESEG_FAST=1``) both call this, so the pages the tests check are made
the way the published ones are. Why not ``jupyter-book build .`` with execution on: it
runs the chapters one after another on one core (737 s for the full book on this
project's 2-core machine), and the test command used to run every chapter twice, once
through nbval for errors and again (with execution off, so with no figures) for the
pages. Here each chapter runs once, ``--workers`` at a time (measured 2026-12-02 on the
shared 2-core machine: the Quantization and Deployment chapters side by side in 230 s,
against 250 s through nbval; the whole book in full, eleven chapters, 770 s):

1. ``_build/executed/`` gets a copy of the book's sources (``_config.yml`` with
   execution off, ``_toc.yml``, ``book/`` without ``_sources/``);
2. every chapter in ``_toc.yml`` runs in its own kernel (working folder ``book/``, as in
   Jupyter), longest first by the last run's times, and its executed copy is written
   to ``_build/executed/book/`` (also when a cell fails, to read what it printed);
3. a failed cell fails the build, naming the chapter, the cell and its error;
4. ``jupyter-book build _build/executed`` (warnings are errors) writes ``_build/html``.

Each chapter's time and the 15 slowest cells are printed, as nbval's ``--durations``
did. ``tests/book/test_pages.py`` then checks the pages show their results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
STAGING = BUILD / "executed"
#: the last run's seconds per chapter, per mode: the next run starts the longest first
TIMES = BUILD / "chapter_seconds.json"


def chapters() -> list[str]:
    """The notebooks of ``_toc.yml``, as paths relative to the repository (``book/data.ipynb``)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    return [f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def stage() -> dict:
    """Copy the book's sources into ``_build/executed`` with execution off; return the config."""
    if STAGING.exists():
        shutil.rmtree(STAGING)
    # every chapter, unexecuted (an ``--only`` run leaves the others so: the toc stays whole);
    # the executed copies replace them
    shutil.copytree(ROOT / "book", STAGING / "book",
                    ignore=shutil.ignore_patterns("_sources", "__pycache__", ".ipynb_checkpoints", "*.py", "node_modules"))
    # the book's own Sphinx extensions (``local_extensions`` in _config.yml) are the only Python it needs
    shutil.copytree(ROOT / "book" / "_ext", STAGING / "book" / "_ext", ignore=shutil.ignore_patterns("__pycache__"),
                    dirs_exist_ok=True)
    shutil.copy2(ROOT / "_toc.yml", STAGING / "_toc.yml")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"  # the notebooks arrive executed
    (STAGING / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return config


def _seconds(cell) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def execute(source: Path, target: Path, timeout: int) -> dict:
    """Run the notebook ``source`` in a fresh kernel (working folder: its own) and write the executed copy to ``target``.

    Never raises for a cell's error: the result's ``error`` holds it (with the cell's
    source and traceback, as nbclient words it), ``cells`` each code cell's seconds.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    start, error = time.monotonic(), None
    target.parent.mkdir(parents=True, exist_ok=True)
    # the kernel process's own start-up lines (jupyter_client's warnings, a crash) go to a log
    # beside the executed copy, not into this build's output; a cell's output is in the notebook
    with open(target.with_suffix(".kernel.log"), "w") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        except CellExecutionError as exc:
            error = str(exc)
        except Exception as exc:  # a timeout or a dead kernel: report it like a cell's error
            error = f"{type(exc).__name__}: {exc} (the kernel's log: {target.with_suffix('.kernel.log')})"
    nbformat.write(notebook, target)
    cells = [(_seconds(cell), index, cell["source"].splitlines()[0][:60] if cell["source"] else "")
             for index, cell in enumerate(notebook.cells) if cell["cell_type"] == "code"]
    return {"seconds": time.monotonic() - start, "error": error, "cells": cells}


def _execute_chapter(chapter: str, timeout: int) -> dict:
    return {"chapter": chapter, **execute(ROOT / chapter, STAGING / chapter, timeout)}


def run_all(names: list[str], workers: int, timeout: int, mode: str) -> list[dict]:
    """Execute ``names``, ``workers`` at a time, longest first by the last run's times."""
    last = json.loads(TIMES.read_text()).get(mode, {}) if TIMES.exists() else {}
    order = sorted(names, key=lambda name: -last.get(name, 0.0))
    results = []
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(_execute_chapter, name, timeout) for name in order]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            state = "FAILED" if result["error"] else "ok"
            print(f"    {result['chapter']}: {state} in {result['seconds']:.0f} s", flush=True)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times.setdefault(mode, {}).update({r["chapter"]: round(r["seconds"], 1) for r in results})  # an --only run keeps the rest
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    return results


def main(argv=None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--fast", action="store_true", help="SELFIESEG_FAST=1: every chapter on fewer images (the tests)")
    options.add_argument("--workers", type=int, default=2, help="chapters executed at once (default 2)")
    options.add_argument("--only", help="comma-separated chapters (book/NAME.ipynb) instead of all; for a quick look")
    args = options.parse_args(argv)
    mode = "fast" if args.fast else "full"
    # the kernels inherit this: every chapter reads FAST from it in its parameters cell
    os.environ["SELFIESEG_FAST"] = "1" if args.fast else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    names = chapters() if not args.only else [name.strip() for name in args.only.split(",")]
    config = stage()
    timeout = int(config["execute"].get("timeout", 1800))
    start = time.monotonic()
    print(f"==> executing {len(names)} chapters ({mode} mode, {args.workers} at a time)", flush=True)
    results = run_all(names, args.workers, timeout, mode)
    executed = time.monotonic() - start
    slowest = sorted(((seconds, r["chapter"], index, line) for r in results for seconds, index, line in r["cells"]),
                     reverse=True)[:15]
    print(f"==> chapters executed in {executed:.0f} s; slowest cells:")
    for seconds, chapter, index, line in slowest:
        print(f"    {seconds:7.1f} s  {chapter} cell {index}: {line}")
    failed = [r for r in results if r["error"]]
    for r in failed:
        print(f"\n==> {r['chapter']} failed (its executed copy: {STAGING / r['chapter']}):\n{r['error'][-3000:]}",
              file=sys.stderr)
    if failed:
        print(f"==> {len(failed)} chapter(s) failed: {', '.join(r['chapter'] for r in failed)}", file=sys.stderr)
        return 1
    for stale in ("html", ".doctrees", "jupyter_execute"):
        shutil.rmtree(BUILD / stale, ignore_errors=True)
    print("==> jupyter-book build from the executed chapters (warnings are errors)", flush=True)
    built = subprocess.run(["jupyter-book", "build", str(STAGING), "--path-output", str(ROOT),
                            "--warningiserror", "--keep-going", "--quiet"], cwd=ROOT)
    if built.returncode:
        return built.returncode
    print(f"==> book built in {time.monotonic() - start:.0f} s: {BUILD / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
