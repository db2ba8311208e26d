"""A quiet command line: `selfieseg ...` prints its own output, not TensorFlow's start-up log."""

from __future__ import annotations

import os
import subprocess
import sys

from selfieseg.quiet import NOISE, is_noise


def _environment():
    environment = dict(os.environ)
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a user's shell has: nothing set
    return environment


def test_a_command_prints_no_tensorflow_log_lines():
    result = subprocess.run([sys.executable, "-m", "selfieseg", "models"], capture_output=True, text=True,
                            env=_environment(), timeout=300, check=True)
    assert "sinet" in result.stdout and "86,834" in result.stdout
    noisy = [line for line in result.stderr.splitlines() if is_noise(line) or "tensorflow" in line.lower()]
    assert not noisy, noisy
    assert result.stderr.strip() == ""


def test_the_filter_drops_only_the_known_notices_and_keeps_real_errors():
    """C++ writes to file descriptor 2 directly: the filter works at that level, and replays the rest."""
    code = ("import os; from selfieseg.quiet import filtered_stderr\n"
            "with filtered_stderr():\n"
            "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
            "    os.write(2, b'I0000 port.cc:153] oneDNN custom operations are on. You may see\\n')\n"
            "    os.write(2, b'E0000 something really went wrong\\n')\n"
            "print('done')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "done"
    assert result.stderr.splitlines() == ["E0000 something really went wrong"]
    assert all(fragment.strip() for fragment in NOISE)


def test_verbose_skips_the_filter(monkeypatch):
    """--verbose (before or after the command) leaves TensorFlow's import alone."""
    from selfieseg import cli

    calls = []
    monkeypatch.setattr("selfieseg.quiet.load_tensorflow_quietly", lambda: calls.append("quiet"))
    monkeypatch.setattr(cli, "_cmd_models", lambda args: calls.append(args.verbose) or 0)  # main builds its parser anew
    assert cli.main(["models"]) == 0 and calls == ["quiet", False]
    for argv in (["models", "--verbose"], ["--verbose", "models"]):
        calls.clear()
        assert cli.main(argv) == 0 and calls == [True]
    calls.clear()
    assert cli.main(["datasets", "--root", "/nonexistent"]) == 0 and calls == []  # no TensorFlow needed there


def test_litert_is_quiet_only_after_the_opt_in(anchors_root):
    """LiteRT announces XNNPACK from C++ at a process's first interpreter; the opt-in filters it, import alone does not."""
    model = anchors_root / "mediapipe_selfie_segmentation.tflite"
    code = ("import sys; from selfieseg.inference import make_interpreter\n"
            "if sys.argv[1] == 'quiet':\n"
            "    from selfieseg.quiet import load_tensorflow_quietly; load_tensorflow_quietly()\n"
            f"make_interpreter({str(model)!r}); print('made')\n")
    runs = {mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, env=_environment(),
                                 timeout=300, check=True) for mode in ("plain", "quiet")}
    assert runs["plain"].stdout.strip() == runs["quiet"].stdout.strip() == "made"
    assert "XNNPACK delegate" in runs["plain"].stderr  # importing selfieseg changed nothing
    assert runs["quiet"].stderr.strip() == "", runs["quiet"].stderr
