"""Reading images and masks robustly, and writing outputs atomically.

Photos arrive in every shape: grayscale, RGBA, CMYK, 16-bit, palette PNGs, phone
photos rotated by an EXIF tag, truncated downloads. Everything in the library goes
through :func:`read_image` and :func:`read_mask` so that each of these cases is
handled once, and a file that cannot be used raises :class:`ImageReadError` naming
the file and what to do about it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from selfieseg.errors import ImageReadError, SelfieSegError

#: Images above this many pixels are refused (a 100-megapixel photo is ~300 MB of RGB).
MAX_PIXELS = 100_000_000

#: the photo formats every folder reader, calibration set and command looks for
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def cache_root() -> Path:
    """Where selfieseg keeps what it derives once (training caches, exported video models):
    ``$SELFIESEG_CACHE``, else ``~/.cache/selfieseg``."""
    return Path(os.environ.get("SELFIESEG_CACHE") or Path.home() / ".cache" / "selfieseg")


def open_image(path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open and fully decode an image file, turning every failure into one clear error."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: file not found. Check the path.")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, expected an image file.")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: file is empty (0 bytes). Re-download or re-export it.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            if image.width * image.height > max_pixels:
                raise ImageReadError(
                    f"{path}: {image.width}x{image.height} pixels is more than the limit of "
                    f"{max_pixels:,}. Downscale it first, or pass a larger max_pixels."
                )
            image.load()
    except SelfieSegError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageReadError(
            f"{path}: image is too large to decode safely. Downscale it first."
        ) from None
    except UnidentifiedImageError:
        raise ImageReadError(
            f"{path}: not a readable image (unknown format or corrupt header). "
            "Re-download the file or convert it to JPEG/PNG."
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(
            f"{path}: image data is truncated or corrupt ({exc}). Re-download the file."
        ) from None
    return image


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float pixel data into uint8."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        top = 1.0 if array.max(initial=0) <= 1.0 else 255.0
        return np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    top = 65535 if array.max(initial=0) > 255 else 255
    return np.clip(array.astype(np.float64) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)


def over_black(rgba: np.ndarray) -> np.ndarray:
    """Composite a uint8 RGBA array over black: transparent pixels have no defined colour."""
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    return np.ascontiguousarray((rgba[..., :3].astype(np.float32) * alpha).round().astype(np.uint8))


def pil_to_rgb(image: Image.Image, exif: bool = True) -> np.ndarray:
    """Convert any PIL image to an RGB uint8 array (EXIF-rotated as a viewer shows it)."""
    if exif:
        with contextlib.suppress(Exception):
            image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        gray = _to_uint8(np.asarray(image))
        return np.repeat(gray[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Transparent pixels become black: their colour is undefined in the file.
        return over_black(np.asarray(image.convert("RGBA")))
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def read_image(path, exif: bool = True, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as an ``HxWx3`` RGB uint8 array.

    Grayscale, palette, RGBA (alpha composited over black), CMYK and 16-bit files are
    converted. With ``exif=True`` the pixels are rotated as the EXIF orientation tag
    says, so the array matches what a photo viewer shows.
    """
    return pil_to_rgb(open_image(path, max_pixels), exif=exif)


def read_mask(path, max_pixels: int = MAX_PIXELS, palette_index: int | None = None) -> np.ndarray:
    """Read a mask file as an ``HxW`` uint8 array of its raw values.

    Palette PNGs keep their indices (so VOC's class 15 stays 15); RGB(A) masks are
    reduced to one channel (alpha where there is one, otherwise the maximum over
    channels); 16-bit masks are scaled to 0..255. Interpretation (0/1, 0/255, class
    index) is left to the dataset reader, which knows its format.
    """
    image = open_image(path, max_pixels)
    if image.mode == "P":
        return np.asarray(image).copy()
    if image.mode in ("RGBA", "LA"):
        return np.asarray(image)[..., -1].copy()
    array = np.asarray(image)
    if array.ndim == 3:
        array = array.max(axis=2)
    if array.dtype != np.uint8:
        array = _to_uint8(array)
    return array.copy()


def binarize(mask: np.ndarray, path=None) -> np.ndarray:
    """Turn a 0/1 or 0/255 (or soft 0..255) mask into uint8 {0, 1}."""
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.ndim != 2:
        where = f"{path}: " if path else ""
        raise ImageReadError(f"{where}mask has shape {mask.shape}, expected HxW.")
    top = mask.max(initial=0)
    if top <= 1:
        return (mask > 0).astype(np.uint8)
    return (mask > top / 2 if top < 128 else mask >= 128).astype(np.uint8)


def check_same_size(image: np.ndarray, mask: np.ndarray, image_path, mask_path) -> None:
    """Raise a clear error when an image and its mask differ in size."""
    if image.shape[:2] != mask.shape[:2]:
        raise ImageReadError(
            f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image {image_path} is "
            f"{image.shape[1]}x{image.shape[0]}. Re-export the mask at the image's size "
            "(or pass resize_masks=True to resize it with nearest-neighbour)."
        )


@contextlib.contextmanager
def atomic_path(destination, inputs=()):
    """Yield a temporary path beside ``destination``; move it into place only on success.

    A crash or an exception leaves no half-written file at ``destination``. Refuses
    to write over any of ``inputs`` so an output can never destroy its own input.
    """
    destination = Path(destination)
    for source in inputs:
        if source is not None and Path(source).exists() and destination.exists():
            if os.path.samefile(source, destination):
                raise SelfieSegError(
                    f"{destination}: output path is the same file as the input. "
                    "Choose another output path."
                )
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{destination.stem}.", suffix=destination.suffix or ".tmp", dir=destination.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get normal permissions
        os.replace(tmp, destination)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_image(path, array: np.ndarray, inputs=()) -> Path:
    """Write an RGB/RGBA/gray uint8 array atomically (format from the file extension)."""
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = _to_uint8(array)
    image = Image.fromarray(array)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise SelfieSegError(f"{path}: unknown image extension; use .png or .jpg.")
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    with atomic_path(path, inputs=inputs) as tmp:
        image.save(tmp, format=fmt)
    return path
