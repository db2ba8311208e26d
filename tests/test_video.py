"""Video: clips from real portraits, smoothing, effects, the command line, and bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from selfieseg.data.clips import synthetic_clip, write_clip
from selfieseg.metrics import flicker, iou
from selfieseg.video import (
    MotionCompensator,
    TemporalSmoother,
    VideoError,
    VideoSegmenter,
    process_video,
    read_frames,
    video_info,
)


@pytest.fixture(scope="module")
def clip(pfcn_test, tmp_path_factory):
    sample = pfcn_test[3]
    frames, masks = synthetic_clip(sample.image, sample.mask, frames=24, motion="sway", size=(240, 320), seed=1)
    path = write_clip(frames, tmp_path_factory.mktemp("clip") / "sway.avi")
    return path, frames, masks


@pytest.fixture(scope="module")
def shipped():
    from selfieseg.demo import shipped_models

    names = shipped_models()
    if not names:
        pytest.skip("no shipped weights in this version")
    return "sinet" if "sinet" in names else names[0]


def test_synthetic_clips_move_the_mask_with_the_image(pfcn_test):
    sample = pfcn_test[0]
    static, static_masks = synthetic_clip(sample.image, sample.mask, frames=6, size=(120, 160))
    assert static.shape == (6, 120, 160, 3) and static.dtype == np.uint8
    assert all(np.array_equal(m, static_masks[0]) for m in static_masks)  # truth still, pixels noisy
    assert np.abs(static[1].astype(int) - static[0].astype(int)).mean() > 1
    sway, sway_masks = synthetic_clip(sample.image, sample.mask, frames=12, motion="sway", size=(120, 160))
    assert flicker(sway_masks) > 0.002  # the person moves
    assert 0.1 < sway_masks.mean() < 0.9


def test_flicker_counts_flips_beyond_the_truth():
    masks = np.zeros((3, 10, 10), bool)
    masks[1, :2] = True  # 20 pixels on, then off again
    assert flicker(masks) == pytest.approx(0.2)
    assert flicker(masks, truths=masks) == 0.0
    with pytest.raises(ValueError, match="at least two"):
        flicker(masks[:1])


def test_smoother_steadies_noise_but_follows_motion():
    smoother = TemporalSmoother(strength=0.8)
    still = np.full((40, 40, 3), 120, np.uint8)
    base = np.zeros((40, 40), np.float32)
    base[10:30, 10:30] = 0.9
    rng = np.random.default_rng(0)
    outputs = [smoother.update(still, np.clip(base + rng.normal(0, 0.2, base.shape), 0, 1)) for _ in range(10)]
    raw_var = 0.2 ** 2
    assert np.var(outputs[-1] - base) < 0.6 * raw_var  # averaged where nothing moved
    moved = still.copy()
    moved[:, :12] = 250  # the frame changed on the left (less than the scene-cut share)
    new = np.zeros_like(base)
    out = smoother.update(moved, new)
    assert np.abs(out[:, :10]).max() < 1e-6  # took the new prediction where the frame moved
    assert out[15, 25] > 0.3  # kept the past where it did not
    cut = smoother.update(np.full_like(still, 5), new)  # a scene cut resets
    assert np.abs(cut).max() < 1e-6


def test_hysteresis_keeps_hovering_pixels_still():
    smoother = TemporalSmoother(low=0.4, high=0.6)
    first = smoother.binary(np.array([[0.7, 0.3]], np.float32))
    hovering = smoother.binary(np.array([[0.45, 0.55]], np.float32))
    assert first.tolist() == [[True, False]] and hovering.tolist() == [[True, False]]


def _textured_pair(dx: int, dy: int, size=(120, 160), seed: int = 0):
    """A textured frame, the same frame moved by (dx, dy), and a person-like blob moved with it."""
    rng = np.random.default_rng(seed)
    height, width = size
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (height + 40, width + 40)).astype(np.float32), (0, 0), 2.5)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    blob = np.zeros((height + 40, width + 40), np.float32)
    cv2.ellipse(blob, ((width + 40) // 2, (height + 40) // 2), (width // 5, height // 3), 0, 0, 360, 1.0, -1)
    blob = cv2.GaussianBlur(blob, (0, 0), 1.5)

    def crop(a, ox, oy):  # the view of a camera moved by (-ox, -oy): content moves by (ox, oy)
        return a[20 - oy : 20 - oy + height, 20 - ox : 20 - ox + width].copy()

    grey0, grey1 = crop(texture, 0, 0), crop(texture, dx, dy)
    rgb0, rgb1 = (np.repeat(g.astype(np.uint8)[..., None], 3, axis=2) for g in (grey0, grey1))
    return rgb0, rgb1, crop(blob, 0, 0), crop(blob, dx, dy)


def test_motion_compensator_moves_the_previous_probability_with_the_person():
    rgb0, rgb1, blob0, blob1 = _textured_pair(5, 3)
    flow = MotionCompensator(width=160)
    assert not flow.update(rgb0) and not flow.ready
    assert np.array_equal(flow.warp(blob0), blob0)  # nothing to warp with on the first frame
    assert flow.update(rgb1) and flow.ready
    inner = (slice(10, -10), slice(10, -10))  # away from the borders that moved out of view
    warped_error = np.abs(flow.warp(blob0) - blob1)[inner].mean()
    unwarped_error = np.abs(blob0 - blob1)[inner].mean()
    assert warped_error < 0.25 * unwarped_error
    moving_trust = flow.trust[inner].mean()
    flow.reset()
    flow.update(rgb0)
    flow.update(rgb0.copy())  # no motion: the history is trusted fully
    assert flow.trust[inner].mean() > 0.95 > moving_trust
    assert np.abs(flow.warp(blob0) - blob0)[inner].max() < 0.05
    with pytest.raises(VideoError, match="fast"):
        MotionCompensator(fast=0)


def test_smoother_with_flow_averages_a_tracked_moving_person():
    rgb0, rgb1, blob0, blob1 = _textured_pair(3, 0, size=(120, 320))
    rng = np.random.default_rng(1)
    noisy1 = np.clip(blob1 + rng.normal(0, 0.2, blob1.shape), 0, 1).astype(np.float32)
    inner = (slice(10, -10), slice(10, -10))
    outputs = {}
    for compensate in (False, True):
        smoother, flow = TemporalSmoother(), MotionCompensator()
        for rgb, probability in ((rgb0, blob0), (rgb1, noisy1)):
            flow.update(rgb)
            out = smoother.update(rgb, probability, flow=flow if compensate else None)
        outputs[compensate] = np.abs(out - blob1)[inner].mean()
    raw = np.abs(noisy1 - blob1)[inner].mean()
    # without flow the smoother takes the noisy new prediction where the texture moved and
    # blends in the misplaced old one where it did not; with flow the history is moved along
    # with the person first, and blending it averages the noise away
    assert outputs[True] < 0.5 * raw
    assert outputs[True] < 0.7 * outputs[False]


def test_scene_cut_resets_with_motion_compensation():
    rgb0, rgb1, blob0, _ = _textured_pair(2, 0)
    other, _, _, _ = _textured_pair(0, 0, seed=7)  # another scene
    other = 255 - other
    smoother, flow = TemporalSmoother(), MotionCompensator()
    for rgb in (rgb0, rgb1):
        flow.update(rgb)
        smoother.update(rgb, blob0, flow=flow)
    smoother.binary(blob0)
    new = np.zeros_like(blob0)
    flow.update(other)
    assert np.abs(smoother.update(other, new, flow=flow)).max() < 1e-6
    assert smoother._mask is None  # the hysteresis starts afresh too


class _PriorModel:
    """A stand-in 4-channel segmenter: half its guess from the image, half the prior it is given."""

    channels = 4

    def __init__(self):
        self.priors = []

    def predict(self, rgb, prior=None):
        self.priors.append(None if prior is None else prior.copy())
        guess = (rgb[..., 0] > 128).astype(np.float32)
        return 0.5 * guess + 0.5 * (guess if prior is None else prior)


def test_motion_compensation_off_gives_the_old_pipeline_and_on_warps_the_prior():
    frames = []
    for dx in range(0, 16, 4):  # the texture (and the person with it) moving 4 px per frame
        frames.append(_textured_pair(dx, 0, size=(96, 128))[1])
    for smoothing in (False, True):
        old_model, model = _PriorModel(), _PriorModel()
        off = VideoSegmenter(old_model, smoothing=smoothing, motion_compensation=False)
        # the pipeline as it was: the unwarped previous probability as prior, smoother without flow
        smoother, previous, expected = (TemporalSmoother() if smoothing else None), None, []
        for rgb in frames:
            probability = model.predict(rgb, prior=previous)
            if smoother is not None:
                probability = smoother.update(rgb, probability)
            expected.append(probability)
            previous = probability
        got = [off(rgb) for rgb in frames]
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    on_model = _PriorModel()
    on = VideoSegmenter(on_model, smoothing=False)
    assert on.flow is not None  # the default
    outputs = [on(rgb) for rgb in frames]
    inner = (slice(8, -8), slice(12, -12))
    for k in range(1, len(frames)):
        moved = np.roll(outputs[k - 1], 4, axis=1)  # where the previous probability belongs now
        warped_error = np.abs(on_model.priors[k] - moved)[inner].mean()
        assert warped_error < 0.5 * np.abs(outputs[k - 1] - moved)[inner].mean()
    # a new stream, or a frame of another size, starts without a prior instead of failing
    on.reset()
    on(frames[0])
    on(cv2.resize(frames[1], (64, 48)))
    assert on_model.priors[-2] is None and on_model.priors[-1] is None


def test_motion_compensation_helps_portraitnet_on_a_swaying_portrait(pfcn_test):
    from selfieseg.demo import shipped_models

    if "portraitnet" not in shipped_models():
        pytest.skip("no shipped PortraitNet in this version")
    sample = pfcn_test[3]
    frames, masks = synthetic_clip(sample.image, sample.mask, frames=30, motion="sway", size=(240, 320), seed=1)
    scores = {}
    for compensate in (False, True):
        segmenter = VideoSegmenter("portraitnet", smoothing=True, motion_compensation=compensate)
        binary = [segmenter.mask(segmenter(frame)) for frame in frames]
        scores[compensate] = np.mean([iou(b, m) for b, m in zip(binary, masks)])
    assert scores[True] > scores[False] + 0.003  # 0.911 -> 0.920 here


@pytest.mark.slow
def test_video_mask_effect_keeps_size_and_frame_count(clip, shipped, tmp_path):
    path, frames, masks = clip
    out = tmp_path / "mask.avi"
    result = process_video(path, out, effect="mask", model=shipped, progress=False)
    info = video_info(out)
    assert result["frames"] == len(frames) == info["frames"]
    assert (info["width"], info["height"]) == (320, 240)
    written = np.stack([f[..., 0] > 127 for f in read_frames(out)])
    scores = [iou(w, m) for w, m in zip(written, masks)]
    assert np.mean(scores) > 0.8  # white person on black, where the person is


def test_smoothing_reduces_flicker_on_a_still_real_portrait(pfcn_test, shipped):
    sample = pfcn_test[5]
    frames, masks = synthetic_clip(sample.image, sample.mask, frames=20, size=(240, 320), noise=6.0, seed=2)
    results = {}
    for smoothing in (False, True):
        segmenter = VideoSegmenter(shipped, smoothing=smoothing)
        binary = [segmenter.mask(segmenter(frame)) for frame in frames]
        results[smoothing] = (flicker(binary, masks), np.mean([iou(b, m) for b, m in zip(binary, masks)]))
    assert results[True][0] < results[False][0]
    assert results[True][1] > results[False][1] - 0.01


def test_blur_and_replace_videos_with_an_image_or_video_background(clip, shipped, tmp_path, pfcn_test):
    from selfieseg.io import write_image

    path, frames, _ = clip
    blurred = process_video(path, tmp_path / "blur.mp4", effect="blur", model=shipped, progress=False)
    assert blurred["frames"] == len(frames)
    backdrop = write_image(tmp_path / "beach.jpg", pfcn_test[7].image)
    replaced = process_video(path, tmp_path / "replace.avi", effect="replace", background=backdrop, model=shipped,
                             progress=False, limit=5)
    assert replaced["frames"] == 5
    moving = process_video(path, tmp_path / "replace2.avi", effect="replace", background=path, model=shipped,
                           progress=False, limit=5)
    assert moving["frames"] == 5


def test_bad_videos_fail_clearly_and_leave_nothing(tmp_path, clip, shipped):
    path, _, _ = clip
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all" * 100)
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(path.read_bytes()[:300])
    cases = [(tmp_path / "absent.mp4", "not found"), (empty, "empty"), (garbage, "not a video|no frame"),
             (truncated, "not a video|no frame")]
    for source, message in cases:
        with pytest.raises(VideoError, match=message):
            process_video(source, tmp_path / "out.avi", model=shipped, progress=False)
    with pytest.raises(VideoError, match="same file"):
        process_video(path, path, model=shipped, progress=False)
    with pytest.raises(VideoError, match="unsupported output"):
        process_video(path, tmp_path / "out.gif", model=shipped, progress=False)
    with pytest.raises(VideoError, match="camera 7"):
        process_video(7, tmp_path / "cam.avi", model=shipped, progress=False, limit=3)
    from selfieseg.errors import ImageReadError

    bad_background = tmp_path / "bg.jpg"
    bad_background.write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ImageReadError, match="bg.jpg"):
        process_video(path, tmp_path / "out.avi", effect="replace", background=bad_background, model=shipped, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bg.jpg", "empty.mp4", "garbage.mp4", "truncated.avi"]


def test_cli_video_and_photo_commands(tmp_path, clip, shipped, pfcn_test, capsys):
    from selfieseg.cli import main
    from selfieseg.io import write_image

    path, frames, _ = clip
    out = tmp_path / "masked.avi"
    assert main(["video", str(path), str(out), "--effect", "mask", "--model", shipped]) == 0
    assert video_info(out)["frames"] == len(frames)
    # without --model, video takes the registry's video choice: PortraitNet, fed its previous mask
    from selfieseg.models import video_shipped_model
    from selfieseg.video import VideoSegmenter

    assert video_shipped_model() == "portraitnet" and VideoSegmenter().uses_prior
    assert main(["video", str(path), str(tmp_path / "default.avi"), "--effect", "mask"]) == 0
    assert video_info(tmp_path / "default.avi")["frames"] == len(frames)
    # --no-motion-compensation is process_video's motion_compensation=False
    assert main(["video", str(path), str(tmp_path / "plain.avi"), "--effect", "mask", "--model", shipped,
                 "--no-motion-compensation"]) == 0
    process_video(path, tmp_path / "plain_api.avi", effect="mask", model=shipped, motion_compensation=False,
                  progress=False)
    pairs = list(zip(read_frames(tmp_path / "plain.avi"), read_frames(tmp_path / "plain_api.avi")))
    assert len(pairs) == len(frames) and all(np.array_equal(a, b) for a, b in pairs)
    photos = tmp_path / "photos"
    for i in range(2):
        write_image(photos / f"p{i}.jpg", pfcn_test[i].image)
    (photos / "broken.jpg").write_bytes(b"broken")
    assert main(["segment", str(photos), "-o", str(tmp_path / "seg"), "--model", shipped]) == 2  # one skipped
    assert sorted(p.name for p in (tmp_path / "seg").iterdir()) == [
        "failed.tsv", "p0_cutout.png", "p0_mask.png", "p1_cutout.png", "p1_mask.png", "summary.json"]
    assert "broken.jpg" in capsys.readouterr().err and "broken.jpg" in (tmp_path / "seg" / "failed.tsv").read_text()
    # a rerun resumes: nothing left to do but the broken photo
    assert main(["segment", str(photos), "-o", str(tmp_path / "seg"), "--model", shipped]) == 2
    assert "0 photos written" in capsys.readouterr().out
    assert main(["blur", str(photos / "p0.jpg"), "-o", str(tmp_path / "fx"), "--model", shipped, "--refine"]) == 0
    assert main(["replace", str(photos / "p0.jpg"), "--background", str(photos / "p1.jpg"), "-o", str(tmp_path / "fx"),
                 "--model", shipped]) == 0
    assert sorted(p.name for p in (tmp_path / "fx").iterdir()) == ["p0_blur.jpg", "p0_replaced.jpg"]
    assert main(["video", str(path), str(path), "--model", shipped]) == 2
    assert "same file" in capsys.readouterr().err


def test_edge_refinement_follows_image_edges():
    from selfieseg import effects

    image = np.zeros((60, 60, 3), np.uint8)
    image[:, 30:] = 255  # a sharp edge at column 30
    blurry = np.tile(np.clip((np.arange(60) - 20) / 20, 0, 1), (60, 1)).astype(np.float32)  # a ramp from 20 to 40
    refined = effects.refine_edges(image, blurry, radius=4, eps=1e-4)
    assert refined[:, 22:28].mean() < blurry[:, 22:28].mean()  # pulled down left of the edge
    assert refined[:, 32:38].mean() > blurry[:, 32:38].mean()  # pushed up right of it
    assert cv2.Sobel(refined, cv2.CV_32F, 1, 0)[:, 29:31].mean() > cv2.Sobel(blurry, cv2.CV_32F, 1, 0)[:, 29:31].mean()
