"""The timing machinery, checked with a fake clock and counted invokes (never the machine's speed).

Speed claims live in benchmarks/: on a shared machine an assertion on a measured time or
a ratio of times fails at random.
"""

from __future__ import annotations

import numpy as np
import pytest


class _FakeInterpreter:
    """Stands in for a LiteRT interpreter: records each invoke in a shared log, and tells the
    fake clock how long it 'took' (its file's cost), so medians are known in advance."""

    def __init__(self, path, threads, log, clock):
        self.path, self.threads, self.log, self.clock = str(path), threads, log, clock
        self.cost = float(str(path).split("_")[-1])

    def get_input_details(self):
        return [{"index": 0, "shape": np.array([1, 4, 4, 3]), "dtype": np.float32}]

    def set_tensor(self, index, value):
        assert value.shape == (1, 4, 4, 3)

    def invoke(self):
        self.log.append(self.path)
        self.clock.now += self.cost


class _FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _timed(paths, **options):
    from selfieseg.profile import tflite_latencies

    log, clock = [], _FakeClock()
    opener = lambda path, threads: _FakeInterpreter(path, threads, log, clock)  # noqa: E731
    return tflite_latencies(paths, clock=clock, opener=opener, **options), log


def test_every_file_gets_exactly_the_requested_invokes_after_its_warmup():
    medians, log = _timed(["a_0.002", "b_0.005", "c_0.001"], runs=7, warmup=2, rounds=3)
    assert medians == pytest.approx([0.002, 0.005, 0.001])  # one median per file, in order
    for name in ("a_0.002", "b_0.005", "c_0.001"):
        assert log.count(name) == 2 + 7  # warm-up plus exactly `runs` timed invokes


def test_rounds_interleave_the_files():
    _, log = _timed(["a_1", "b_2"], runs=4, warmup=1, rounds=2)
    timed = log[2:]  # after each file's single warm-up invoke
    # round 1: a, a, b, b; round 2: a, a, b, b (4 runs split over 2 rounds)
    assert timed == ["a_1", "a_1", "b_2", "b_2", "a_1", "a_1", "b_2", "b_2"]
    _, log = _timed(["a_1", "b_2"], runs=5, warmup=0, rounds=2)  # uneven split: 3 then 2
    assert log == ["a_1"] * 3 + ["b_2"] * 3 + ["a_1"] * 2 + ["b_2"] * 2
    _, log = _timed(["a_1"], runs=2, warmup=0, rounds=9)  # never more rounds than runs
    assert log == ["a_1", "a_1"]


def test_time_together_retimes_rows_with_files_and_leaves_the_rest(monkeypatch):
    from selfieseg.profile import time_together

    log, clock = [], _FakeClock()
    rows = [{"model": "ours", "tflite_path": "ours_0.003", "tflite_ms": None},
            {"model": "no file", "tflite_ms": None},
            {"model": "mediapipe", "tflite_path": "mp_0.004", "tflite_ms": 99.0}]
    result = time_together(rows, runs=6, rounds=3, clock=clock,
                           opener=lambda path, threads: _FakeInterpreter(path, threads, log, clock))
    assert result is rows
    assert [row["tflite_ms"] for row in rows] == pytest.approx([3.0, None, 4.0])
    assert log.count("ours_0.003") == log.count("mp_0.004") == 5 + 6  # default warm-up, then the runs
    assert time_together([{"model": "no file", "tflite_ms": None}])[0]["tflite_ms"] is None


def test_the_real_interpreter_is_timed_on_the_file_export_writes(tmp_path):
    """to_tflite is the exporter's file (SINet folded, no GATHER), and a real timing is a
    positive number per file (no comparison between them: that is a benchmark's job)."""
    from selfieseg.export import tflite_operators
    from selfieseg.models import build
    from selfieseg.profile import tflite_latencies, to_tflite

    path = to_tflite(build("sinet_tiny"), tmp_path / "sinet_tiny.tflite")
    assert "GATHER" not in tflite_operators(path)
    (first, second) = tflite_latencies([path, path], runs=3, warmup=1, rounds=2)
    assert first > 0 and second > 0
