"""One error hierarchy: every error a user can meet is a SelfieSegError exported by the package."""

from __future__ import annotations

import inspect
import subprocess
import sys

import selfieseg
import selfieseg.errors as errors


def test_every_error_class_is_a_selfieseg_error_exported_by_the_package():
    classes = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, Exception)]
    assert len(classes) >= 8
    for cls in classes:
        assert issubclass(cls, errors.SelfieSegError), cls
        assert getattr(selfieseg, cls.__name__) is cls and cls.__name__ in selfieseg.__all__
    # the modules that raise them re-export the same classes (old imports keep working)
    from selfieseg.export import ExportError
    from selfieseg.video import VideoError

    assert ExportError is errors.ExportError and VideoError is errors.VideoError


def test_selfieseg_export_names_one_thing():
    """`selfieseg.export` is the module before and after it is imported (no lazy function alias)."""
    code = ("import selfieseg, types; first = selfieseg.__dict__.get('export'); "
            "import selfieseg.export as module; assert isinstance(module, types.ModuleType); "
            "assert first is None; assert selfieseg.export is module; print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "ok"


def test_bad_settings_raise_the_library_errors():
    import pytest

    from selfieseg.data.clips import synthetic_clip
    from selfieseg.metrics import paired_difference
    from selfieseg.video import TemporalSmoother, apply_effect

    with pytest.raises(errors.VideoError, match="strength"):
        TemporalSmoother(strength=1.5)
    with pytest.raises(errors.VideoError, match="unknown effect"):
        apply_effect("sparkle", None, None)
    with pytest.raises(errors.InputError, match="motion"):
        synthetic_clip(None, None, motion="spin")
    with pytest.raises(errors.InputError, match="equal-length"):
        paired_difference([0.9, 0.8], [0.9])
