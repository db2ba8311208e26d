"""Video: clips from real portraits, smoothing, effects, the command line, and bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from selfieseg.data.clips import synthetic_clip, write_clip
from selfieseg.metrics import flicker, iou
from selfieseg.video import TemporalSmoother, VideoError, VideoSegmenter, process_video, read_frames, video_info


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
