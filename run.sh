#!/usr/bin/env bash
# The commands of the README:
#   bash run.sh demo [IMAGE] [OUT]   the main job (see README)
#   bash run.sh test                 every test: pytest, then the book built from every chapter run once (fast mode) and its pages checked
#   bash run.sh test --fast          the fast lane for work in progress: pytest without the tests marked slow
#   bash run.sh book                 the published book: every chapter run in full into _build/html, its pages checked
# Each creates or reuses a virtual environment at .venv and installs the pinned stack into it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)

ensure_venv() {
  local python=${PYTHON:-}
  if [ -z "$python" ]; then
    for candidate in python3.11 python3; do
      if command -v "$candidate" >/dev/null 2>&1; then python=$candidate; break; fi
    done
  fi
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($python --version 2>&1)"
    "$python" -m venv .venv
  fi
  local stamp=.venv/.selfieseg-installed
  local want
  want=$(cat requirements-lock.txt pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> installing the pinned stack into .venv (first run: a few minutes)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements-lock.txt
    .venv/bin/python -m pip install --quiet --no-deps -e .
    echo "$want" > "$stamp"
  fi
  # Data and Keras weights: use ../shared when it is there and nothing else was chosen.
  if [ -z "${SELFIESEG_DATA:-}" ] && [ -d ../shared/data ]; then export SELFIESEG_DATA="$ROOT/../shared/data"; fi
  if [ -z "${KERAS_HOME:-}" ] && [ -d ../shared/keras ]; then export KERAS_HOME="$ROOT/../shared/keras"; fi
  if [ -z "${SELFIESEG_ANCHORS:-}" ] && [ -d ../shared/anchors ]; then export SELFIESEG_ANCHORS="$ROOT/../shared/anchors"; fi
  export PATH="$ROOT/.venv/bin:$PATH"
  export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
}

# The browser demo's tests (tests/web) drive Debian's Chromium with Playwright on the page
# built from book/demo's npm packages. What is missing is installed: Chromium (and npm) with
# apt-get where it is there and we are root, playwright into .venv, book/demo/node_modules
# with `npm ci`. Never `playwright install`: it downloads a browser of its own. What cannot
# be had is said here, and those tests skip saying why.
ensure_browser() {
  local apt=""
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then apt=yes; fi
  local wanted=()
  [ -x /usr/bin/chromium ] || wanted+=(chromium)
  command -v npm >/dev/null 2>&1 || wanted+=(nodejs npm)
  if [ ${#wanted[@]} -gt 0 ]; then
    if [ -n "$apt" ]; then
      echo "==> installing ${wanted[*]} (apt-get) for the browser demo's tests"
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}"; } >/dev/null 2>&1 \
        || echo "==> apt-get could not install ${wanted[*]}: the browser demo's tests will skip"
    else
      echo "==> ${wanted[*]} missing and no apt-get to install them as root: the browser demo's tests will skip"
    fi
  fi
  if ! python -c "import playwright" >/dev/null 2>&1; then
    echo "==> installing playwright into .venv (the Python package only; the browser is Debian's)"
    python -m pip install --quiet "$(grep '^playwright==' requirements-lock.txt || echo playwright)"
  fi
  if [ ! -d book/demo/node_modules ] && command -v npm >/dev/null 2>&1; then
    echo "==> npm ci in book/demo (the demo page's runtimes, as package-lock.json pins them)"
    (cd book/demo && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) \
      || echo "==> npm ci failed in book/demo: the browser demo's tests will skip"
  fi
}

run_tests() {
  local lane=${1:-all}
  export SELFIESEG_FAST=1
  local start=$SECONDS
  # Test files run in parallel workers, one file per worker at a time (--dist loadfile;
  # the chapters run in parallel kernels in build_book, below). Most test time is
  # single-threaded graph tracing and conversion, so 2 workers on 2 cores nearly halve it.
  # SELFIESEG_TEST_WORKERS=0 runs everything in this one process.
  local workers=${SELFIESEG_TEST_WORKERS:-$(python -c "import os; print(min(4, max(1, len(os.sched_getaffinity(0)))))")}
  if ! [[ "$workers" =~ ^[0-9]+$ ]]; then
    echo "SELFIESEG_TEST_WORKERS must be a whole number (0: one process), got '$workers'" >&2
    exit 2
  fi
  local parallel=()
  if [ "$workers" -gt 0 ]; then parallel=(-n "$workers" --dist loadfile); fi
  if [ "$lane" = "--fast" ]; then
    echo "==> pytest, fast lane: not the tests marked slow ($workers workers)"
    python -m pytest -q -p no:cacheprovider --durations=10 "${parallel[@]}" -m "not slow" tests
    echo "==> fast lane passed in $(( SECONDS - start )) s (bash run.sh test runs everything)"
    return
  fi
  echo "==> pytest ($workers workers)"
  # --durations: every run lists its slowest items, so the suite's budget can be kept.
  # The page checks need the book, so they run after build_book below.
  python -m pytest -q -p no:cacheprovider --durations=15 "${parallel[@]}" --ignore=tests/book/test_pages.py --ignore=tests/book/test_render.py tests
  build_book --fast
  echo "==> all tests passed in $(( SECONDS - start )) s"
}

# The book from every chapter executed once (book/build.py: in parallel, into
# _build/executed, then jupyter-book with execution off into _build/html; a cell's error
# fails it), then its pages checked (tests/book/test_pages.py: every figure, every
# promised table, no error or log output) and rendered (tests/book/test_render.py: each
# chapter opened in headless Chromium, every figure loaded, no script error, a screenshot
# that is not blank). `--fast`: SELFIESEG_FAST=1, what the tests
# run; without it every chapter runs in full, the book that gets published.
build_book() {
  local start=$SECONDS
  local workers=${SELFIESEG_BOOK_WORKERS:-$(python -c "import os; print(min(4, max(1, len(os.sched_getaffinity(0)))))")}
  python book/build.py "$@" --workers "$workers"
  if [ "${1:-}" != "--fast" ]; then
    # the published book carries the live demo (book/demo, built with the shipped SINet
    # exported to ONNX and MediaPipe's model from $SELFIESEG_ANCHORS) at _build/html/demo/
    if [ ! -d book/demo/node_modules ] && command -v npm >/dev/null 2>&1; then
      (cd book/demo && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    fi
    rm -rf _build/html/demo
    python -m selfieseg.webdemo _build/html/demo
  fi
  echo "==> the pages show their results, and render in headless Chromium (screenshots: _build/screenshots)"
  SELFIESEG_BOOK_REQUIRED=1 python -m pytest -q -p no:cacheprovider tests/book/test_pages.py tests/book/test_render.py
  echo "==> book built and checked in $(( SECONDS - start )) s: _build/html/index.html"
}

command=${1:-}
case "$command" in
  demo)
    ensure_venv
    shift
    python -m selfieseg demo "$@"
    ;;
  test)
    ensure_venv
    shift
    case "${1:-}" in
      "") ensure_browser; run_tests all ;;  # the fast lane leaves the (slow) browser tests out
      --fast) run_tests --fast ;;
      *) echo "usage: bash run.sh test [--fast]" >&2; exit 2 ;;
    esac
    ;;
  book)
    ensure_venv
    shift
    if [ $# -gt 0 ]; then echo "usage: bash run.sh book" >&2; exit 2; fi
    ensure_browser
    build_book
    ;;
  *)
    echo "usage: bash run.sh demo [IMAGE] [--out FOLDER] | bash run.sh test [--fast] | bash run.sh book" >&2
    exit 2
    ;;
esac
