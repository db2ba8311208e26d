"""Training augmentations in numpy/OpenCV (the seed project's and PortraitNet's recipe).

Geometry (flip, rotation up to 45 degrees, scale 0.5-1.5, translation) is one affine
warp straight to the model's input size, applied identically to image, mask and
ignore mask. Texture (colour jitter, blur, noise) changes the image only. Background
compositing (off unless ``composite`` > 0) puts the warped person in front of another
training photo's background, its own person smeared out. PortraitNet's
previous-frame prior is the ground-truth mask deformed as a moving person would
deform it between frames, and empty half of the time (the first frame of a video).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

from selfieseg.errors import DatasetError, InputError


@dataclass
class Augmenter:
    """Random geometry and texture changes; every probability and range is a field."""

    flip: float = 0.5  #: probability of a horizontal flip
    max_rotation: float = 45.0  #: degrees, uniform in [-max, max]
    scale: tuple = (0.5, 1.5)  #: zoom range
    log_scale: bool = False  #: draw the zoom uniformly in log space (as many halvings as doublings)
    translate: float = 0.25  #: fraction of the size, uniform in [-t, t]
    affine_p: float = 0.75  #: probability of any rotation/scale/translation at all
    brightness: float = 0.25  #: additive, fraction of full range
    contrast: float = 0.3  #: multiplicative, 1 +- contrast
    saturation: float = 0.4
    hue: float = 8.0  #: degrees of hue (OpenCV's 0..180 scale)
    blur: float = 0.2  #: probability of a Gaussian blur
    noise: float = 0.2  #: probability of Gaussian sensor noise
    noise_sigma: float = 8.0  #: std of the noise, in 0..255 units
    composite: float = 0.0  #: probability of a new background (:meth:`composite_onto`); needs other photos

    def geometry(self, rng: np.random.Generator, size: tuple[int, int], source: tuple[int, int]) -> np.ndarray:
        """A 2x3 affine matrix from ``source`` (h, w) pixels to ``size`` (h, w) pixels."""
        out_h, out_w = size
        src_h, src_w = source
        # resize to the output first, then rotate/scale/translate about the centre
        base = np.array([[out_w / src_w, 0, 0], [0, out_h / src_h, 0], [0, 0, 1]], np.float64)
        angle, zoom, dx, dy = 0.0, 1.0, 0.0, 0.0
        if rng.random() < self.affine_p:
            angle = rng.uniform(-self.max_rotation, self.max_rotation)
            low, high = self.scale
            zoom = float(np.exp(rng.uniform(np.log(low), np.log(high)))) if self.log_scale else rng.uniform(low, high)
            dx = rng.uniform(-self.translate, self.translate) * out_w
            dy = rng.uniform(-self.translate, self.translate) * out_h
        around = cv2.getRotationMatrix2D((out_w / 2.0, out_h / 2.0), angle, zoom)
        around[:, 2] += (dx, dy)
        matrix = np.vstack([around, [0, 0, 1]]) @ base
        if rng.random() < self.flip:
            matrix = np.array([[-1, 0, out_w - 1], [0, 1, 0], [0, 0, 1]], np.float64) @ matrix
        return matrix[:2]

    def texture(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Colour jitter, blur and noise on a uint8 RGB image (returns uint8)."""
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-self.hue, self.hue)) % 180.0
        hsv[..., 1] *= rng.uniform(1 - self.saturation, 1 + self.saturation)
        hsv = np.clip(hsv, 0, [180, 255, 255])
        out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
        mean = out.mean()
        out = (out - mean) * rng.uniform(1 - self.contrast, 1 + self.contrast) + mean
        out += rng.uniform(-self.brightness, self.brightness) * 255.0
        if rng.random() < self.blur:
            sigma = rng.uniform(0.5, 1.5)
            out = cv2.GaussianBlur(out, (0, 0), sigma)
        if rng.random() < self.noise:
            out += rng.normal(0, self.noise_sigma, out.shape).astype(np.float32)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def composite_onto(self, image: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
        """The person of ``image`` (uint8 RGB) in front of ``background`` (same size).

        Why: in PFCN and PicsArt the same kinds of rooms, walls and skies sit behind
        every person, so a model can learn "indoor wall = background" instead of the
        person's outline; new backgrounds take that shortcut away (the background
        compositing of the seed project's recipe). ``mask`` is the warped mask (uint8
        0..255). With a teacher's channel stacked on it (distillation), whatever either
        calls person is kept: pasting away a second person the label leaves out but the
        teacher sees would leave a soft target of "half person" on bare wall. Its edge is
        softened by half a pixel so the paste shows no hard stair-steps, which a model
        could otherwise learn to find instead of the person. Pixels the warp brought in
        from outside the photo (black, label background) get the new background too.
        """
        if background.shape != image.shape:
            raise InputError(f"background {background.shape} and image {image.shape} differ in size.")
        label = mask.max(axis=2) if mask.ndim == 3 else mask
        alpha = cv2.GaussianBlur(label.astype(np.float32) / 255.0, (0, 0), 0.5)[..., None]
        out = alpha * image.astype(np.float32) + (1.0 - alpha) * background.astype(np.float32)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def __call__(self, image, mask, ignore, rng, size, background=None):
        """Warp image/mask/ignore to ``size`` (h, w) with random geometry, then change texture.

        With a ``background`` (uint8 RGB of ``size``, see :func:`person_free_background`)
        the person is composited onto it before the texture change, so colour jitter
        treats person and new background as one photo.
        """
        matrix = self.geometry(rng, size, image.shape[:2])
        image, mask, ignore = warp(image, mask, ignore, matrix, size)
        if background is not None:
            image = self.composite_onto(image, mask, background)
        return self.texture(image, rng), mask, ignore

    def get_config(self) -> dict:
        return asdict(self)


#: Named recipes. ``full`` is the default (the seed project's and PortraitNet's ranges);
#: ``mild`` keeps flips and colour but narrows geometry to what half-body portraits
#: actually vary by, for a second stage that fine-tunes a model trained under ``full``
#: (the U-Net's training IoU under ``full`` stayed 0.03 *below* its validation IoU:
#: the strong warps cost fitting capacity that the benchmark's framing never needs).
#: ``wide`` is for mixed data (portraits, full figures, people in the wild): zooms from
#: 0.2x to 1.5x, drawn in log space so shrinking is as common as enlarging, move the
#: person anywhere in the frame. A half-body portrait covering 40% of the frame covers
#: 40% x 0.2^2 = 1.6% at the smallest zoom: the few-percent people of Pascal VOC (median
#: person area 9.5%, 212 of 594 photos under 5%) that portrait training never shows.
AUGMENTATIONS = {
    "full": {},
    "mild": {"max_rotation": 15.0, "scale": (0.8, 1.25), "translate": 0.1, "affine_p": 0.6},
    "wide": {"max_rotation": 20.0, "scale": (0.2, 1.5), "log_scale": True, "translate": 0.35, "affine_p": 0.85},
}


def augmenter(recipe="full", composite: float = 0.0) -> "Augmenter | None":
    """An :class:`Augmenter` from a recipe name (``"full"``, ``"mild"``), an Augmenter, or None/"none".

    ``composite`` (a probability in [0, 1]) turns on background compositing on top of
    the named recipe; it needs a recipe (``"none"`` augments nothing to composite).
    """
    if not 0.0 <= float(composite) <= 1.0:
        raise DatasetError(f"composite is a probability in [0, 1], got {composite}.")
    if recipe is None or recipe == "none":
        if composite:
            raise DatasetError("background compositing needs an augmentation recipe (full or mild), not none.")
        return None
    if isinstance(recipe, Augmenter):
        return replace(recipe, composite=float(composite)) if composite else recipe
    if recipe not in AUGMENTATIONS:
        raise DatasetError(f"unknown augmentation {recipe!r}; choose one of {', '.join([*AUGMENTATIONS, 'none'])}.")
    return Augmenter(**{**AUGMENTATIONS[recipe], "composite": float(composite)})


def smear_person(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` (uint8 RGB) with its person (``mask`` >= 128) smeared out, as float32.

    The person, widened by 3% of the image so hair and halo go too, is filled by
    normalised convolution: a wide Gaussian average of the background pixels only, so
    the hole takes the colours around it instead of the person's. A photo that is
    nearly all person becomes its background's mean colour (or its own, if it has none).
    """
    height, width = image.shape[:2]
    label = mask[..., 0] if mask.ndim == 3 else mask
    if label.shape != (height, width):
        raise InputError(f"mask {label.shape} and image {(height, width)} differ in size.")
    grow = max(3, int(0.03 * max(height, width)) | 1)
    person = cv2.dilate((label >= 128).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    keep = (person == 0).astype(np.float32)
    picture = image.astype(np.float32)
    if keep.sum() < 0.02 * keep.size:  # almost no background to borrow from
        mean = picture[keep > 0].mean(0) if keep.any() else picture.reshape(-1, 3).mean(0)
        return np.broadcast_to(mean, picture.shape).astype(np.float32)
    # the smear is low-frequency: computed at a quarter of the size (16x fewer pixels)
    small = (max(1, width // 4), max(1, height // 4))
    small_keep = cv2.resize(keep, small, interpolation=cv2.INTER_AREA)
    small_picture = cv2.resize(picture * keep[..., None], small, interpolation=cv2.INTER_AREA)
    sigma = 0.02 * max(height, width)
    weight = cv2.GaussianBlur(small_keep, (0, 0), sigma)
    smeared = cv2.GaussianBlur(small_picture, (0, 0), sigma) / np.maximum(weight, 1e-6)[..., None]
    far = weight < 1e-3  # too far from any background pixel: its mean colour
    if far.any():
        smeared[far] = picture[keep > 0].mean(0)
    smeared = cv2.resize(smeared, (width, height), interpolation=cv2.INTER_LINEAR)
    return picture * keep[..., None] + smeared * (1.0 - keep[..., None])


def person_free_background(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size) -> np.ndarray:
    """A background for compositing: ``image`` with its person smeared out (:func:`smear_person`), at ``size`` (h, w).

    A random crop of up to 20% and a flip half of the time mean the same photo seldom
    lends the same background twice.
    """
    filled = smear_person(image, mask)
    height, width = filled.shape[:2]
    crop = rng.uniform(0.8, 1.0)
    crop_h, crop_w = max(1, int(round(height * crop))), max(1, int(round(width * crop)))
    top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
    filled = filled[top : top + crop_h, left : left + crop_w]
    if rng.random() < 0.5:
        filled = filled[:, ::-1]
    out_h, out_w = size
    filled = cv2.resize(np.ascontiguousarray(filled), (out_w, out_h), interpolation=cv2.INTER_AREA)
    return np.clip(filled + 0.5, 0, 255).astype(np.uint8)


def warp(image, mask, ignore, matrix, size):
    """Apply one affine warp to image (bilinear), mask (bilinear then threshold) and ignore."""
    out_h, out_w = size
    # Outside the source the image is black and the mask background: consistent labels,
    # and no mirrored copies of a face tiling the frame when the scale is small.
    image = cv2.warpAffine(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)
    if mask is not None:
        mask = cv2.warpAffine(mask, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)
    if ignore is not None:
        ignore = cv2.warpAffine(ignore.astype(np.uint8), matrix, (out_w, out_h), flags=cv2.INTER_NEAREST, borderValue=0) > 0
    return image, mask, ignore


def resize_pair(image, mask, ignore, size):
    """Plain resize to ``size`` (h, w): what evaluation and the cache use."""
    out_h, out_w = size
    if image.shape[:2] != (out_h, out_w):
        image = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
        if mask is not None:
            mask = cv2.resize(mask, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        if ignore is not None:
            ignore = cv2.resize(ignore.astype(np.uint8), (out_w, out_h), interpolation=cv2.INTER_NEAREST) > 0
    return image, mask, ignore


def previous_frame_prior(mask: np.ndarray, rng: np.random.Generator, empty_p: float = 0.5) -> np.ndarray:
    """Simulate the previous frame's mask from the current one (PortraitNet's prior channel).

    The mask (float, 0..1) is shifted, rotated and scaled a little, as a person moves
    between frames, and sometimes motion-blurred; with probability ``empty_p`` the prior
    is all zeros, as on a video's first frame.
    """
    height, width = mask.shape[:2]
    if rng.random() < empty_p:
        return np.zeros((height, width), np.float32)
    angle = rng.uniform(-8, 8)
    zoom = rng.uniform(0.9, 1.1)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, zoom)
    matrix[:, 2] += rng.uniform(-0.06, 0.06, 2) * (width, height)
    prior = cv2.warpAffine(mask.astype(np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        length = int(rng.integers(3, 11))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        kernel /= max(kernel.sum(), 1e-6)
        prior = cv2.filter2D(prior, -1, kernel)
    return np.clip(prior, 0, 1)
