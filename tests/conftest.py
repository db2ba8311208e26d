"""Shared fixtures: the real data under $SELFIESEG_DATA, and writers for small fixtures in published formats."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def _shared(var: str, default: str) -> Path | None:
    value = os.environ.get(var)
    path = Path(value) if value else (REPO.parent / "shared" / default)
    return path if path.is_dir() else None


def _require(path: Path | None, what: str) -> Path:
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{what} not found in CI: set the environment variable or put ../shared beside the clone")
        pytest.skip(f"{what} not available (set the environment variable)")
    return path


@pytest.fixture(scope="session")
def data_root() -> Path:
    return _require(_shared("SELFIESEG_DATA", "data"), "real data (SELFIESEG_DATA)")


@pytest.fixture(scope="session")
def anchors_root() -> Path:
    return _require(_shared("SELFIESEG_ANCHORS", "anchors"), "MediaPipe anchors (SELFIESEG_ANCHORS)")


@pytest.fixture(scope="session")
def pfcn_test(data_root):
    from selfieseg.data import PFCN

    return PFCN(data_root / "pfcn", split="test")


@pytest.fixture(scope="session")
def picsart(data_root):
    from selfieseg.data import PicsArt

    return PicsArt(data_root / "picsart")


@pytest.fixture(scope="session")
def training_cache(tmp_path_factory):
    """One training-cache folder for every test that trains: PicsArt is decoded once per session."""
    return tmp_path_factory.mktemp("training_cache")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, data_root, training_cache):
    """One real 2-epoch training run of the tiny SINet on PicsArt, shared read-only.

    Returns (run folder, the train() keyword arguments, its final state). Tests that
    resume or change a run copy the folder first.
    """
    from selfieseg.train import train

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    kwargs = dict(model="sinet_tiny", data=("picsart",), steps_per_epoch=2, batch_size=4,
                  cache_dir=training_cache, root=data_root, verbose=0)
    state = train(epochs=2, out=out, **kwargs)
    return out, kwargs, state


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def portrait_like(height=48, width=36, seed=0):
    """A small RGB image with an elliptical 'person' and its 0/1 mask (for format fixtures)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    mask = (((yy - height * 0.6) / (height * 0.45)) ** 2 + ((xx - width / 2) / (width * 0.3)) ** 2 < 1).astype(np.uint8)
    image = rng.integers(0, 80, (height, width, 3)).astype(np.uint8)
    image[mask == 1] += np.array([150, 100, 60], np.uint8)
    return image, mask


@pytest.fixture(scope="module")
def playwright():
    """Playwright's driver for Debian's Chromium (tests/web, tests/book): skips saying what is missing."""
    from selfieseg.webdemo import CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) or run `bash run.sh test`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed: pip install playwright (never `playwright install`)")
    with sync_playwright() as driver:
        yield driver
