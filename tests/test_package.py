"""Importing selfieseg is silent and cheap, and changes nothing global."""

from __future__ import annotations

import subprocess
import sys


def test_import_prints_nothing_and_loads_no_tensorflow():
    code = (
        "import os, sys; before = dict(os.environ); import selfieseg, selfieseg.data, selfieseg.io; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'heavy import'; "
        "assert dict(os.environ) == before, 'environment changed'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_public_entry_points():
    import selfieseg

    assert callable(selfieseg.load) and callable(selfieseg.list_models)
    assert selfieseg.Segmenter.__name__ == "Segmenter"
    assert issubclass(selfieseg.DatasetError, selfieseg.SelfieSegError)
