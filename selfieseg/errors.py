"""Errors that explain themselves.

Every problem a user can fix (a corrupt file, a missing folder, a mask of the wrong
size) raises a subclass of :class:`SelfieSegError` whose message names the file and
says what to do. The command line prints that message alone instead of a traceback.
"""


class SelfieSegError(Exception):
    """Base class for errors a user can act on."""


class ImageReadError(SelfieSegError, ValueError):
    """An image or mask file could not be read or is not usable."""


class DatasetError(SelfieSegError, ValueError):
    """A dataset folder is missing, empty, or not in the expected layout."""


class DownloadError(SelfieSegError, OSError):
    """A download failed, was interrupted, or did not match its checksum."""


class ModelError(SelfieSegError, ValueError):
    """An unknown model, an unsupported input size or unusable weights."""


class ExportError(SelfieSegError, ValueError):
    """An export that cannot be done as asked (format, mode, path or calibration data)."""


class VideoError(SelfieSegError, ValueError):
    """A video or camera that cannot be read or written, or a video setting out of range."""


class InputError(SelfieSegError, ValueError):
    """Arrays handed to the library that cannot go together: masks and images of different
    sizes, score lists of different lengths, an unknown option value."""


class OutputFolderError(SelfieSegError, ValueError):
    """An output folder that would put outputs among the inputs (inside the input folder)."""


class DiskFullError(SelfieSegError, OSError):
    """The disk filled up mid-run: what is written is complete, and the same command resumes."""


class ClusterError(SelfieSegError, ConnectionError):
    """A Ray cluster that does not answer at its address, or Ray missing (``pip install selfieseg[scale]``)."""


__all__ = ["ClusterError", "DatasetError", "DownloadError", "ExportError", "DiskFullError", "ImageReadError", "InputError", "ModelError", "OutputFolderError", "SelfieSegError", "VideoError"]
