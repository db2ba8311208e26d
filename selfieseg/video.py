"""Video: segment every frame, keep the mask steady, apply an effect, write the result.

>>> process_video("call.mp4", "call_blurred.mp4", effect="blur")
>>> for rgb, probability in VideoSegmenter("sinet").frames(0): ...   # a camera

Per-frame masks flicker: sensor noise moves a few edge pixels across 0.5 in every
frame. :class:`TemporalSmoother` steadies them without lagging behind a moving person:

* a **motion-adaptive moving average**: where a pixel of the frame is unchanged, the new
  probability is blended with the previous one; where the frame changed (the person
  moved), the new prediction is taken as is, so the mask follows at once;
* a **scene-cut reset**: when most of the frame changes, the history is dropped;
* **hysteresis** for the binary mask: a pixel turns to person above ``high`` and back
  to background below ``low`` only, so values hovering at 0.5 do not toggle.

PortraitNet also takes the previous mask as its 4th input channel (its own stabiliser).

Both the prior and the smoother's history are the *previous* frame's: on a moving person
they lag behind, and the smoother's "moving pixel" test then throws the history away at
the person's edges, just where it matters. :class:`MotionCompensator` (on by default in
:class:`VideoSegmenter`) estimates dense optical flow from the previous frame to the
current one and warps the history into the current frame first, so a moving person
whose motion the flow follows is still averaged, and the prior sits where the person is.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np

from selfieseg import effects
from selfieseg.errors import ModelError, SelfieSegError, VideoError  # noqa: F401 (VideoError re-exported)
from selfieseg.io import atomic_path

EFFECTS = ("blur", "replace", "mask", "grey", "cutout")
VIDEO_SUFFIXES = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


# --- temporal smoothing ----------------------------------------------------------------


class TemporalSmoother:
    """Steady a stream of person probabilities (see the module docstring).

    ``strength`` (0..1) is how much of the previous probability a *static* pixel keeps;
    ``motion`` is the grey-level change (0..255) above which a pixel counts as moving;
    ``cut`` is the share of moving pixels that resets the history.

    Defaults chosen on clips of three PFCN test portraits (PortraitNet, 40 frames each):
    still-clip flicker 0.30% -> 0.053% of pixels per frame, swaying-clip IoU -0.002.
    Stronger settings (0.95, 40, hysteresis 0.3/0.7) reach 0.035% at -0.007 IoU.
    """

    def __init__(self, strength: float = 0.95, motion: float = 25.0, cut: float = 0.5,
                 low: float = 0.4, high: float = 0.6):
        if not 0 <= strength < 1:
            raise VideoError(f"strength must be in [0, 1), got {strength}.")
        if not 0 < low <= 0.5 <= high < 1:
            raise VideoError(f"need 0 < low <= 0.5 <= high < 1, got low={low}, high={high}.")
        self.strength, self.motion, self.cut = strength, motion, cut
        self.low, self.high = low, high
        self.reset()

    def reset(self) -> None:
        self._grey = self._probability = self._mask = None

    def update(self, rgb: np.ndarray, probability: np.ndarray, flow: MotionCompensator | None = None) -> np.ndarray:
        """Smoothed probability for this frame (also remembered for the next).

        ``flow``: a :class:`MotionCompensator` already updated with this frame. The previous
        probability and grey frame are then warped into this frame before they are compared
        and blended, so "moving" means "not where the flow says it went", and the history
        is trusted less where the flow is fast (``flow.trust``). The scene-cut test still
        looks at the unwarped change: no flow makes two different scenes alike. The
        hysteresis mask is not warped: warping it too cost DAVIS IoU (0.7112 -> 0.6975, see
        :class:`MotionCompensator`).
        """
        grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (5, 5), 0).astype(np.float32)
        probability = np.asarray(probability, np.float32)
        if self._grey is None or self._grey.shape != grey.shape:
            smoothed = probability
        else:
            change = np.abs(grey - self._grey)
            if (change > self.motion).mean() > self.cut:  # a new scene: forget the past
                smoothed = probability
                self._mask = None
            else:
                if flow is not None and flow.ready and flow.shape == grey.shape:
                    # the same blend on the history moved along the flow (in place: ~1 ms less a frame)
                    keep = cv2.absdiff(grey, flow.warp(self._grey))
                    keep *= -1.0 / self.motion
                    keep += 1.0
                    np.clip(keep, 0.0, 1.0, out=keep)
                    keep *= flow.trust
                    keep *= self.strength
                    smoothed = flow.warp(self._probability) - probability
                    smoothed *= keep
                    smoothed += probability
                else:
                    # keep ``strength`` of the past where static, none of it where moving
                    keep = self.strength * np.clip(1.0 - change / self.motion, 0.0, 1.0)
                    smoothed = keep * self._probability + (1.0 - keep) * probability
        self._grey, self._probability = grey, smoothed
        return smoothed

    def binary(self, probability: np.ndarray) -> np.ndarray:
        """Boolean mask with hysteresis against the previous one."""
        if self._mask is None or self._mask.shape != probability.shape:
            mask = probability > 0.5
        else:
            mask = np.where(self._mask, probability > self.low, probability > self.high)
        self._mask = mask
        return mask


# --- motion compensation -----------------------------------------------------------------


class MotionCompensator:
    """Dense optical flow from the previous frame to this one, to move per-pixel history along.

    Call :meth:`update` with every frame, then :meth:`warp` an array of the previous frame
    (a probability, a grey frame) into the current one. The flow is DIS (OpenCV's
    ``DISOpticalFlow``, ``preset``, default ultrafast) on grey frames scaled to ``width``
    pixels wide, scaled back up. At 640x480 on one shared core here, :meth:`update` takes
    about 1.4 ms a frame and each warp about 0.6 ms (the prior and the smoother's history
    are one array, warped once; the smoother's grey frame is the second). PortraitNet +
    smoothing on a swaying clip (3 x 60 frames): the time beside the model's went from 2.0
    to 5.5 ms a frame (flow 1.4, prior warp 0.6, smoother 2.0 -> 3.5), the model's ~14 ms;
    end to end (``benchmarks/video.py``, decode and blur and encode too) 41.5 -> 36.6
    frames/s in the same run. ``trust`` (per pixel, 0..1) falls linearly from 1 at rest to 0 at
    a motion of ``fast`` x the frame width per frame: the flow is least accurate, and a
    lagging history most harmful, where motion is fast.

    Measured on the clips of ``benchmarks/video.py`` (6 PFCN portraits x still/swaying clips
    of 60 frames, DAVIS parkour 100 frames), PortraitNet + smoothing, swaying IoU / DAVIS
    IoU (still-clip flicker stayed 0.020% throughout). The first and the default are from
    ``taskset -c 0 python benchmarks/video.py --out benchmarks/results`` (2026-12-07); the
    others from the same clips through variants of this code while it was developed:

    * no compensation (the old pipeline): 0.9227 / 0.7030 (MediaPipe frame by frame:
      0.9266 / 0.6385);
    * warped prior only: 0.9233 / 0.7056; warped smoother history only: 0.9362 / 0.6957;
    * both warped: 0.9366 / 0.7112 (0.9369 / 0.6975 when the hysteresis mask is warped too);
    * both warped and ``trust`` with ``fast=0.03`` (the default): 0.9385 / 0.7216, flicker
      swaying 0.014% (0.006% before; MediaPipe 0.56%), DAVIS 0.019% (0.012% before);
      ``fast`` as 20 px: 0.9386 / 0.7228, 10 px: 0.9273 / 0.7238, 30 px: 0.9387 / 0.7208;
    * a forward-backward consistency test instead of ``trust`` (twice the flow cost):
      0.9376 / 0.7221; with ``fast`` as 20 px, flow at 320 px: 0.9391 / 0.7184, DIS
      ``FAST``: 0.9394 / 0.7209, the prior blended from warped (where trusted) and unwarped:
      0.9377 / 0.7233;
    * no prior on frames whose flow is unreliable (mean grey change > 8 after warping, at
      160 px; 32 of the 99 DAVIS frame pairs, under 1% of the PFCN clips'): DAVIS 0.7228 -> 0.7203,
      so the prior is always used, warped.
    """

    def __init__(self, width: int = 160, fast: float = 0.03, preset: int = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST):
        if width < 8:
            raise VideoError(f"width must be at least 8 pixels, got {width}.")
        if fast <= 0:
            raise VideoError(f"fast must be positive, got {fast}.")
        self.width, self.fast, self.preset = width, fast, preset
        self._dis = cv2.DISOpticalFlow_create(preset)
        self._grid = None
        self.reset()

    def reset(self) -> None:
        self._small = self._maps = self._last = self.trust = self.shape = None

    @property
    def ready(self) -> bool:
        """Whether a flow to the current frame exists (not on a stream's first frame)."""
        return self._maps is not None

    def update(self, rgb: np.ndarray) -> bool:
        """Estimate the flow from the previous frame to ``rgb``; False on the first frame."""
        height, width = rgb.shape[:2]
        small_w = min(self.width, width)
        small_h = max(8, round(height * small_w / width))
        grey = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        small = cv2.resize(grey, (small_w, small_h), interpolation=cv2.INTER_AREA)
        previous, self._small, self._last = self._small, small, None
        if previous is None or previous.shape != small.shape or self.shape != (height, width):
            self._maps, self.trust, self.shape = None, None, (height, width)
            return False
        # for each pixel of this frame, where it was in the previous one (in full-size pixels)
        flow = self._dis.calc(small, previous, None) * np.float32(width / small_w)
        speed = cv2.magnitude(flow[..., 0], flow[..., 1])
        trust = np.clip(1.0 - speed / (self.fast * width), 0.0, 1.0)
        self.trust = cv2.resize(trust, (width, height), interpolation=cv2.INTER_LINEAR)
        if self._grid is None or self._grid.shape[:2] != (height, width):
            self._grid = np.dstack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)))
        self._maps = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) + self._grid
        return True

    def warp(self, array: np.ndarray) -> np.ndarray:
        """``array`` (float, of the previous frame) moved into the current frame; as is before a flow exists.

        The same array object warped twice for one frame is warped once (do not change it in
        place in between).
        """
        if self._maps is None:
            return np.asarray(array, np.float32)
        if self._last is not None and self._last[0] is array:  # the prior is the smoother's history: warp it once
            return self._last[1]
        warped = cv2.remap(np.asarray(array, np.float32), self._maps, None, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        self._last = (array, warped)
        return warped


# --- reading -----------------------------------------------------------------------------


def open_capture(source):
    """``cv2.VideoCapture`` for a file or a camera index, with errors that say what is wrong."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        index = int(source)
        capture = cv2.VideoCapture(index)
        if not capture.isOpened():
            raise VideoError(f"camera {index} could not be opened: is one connected, and not in use by another program?")
        return capture
    path = Path(source)
    if not path.exists():
        raise VideoError(f"{path}: video file not found.")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes).")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{path}: not a video OpenCV can read (unsupported codec or not a video); "
                         "convert it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4.")
    return capture


def read_frames(source):
    """Yield RGB uint8 frames of a video file or camera; raises if it yields none."""
    capture = open_capture(source)
    count = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if count == 0:
        raise VideoError(f"{source}: no frame could be decoded (0 frames, truncated, or an unsupported codec).")


def video_info(source) -> dict:
    """Frame size, rate and count as the container reports them."""
    capture = open_capture(source)
    try:
        return {
            "width": int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "fps": float(capture.get(cv2.CAP_PROP_FPS)) or 30.0,
            "frames": int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
        }
    finally:
        capture.release()


# --- the segmenter for streams -----------------------------------------------------------


def fast_segmenter(model=None, quantize: str = "none"):
    """A LiteRT segmenter for a shipped model (or a ``.tflite``/``.keras`` path); ``None``:
    the registry's video choice (:func:`selfieseg.models.video_shipped_model`).

    Video needs batch-1 calls at camera rate: LiteRT runs them several times faster than
    a Keras call. The export is cached in ``$SELFIESEG_CACHE`` (default
    ``~/.cache/selfieseg``) under a hash of the weights, so it is made once.
    """
    from selfieseg.inference import TFLiteSegmenter, open_segmenter
    from selfieseg.io import cache_root

    if model is None:
        from selfieseg.models import video_shipped_model

        model = video_shipped_model()
    if hasattr(model, "predict") or Path(str(model)).suffix.lower() in (".tflite", ".keras", ".onnx"):
        return open_segmenter(model)  # already a segmenter, or a file that runs as it is
    from selfieseg.export import export
    from selfieseg.models import shipped_weights_path, spec_of

    spec_of(model)  # an unknown name fails listing the valid ones
    weights = shipped_weights_path(model)
    if not weights.exists():
        raise ModelError(f"{model}: no shipped weights in this version of selfieseg; pass a .tflite or .keras file.")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    cache = cache_root() / "exports"
    path = cache / f"{model}-{digest}-{quantize}.tflite"
    if not path.exists():
        export(model, path, quantize=quantize, verbose=0)
    return TFLiteSegmenter(path)


class VideoSegmenter:
    """Segment consecutive frames: a model, PortraitNet's prior, and optional smoothing.

    ``motion_compensation`` (default on; a :class:`MotionCompensator` to choose its
    settings): warp the prior and the smoother's history along the optical flow from the
    previous frame (see the module docstring). ``False`` gives the pipeline as it was before.
    """

    def __init__(self, model=None, smoothing: bool | TemporalSmoother = True, quantize: str = "none",
                 motion_compensation: bool | MotionCompensator = True):
        self.segmenter = fast_segmenter(model, quantize)
        self.smoother = smoothing if isinstance(smoothing, TemporalSmoother) else (TemporalSmoother() if smoothing else None)
        self.uses_prior = getattr(self.segmenter, "channels", 3) == 4
        if isinstance(motion_compensation, MotionCompensator):
            self.flow = motion_compensation
        else:
            self.flow = MotionCompensator() if motion_compensation else None
        self._previous = None

    def reset(self) -> None:
        self._previous = None
        if self.smoother is not None:
            self.smoother.reset()
        if self.flow is not None:
            self.flow.reset()

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Person probability for the next frame of the stream."""
        prior = self._previous if self.uses_prior else None
        if prior is not None and prior.shape != rgb.shape[:2]:
            prior = None
        flow = self.flow if self.flow is not None and (self.uses_prior or self.smoother is not None) else None
        if flow is not None and flow.update(rgb) and prior is not None:
            prior = flow.warp(prior)  # the previous probability, moved to where the person is now
        probability = self.segmenter.predict(rgb, prior=prior) if self.uses_prior else self.segmenter.predict(rgb)
        if self.smoother is not None:
            probability = self.smoother.update(rgb, probability, flow=flow)
        self._previous = probability
        return probability

    def mask(self, probability: np.ndarray) -> np.ndarray:
        """Binary mask (with the smoother's hysteresis when smoothing is on)."""
        return self.smoother.binary(probability) if self.smoother is not None else probability > 0.5

    def frames(self, source):
        """Yield ``(rgb, probability)`` for every frame of a file or camera."""
        self.reset()
        for rgb in read_frames(source):
            yield rgb, self(rgb)


# --- effects on a frame ------------------------------------------------------------------


def apply_effect(effect: str, rgb: np.ndarray, probability: np.ndarray, background=None, strength: float = 15.0,
                 refine: bool = False) -> np.ndarray:
    """One frame with ``effect`` applied (RGB uint8; ``mask``: white person on black)."""
    if refine:
        probability = effects.refine_edges(rgb, probability)
    if effect == "blur":
        return effects.blur_background(rgb, probability, strength=strength)
    if effect == "replace":
        if background is None:
            background = effects.studio_backdrop(*rgb.shape[:2])
        return effects.replace_background(rgb, probability, background)
    if effect == "grey":
        return effects.grey_background(rgb, probability)
    if effect == "mask":
        grey = (np.clip(probability, 0, 1) * 255 + 0.5).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if effect == "cutout":
        return effects.cutout(rgb, probability)
    raise VideoError(f"unknown effect {effect!r}; choose one of {', '.join(EFFECTS)}.")


class _Background:
    """A still image, or a video whose frames are used in turn (looping)."""

    def __init__(self, source):
        self.frames = None
        self.still = None
        if source is None:
            return
        if isinstance(source, np.ndarray):
            self.still = source
            return
        path = Path(source)
        if path.suffix.lower() in VIDEO_SUFFIXES or path.suffix.lower() in (".webm", ".mpg", ".mpeg"):
            self.frames = [frame for frame in read_frames(path)]
        else:
            from selfieseg.io import read_image

            self.still = read_image(path)

    def __call__(self, index: int):
        if self.frames:
            return self.frames[index % len(self.frames)]
        return self.still


def process_video(source, output, effect: str = "blur", background=None, model=None, smoothing: bool = True,
                  strength: float = 15.0, refine: bool = False, quantize: str = "none", progress: bool = True,
                  limit: int | None = None, motion_compensation: bool = True) -> dict:
    """Segment every frame of ``source`` (a file or camera index) and write ``output`` with ``effect``.

    ``mask`` writes the person mask as white on black at the input's size and frame count.
    The output is written to a temporary file and renamed when complete; it may not be the
    input. ``motion_compensation``: see :class:`VideoSegmenter`. Returns the number of
    frames, the frame rate, and the seconds taken.
    """
    import time

    from tqdm.auto import tqdm

    if effect not in EFFECTS or effect == "cutout":
        raise VideoError(f"unknown video effect {effect!r}; choose one of blur, replace, grey, mask.")
    output = Path(output)
    codec = VIDEO_SUFFIXES.get(output.suffix.lower())
    if codec is None:
        raise VideoError(f"{output}: unsupported output container; use one of {', '.join(VIDEO_SUFFIXES)}.")
    is_camera = isinstance(source, int) or (isinstance(source, str) and source.isdigit())
    inputs = [] if is_camera else [Path(source)]
    if background is not None and not isinstance(background, np.ndarray):
        inputs.append(Path(background))
    for path in inputs:
        if path.exists() and output.exists() and os.path.samefile(path, output):
            raise VideoError(f"{output}: output path is the same file as an input; choose another output path.")
        if path.resolve() == output.resolve():
            raise VideoError(f"{output}: output path is the same file as an input; choose another output path.")
    if is_camera and limit is None:
        raise VideoError("reading a camera needs a frame limit (limit=N, --frames N) so the output ends.")

    info = video_info(source) if not is_camera else {"fps": 30.0, "frames": 0}
    backdrop = _Background(background)
    segmenter = VideoSegmenter(model, smoothing=smoothing, quantize=quantize, motion_compensation=motion_compensation)
    total = min(info["frames"], limit) if (info["frames"] and limit) else (info["frames"] or limit or None)
    written, started = 0, time.perf_counter()
    with atomic_path(output, inputs) as tmp:
        writer = None
        try:
            bar = tqdm(total=total, desc=f"{effect} {Path(str(source)).name}", unit="frame", disable=not progress)
            for rgb, probability in segmenter.frames(source):
                if writer is None:
                    height, width = rgb.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), info["fps"], (width, height))
                    if not writer.isOpened():
                        raise VideoError(f"{output}: OpenCV cannot write {output.suffix} video here ({codec}); try .avi.")
                frame = apply_effect(effect, rgb, probability, backdrop(written), strength, refine)
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                written += 1
                bar.update(1)
                if limit is not None and written >= limit:
                    break
            bar.close()
        finally:
            if writer is not None:
                writer.release()
    seconds = time.perf_counter() - started
    return {"output": output, "frames": written, "fps": info["fps"], "seconds": seconds,
            "frames_per_second": written / seconds if seconds else 0.0}


__all__ = ["EFFECTS", "MotionCompensator", "TemporalSmoother", "VideoError", "VideoSegmenter", "apply_effect",
           "fast_segmenter", "open_capture", "process_video", "read_frames", "video_info"]
