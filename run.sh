#!/usr/bin/env bash
# The two commands of the README:
#   bash run.sh demo [IMAGE] [OUT]   the main job (see README)
#   bash run.sh test                 every test: pytest, every notebook (nbval, fast mode), the book build
#   bash run.sh test --fast          the fast lane for work in progress: pytest without the tests marked slow
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

run_tests() {
  local lane=${1:-all}
  export SELFIESEG_FAST=1
  local start=$SECONDS
  # Test files (and notebooks) run in parallel workers, one file per worker at a time
  # (--dist loadfile keeps a notebook's cells in order in one kernel). Most test time is
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
  # --durations: every run lists its slowest items, so the suite's budget can be kept
  python -m pytest -q -p no:cacheprovider --durations=15 "${parallel[@]}" tests
  echo "==> notebooks (nbval, fast mode)"
  python -m pytest -q -p no:cacheprovider --durations=15 "${parallel[@]}" --nbval-lax --nbval-cell-timeout=900 book
  echo "==> book build (warnings are errors)"
  # nbval above has just executed every notebook; the build checks the book itself
  # (toc, cross-references, markdown) without running them a second time. A plain
  # `jupyter-book build .` (the published book) executes every chapter (_config.yml).
  mkdir -p _build
  sed 's/execute_notebooks: force/execute_notebooks: "off"/' _config.yml > _build/_config_test.yml
  jupyter-book build . --config _build/_config_test.yml --warningiserror --keep-going --quiet
  echo "==> all tests passed in $(( SECONDS - start )) s"
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
      ""|--fast) run_tests "${1:-all}" ;;
      *) echo "usage: bash run.sh test [--fast]" >&2; exit 2 ;;
    esac
    ;;
  *)
    echo "usage: bash run.sh demo [IMAGE] [--out FOLDER] | bash run.sh test [--fast]" >&2
    exit 2
    ;;
esac
