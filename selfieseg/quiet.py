"""Loading TensorFlow without its start-up log, for the command line.

TensorFlow's C++ runtime writes several lines to standard error while it loads, before
any of its own settings can apply: absl's "All log messages before absl::InitializeLog()
is called are written to STDERR", oneDNN's "custom operations are on" notice and the
CPU feature guard's "rebuild TensorFlow with the appropriate compiler flags". With
``TF_CPP_MIN_LOG_LEVEL=3`` the last is gone, but the first two still appear (measured:
twice each, once per TensorFlow shared library, on TF 2.21). For someone who asked to
blur a photo they are noise, so :func:`load_tensorflow_quietly` imports TensorFlow with
the process's standard error (file descriptor 2, which C++ writes to) sent to a
temporary file, then puts it back and replays every line that is not one of those
notices: a real error during the import still reaches the user.

The command line calls this (``--verbose`` skips it), and so does the first cell of
every chapter of the book: a Jupyter kernel forwards file descriptor 2 into the cell's
output, so without it the notices sat on the published pages. Importing ``selfieseg``
changes nothing global; calling this is the opt-in.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

#: fragments of the start-up lines that are dropped (and nothing else is)
NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
    "rebuild TensorFlow with the appropriate compiler flags",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
    "Could not find cuda drivers",
    "TF-TRT Warning",
    "Created TensorFlow Lite XNNPACK delegate for CPU",
    "Set ray log level from environment variable",  # Ray's C++ core, quieted by selfieseg.scale
    "fully_quantize: 0, inference_type: 6",
)

#: set by :func:`load_tensorflow_quietly`: whoever asked for a quiet TensorFlow gets quiet LiteRT too
_asked = False


def is_noise(line: str) -> bool:
    return any(fragment in line for fragment in NOISE)


@contextlib.contextmanager
def filtered_stderr():
    """Standard error (the file descriptor, so C++ output too) through :func:`is_noise` for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not is_noise(line):
                    print(line, file=sys.stderr)


@contextlib.contextmanager
def quiet_if_asked():
    """:func:`filtered_stderr` once :func:`load_tensorflow_quietly` has been called, else nothing.

    LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." from C++ once a
    process, at the first interpreter, whatever ``TF_CPP_MIN_LOG_LEVEL`` says (measured
    with ai-edge-litert 2.3.0 on 2026-12-02: the Evaluation and Deployment chapters had it
    on their pages), and the TFLite converter's int8 calibration prints
    "fully_quantize: 0, inference_type: 6, ..." once per file (three times on the
    Quantization chapter's page). ``selfieseg.inference.make_interpreter`` and
    ``selfieseg.export`` run inside this, so the opt-in of the command line and of the
    book's first cell covers them too.
    """
    if _asked:
        with filtered_stderr():
            yield
    else:
        yield


def load_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras once, without their start-up notices (see the module docstring).

    Also asks for :func:`quiet_if_asked`'s filter from now on, in this process.
    """
    global _asked
    _asked = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    with filtered_stderr():
        try:
            import keras  # noqa: F401  (imports TensorFlow, the backend)
            import tensorflow as tf
        except ImportError:
            return  # the command that needs it says so in its own words
    tf.get_logger().setLevel("ERROR")
    with contextlib.suppress(ImportError):
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)


__all__ = ["NOISE", "filtered_stderr", "is_noise", "load_tensorflow_quietly", "quiet_if_asked"]
