"""Short webcam-like clips made from a still portrait and its mask (ground truth per frame).

There is no labelled selfie video here, so the video benchmark and chapter move real PFCN
portraits the way a webcam stream differs from frame to frame:

* **sensor noise**: fresh Gaussian noise every frame (the main cause of flicker),
* **exposure drift**: a slow brightness/contrast wobble, as auto-exposure hunts,
* **JPEG artefacts**: every frame is re-encoded at ``quality``,
* **motion**: ``"static"`` (a person sitting still) or ``"sway"`` (sideways sway with a
  slight tilt, as a person shifts in a chair); the mask moves with the image exactly.
"""

from __future__ import annotations

import cv2
import numpy as np

from selfieseg.errors import InputError


def synthetic_clip(image: np.ndarray, mask: np.ndarray, frames: int = 60, motion: str = "static",
                   size=(480, 640), noise: float = 4.0, drift: float = 0.06, quality: int = 80,
                   sway: float = 0.08, seed: int = 0):
    """Return ``(frames, masks)``: ``T x H x W x 3`` uint8 RGB and ``T x H x W`` bool.

    ``size`` is (height, width) of the clip; the portrait is scaled to fill it (cropped).
    ``sway`` is the sideways amplitude as a share of the width.
    """
    if motion not in ("static", "sway"):
        raise InputError(f"motion must be 'static' or 'sway', got {motion!r}.")
    rng = np.random.default_rng(seed)
    height, width = size
    # fill the frame: scale, centre-crop
    scale = max(height / image.shape[0], width / image.shape[1])
    resized = cv2.resize(image, (int(np.ceil(image.shape[1] * scale)), int(np.ceil(image.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    resized_mask = cv2.resize(mask.astype(np.uint8), resized.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    base = resized[top : top + height, left : left + width]
    base_mask = resized_mask[top : top + height, left : left + width]

    out_frames = np.empty((frames, height, width, 3), np.uint8)
    out_masks = np.empty((frames, height, width), bool)
    phase = rng.uniform(0, 2 * np.pi)
    for t in range(frames):
        if motion == "sway":
            angle = 2 * np.pi * t / 45 + phase
            shift, tilt = sway * width * np.sin(angle), 3.0 * np.sin(angle)
            matrix = cv2.getRotationMatrix2D((width / 2, height), tilt, 1.0)
            matrix[0, 2] += shift
            frame = cv2.warpAffine(base, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            truth = cv2.warpAffine(base_mask, matrix, (width, height), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
        else:
            frame, truth = base, base_mask
        gain = 1.0 + drift * np.sin(2 * np.pi * t / 90 + phase)
        offset = 8.0 * drift * np.sin(2 * np.pi * t / 70)
        noisy = frame.astype(np.float32) * gain + offset + rng.normal(0, noise, frame.shape)
        noisy = np.clip(noisy, 0, 255).astype(np.uint8)
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(noisy, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        out_frames[t] = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        out_masks[t] = truth > 0
    return out_frames, out_masks


def write_clip(frames: np.ndarray, path, fps: float = 30.0):
    """Write RGB frames to a video file atomically (``.mp4``: mp4v, ``.avi``: MJPG)."""
    from pathlib import Path

    from selfieseg.io import atomic_path

    path = Path(path)
    codec = "MJPG" if path.suffix.lower() in (".avi", ".mkv") else "mp4v"
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, (frames.shape[2], frames.shape[1]))
        try:
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return path
