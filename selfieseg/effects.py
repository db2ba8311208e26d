"""Background effects as plain numpy/OpenCV functions: blur, replace, grey, cut-out.

Every effect takes an RGB uint8 image and a person probability (HxW float in [0, 1])
and feathers the mask edge, so hair and shoulders blend instead of showing a halo.
"""

from __future__ import annotations

import cv2
import numpy as np


def feather(mask: np.ndarray, radius: float = 3.0) -> np.ndarray:
    """Soften the mask edge with a Gaussian of ``radius`` pixels (0 keeps it as is)."""
    mask = np.clip(np.asarray(mask, np.float32), 0, 1)
    if radius <= 0:
        return mask
    return cv2.GaussianBlur(mask, (0, 0), radius)


def composite(foreground: np.ndarray, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    alpha = mask[..., None]
    return np.clip(foreground * alpha + background * (1 - alpha) + 0.5, 0, 255).astype(np.uint8)


def blur_background(image: np.ndarray, mask: np.ndarray, strength: float = 15.0, edge: float = 3.0) -> np.ndarray:
    """Blur what is not person. The person is masked out before blurring so that the blurred
    background does not smear the person's colours into a halo around them."""
    image = image.astype(np.float32)
    soft = feather(mask, edge)
    keep = 1.0 - soft
    blurred = cv2.GaussianBlur(image * keep[..., None], (0, 0), strength)
    weight = cv2.GaussianBlur(keep, (0, 0), strength)[..., None]
    background = np.where(weight > 1e-3, blurred / np.maximum(weight, 1e-3), cv2.GaussianBlur(image, (0, 0), strength))
    return composite(image, background, soft)


def replace_background(image: np.ndarray, mask: np.ndarray, background: np.ndarray, edge: float = 3.0) -> np.ndarray:
    """Put the person in front of ``background`` (resized and centre-cropped to fill the frame)."""
    height, width = image.shape[:2]
    bh, bw = background.shape[:2]
    scale = max(height / bh, width / bw)
    resized = cv2.resize(background, (int(np.ceil(bw * scale)), int(np.ceil(bh * scale))), interpolation=cv2.INTER_AREA)
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    resized = resized[top : top + height, left : left + width]
    return composite(image.astype(np.float32), resized.astype(np.float32), feather(mask, edge))


def grey_background(image: np.ndarray, mask: np.ndarray, edge: float = 3.0) -> np.ndarray:
    """Colour pop: the person in colour, the background in grey."""
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return composite(image.astype(np.float32), grey.astype(np.float32), feather(mask, edge))


def cutout(image: np.ndarray, mask: np.ndarray, edge: float = 1.0) -> np.ndarray:
    """RGBA cut-out: the mask becomes the alpha channel (save as PNG)."""
    alpha = (feather(mask, edge) * 255 + 0.5).astype(np.uint8)
    return np.dstack([image, alpha])


def studio_backdrop(height: int, width: int, top=(58, 92, 140), bottom=(196, 214, 230)) -> np.ndarray:
    """A soft vertical gradient with a vignette: a replacement background that needs no file."""
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    colour = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    vignette = 1 - 0.35 * (((xx / width - 0.5) ** 2 + (yy / height - 0.45) ** 2) / 0.5)
    return np.clip(colour * vignette[..., None], 0, 255).astype(np.uint8)
