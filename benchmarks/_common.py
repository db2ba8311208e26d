"""What every benchmark script shares: its command line, MediaPipe's files, the test split.

The scripts are run as files (``python benchmarks/NAME.py``), so this module is imported
from beside them rather than from the package.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path

#: MediaPipe's selfie segmenters in ../shared/anchors: (label, file name)
MEDIAPIPE = (
    ("mediapipe", "mediapipe_selfie_segmentation.tflite"),
    ("mediapipe_landscape", "mediapipe_selfie_segmentation_landscape.tflite"),
)


def parser(doc: str, limit: bool = True) -> argparse.ArgumentParser:
    """--out, --anchors (default $SELFIESEG_ANCHORS) and optionally --limit, described by ``doc``."""
    result = argparse.ArgumentParser(description=doc.splitlines()[0])
    result.add_argument("--out", default="benchmarks/results")
    result.add_argument("--anchors", default=os.environ.get("SELFIESEG_ANCHORS", "../shared/anchors"))
    if limit:
        result.add_argument("--limit", type=int, help="first N test images only (quick look)")
    return result


def mediapipe_files(anchors) -> list[tuple[str, Path]]:
    """MediaPipe's two models, failing with the folder named when they are not there."""
    files = [(label, Path(anchors) / name) for label, name in MEDIAPIPE]
    missing = [str(path) for _, path in files if not path.exists()]
    if missing:
        raise SystemExit(f"MediaPipe's models are not found: {', '.join(missing)}. "
                         "Pass --anchors or set SELFIESEG_ANCHORS to the folder that holds them (../shared/anchors).")
    return files


def pfcn_test(limit=None):
    """The benchmark split (PFCN test, 264 images here), or its first ``limit`` images."""
    from selfieseg.data import open_dataset

    test = open_dataset("pfcn", split="test")
    return test.subset(range(limit)) if limit else test


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (benchmarks run headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def run_line(names) -> str:
    """The date and the shipped weights (sha256 prefix) a results table measured.

    Weights change as models are retrained; a table that names its weights says at a
    glance whether it is current (compare with ``sha256sum selfieseg/weights/*.h5``).
    """
    from selfieseg.models import shipped_weights_path

    digests = [f"{name} `{hashlib.sha256(shipped_weights_path(name).read_bytes()).hexdigest()[:12]}`" for name in names]
    return f"Run {time.strftime('%Y-%m-%d')}; weights (sha256 prefix): {', '.join(digests)}."


def chosen_models(models, stem: str) -> tuple[list[str], str]:
    """The shipped models a run measures (``--models``, else all) and its output file stem.

    A run over some models writes ``<stem>_<models>`` so that the full run's table, which
    holds one run with MediaPipe beside every model, is never replaced by a partial one.
    Unknown names are refused before any work starts.
    """
    from selfieseg.demo import shipped_models

    shipped = shipped_models()
    names = models.split(",") if models else shipped
    unknown = sorted(set(names) - set(shipped))
    if unknown:
        raise SystemExit(f"not shipped: {', '.join(unknown)}; shipped models are {', '.join(shipped)}.")
    return names, f"{stem}_{'_'.join(names)}" if models else stem


def write_result(path, text: str) -> None:
    """Write a results table whole or not at all.

    A benchmark killed part way (a timeout, Ctrl-C, a full disk) must not leave a
    half-written table in ``benchmarks/results/`` that the README then quotes; the text is
    written beside the target and moved into place only when complete.
    """
    from selfieseg.io import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text)


def save_figure(fig, path, dpi: int = 110) -> None:
    """Save a matplotlib figure as :func:`write_result` writes text: complete, or not at all."""
    from selfieseg.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
