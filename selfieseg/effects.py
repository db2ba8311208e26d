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
    """``foreground * mask + background * (1 - mask)`` as uint8 (OpenCV's vectorised blend)."""
    alpha = np.ascontiguousarray(mask, dtype=np.float32)
    foreground = np.clip(foreground + 0.5, 0, 255).astype(np.uint8) if foreground.dtype != np.uint8 else foreground
    background = np.clip(background + 0.5, 0, 255).astype(np.uint8) if background.dtype != np.uint8 else background
    return cv2.blendLinear(np.ascontiguousarray(foreground), np.ascontiguousarray(background), alpha, 1.0 - alpha)


def blur_background(image: np.ndarray, mask: np.ndarray, strength: float = 15.0, edge: float = 3.0) -> np.ndarray:
    """Blur what is not person.

    The person is masked out before blurring, and the blur renormalised by the blurred
    mask, so the background does not smear the person's colours into a halo. A blur of
    sigma ``strength`` keeps nothing finer than that, so it is computed on the image
    shrunk by up to 8x and scaled back: the same picture for a fraction of the cost (what
    lets a 640x480 video run in real time).
    """
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    soft = feather(mask, edge)
    factor = int(np.clip(strength // 3, 1, 8))
    size = (max(1, width // factor), max(1, height // factor))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    keep = 1.0 - cv2.resize(soft, size, interpolation=cv2.INTER_AREA)
    sigma = max(strength / factor, 0.5)
    blurred = cv2.GaussianBlur(small * keep[..., None], (0, 0), sigma)
    weight = cv2.GaussianBlur(keep, (0, 0), sigma)[..., None]
    background = np.where(weight > 1e-3, blurred / np.maximum(weight, 1e-3), cv2.GaussianBlur(small, (0, 0), sigma))
    background = cv2.resize(np.clip(background + 0.5, 0, 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)
    return composite(image, background, soft)


def refine_edges(image: np.ndarray, mask: np.ndarray, radius: int = 8, eps: float = 1e-3) -> np.ndarray:
    """Snap the mask's edge to the image's edges with a guided filter (He et al., 2010).

    Within each window the output is a linear function of the grey image, fitted to the
    mask: where the photo has an edge (hair against sky), the mask gets one too; where it
    is flat, the mask is smoothed. Returns a float mask in [0, 1].
    """
    guide = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    mask = np.clip(np.asarray(mask, np.float32), 0, 1)
    size = (2 * radius + 1, 2 * radius + 1)

    def mean(x):
        return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_g, mean_m = mean(guide), mean(mask)
    var_g = mean(guide * guide) - mean_g * mean_g
    cov = mean(guide * mask) - mean_g * mean_m
    a = cov / (var_g + eps)
    b = mean_m - a * mean_g
    return np.clip(mean(a) * guide + mean(b), 0, 1)


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
