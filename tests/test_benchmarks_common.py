"""benchmarks/_common.py's writers: a results table or figure lands whole or not at all.

Fast (no model, no data): these guard the files the README quotes against a benchmark
killed part way through writing them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _common  # noqa: E402


def test_write_result_replaces_a_table_whole(tmp_path):
    table = tmp_path / "results" / "accuracy.md"  # the folder does not exist yet
    _common.write_result(table, "| model | IoU |\n|---|---|\n| sinet | 0.9558 |\n")
    assert table.read_text().endswith("| sinet | 0.9558 |\n")
    _common.write_result(table, "| model | IoU |\n")
    assert table.read_text() == "| model | IoU |\n"
    assert [p.name for p in table.parent.iterdir()] == ["accuracy.md"]  # no temporary file left beside it


def test_a_failed_write_keeps_the_previous_table(tmp_path):
    table = tmp_path / "deploy.md"
    table.write_text("previous run\n")
    with pytest.raises(TypeError):
        _common.write_result(table, None)  # fails inside the write, after the temporary file exists
    assert table.read_text() == "previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["deploy.md"]


def test_save_figure_writes_a_png_and_a_failed_save_keeps_the_old_one(tmp_path):
    plt = _common.pyplot()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0.95, 0.96])
    path = tmp_path / "accuracy.png"
    _common.save_figure(fig, path, dpi=50)
    first = path.read_bytes()
    assert first.startswith(b"\x89PNG\r\n\x1a\n")

    def half_written(target, **kwargs):  # a save that dies part way, as a full disk would
        Path(target).write_bytes(first[:100])
        raise OSError("No space left on device")

    fig.savefig = half_written
    with pytest.raises(OSError):
        _common.save_figure(fig, path)
    assert path.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["accuracy.png"]
    plt.close(fig)
