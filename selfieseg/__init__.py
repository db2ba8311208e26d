"""SelfieSeg: selfie and portrait segmentation, from datasets to a phone-sized model.

``import selfieseg`` is cheap and silent: Keras/TensorFlow load only when a model is
built or loaded.
"""

from __future__ import annotations

__version__ = "0.1.0"

from selfieseg.errors import (
    ClusterError,
    DatasetError,
    DiskFullError,
    DownloadError,
    ExportError,
    ImageReadError,
    InputError,
    ModelError,
    OutputFolderError,
    SelfieSegError,
    VideoError,
)

_LAZY = {
    "load": "selfieseg.models",
    "list_models": "selfieseg.models",
    "Segmenter": "selfieseg.inference",
    "open_segmenter": "selfieseg.inference",
}
# ``selfieseg.export`` is the module (``from selfieseg.export import export``): a lazy
# function of the same name became the module after its first import, so it is not aliased.


def __getattr__(attribute):
    if attribute in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[attribute]), attribute)
    raise AttributeError(f"module 'selfieseg' has no attribute {attribute!r}")


__all__ = [
    "ClusterError",
    "DatasetError",
    "DiskFullError",
    "DownloadError",
    "ExportError",
    "ImageReadError",
    "InputError",
    "ModelError",
    "OutputFolderError",
    "SelfieSegError",
    "Segmenter",
    "VideoError",
    "__version__",
    "list_models",
    "load",
    "open_segmenter",
]
