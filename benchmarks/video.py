"""Flicker, per-frame IoU and end-to-end speed on webcam-like clips, beside MediaPipe, in one run.

Clips are made from real PFCN *test* portraits (``selfieseg.data.clips``): sensor noise,
exposure drift and JPEG artefacts every frame, either still or swaying sideways, with the
ground-truth mask moved along. For each clip and pipeline:

* flicker: share of pixels whose binary mask flips between consecutive frames, minus the
  flips of the ground truth (a moving person), averaged over frames;
* IoU: per-frame person IoU against the moved ground truth, averaged.

Pipelines: our model frame by frame, our model with temporal smoothing, and MediaPipe's
selfie segmenter frame by frame (its .tflite on LiteRT). Ours warp the prior and the
smoother's history along the optical flow (``VideoSegmenter``'s default
``motion_compensation``); our smoothed pipeline without it (as it was before 2026-12-07)
runs alongside and is reported below the tables. The same four pipelines also run
on real footage: the DAVIS-2016 ``parkour`` clip (100 labelled 854x480 frames of a person
running and jumping, camera moving), where flicker counts only flips beyond the moving
truth's own. Speed: a 640x480 clip file is
decoded, segmented, smoothed, blurred and encoded again (``process_video``), frames/s.

    SELFIESEG_DATA=../shared/data SELFIESEG_ANCHORS=../shared/anchors \\
        .venv/bin/python benchmarks/video.py --out benchmarks/results
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from _common import mediapipe_files, parser, pfcn_test, pyplot, run_line, save_figure, write_result


def run_pipeline(segmenter, frames, truths):
    from selfieseg.metrics import flicker, iou

    segmenter.reset()
    masks = [segmenter.mask(segmenter(frame)) for frame in frames]
    per_frame_flips = np.maximum(
        np.array([(a != b).mean() for a, b in zip(masks[1:], masks[:-1])])
        - np.array([(a != b).mean() for a, b in zip(truths[1:], truths[:-1])]), 0)
    return flicker(masks, truths), float(np.mean([iou(m, t) for m, t in zip(masks, truths)])), per_frame_flips


def main(argv=None) -> int:
    options = parser(__doc__, limit=False)
    options.add_argument("--model", help="shipped model (default: the one `selfieseg video` uses, portraitnet when shipped)")
    options.add_argument("--clips", type=int, default=6, help="portraits (each gives a still and a swaying clip)")
    options.add_argument("--frames", type=int, default=60)
    options.add_argument("--speed-frames", type=int, default=150, help="frames of the 640x480 clip timed end to end")
    options.add_argument("--davis-frames", type=int, default=0, help="DAVIS parkour frames (default 0: all of them)")
    args = options.parse_args(argv)
    plt = pyplot()

    from selfieseg.data.clips import synthetic_clip, write_clip
    from selfieseg.models import video_shipped_model
    from selfieseg.video import VideoSegmenter, process_video

    model = args.model or video_shipped_model()
    mediapipe = mediapipe_files(args.anchors)[0][1]
    pipelines = {
        f"{model} frame by frame": VideoSegmenter(model, smoothing=False),
        f"{model} + smoothing": VideoSegmenter(model, smoothing=True),
        "MediaPipe frame by frame": VideoSegmenter(str(mediapipe), smoothing=False),
        "MediaPipe + our smoothing": VideoSegmenter(str(mediapipe), smoothing=True),
    }
    shown = list(pipelines)  # the tables' rows; the pipeline before motion compensation is reported in a line
    before = f"{model} + smoothing, no motion compensation"
    pipelines[before] = VideoSegmenter(model, smoothing=True, motion_compensation=False)
    test = pfcn_test()
    picks = np.linspace(0, len(test) - 1, args.clips).astype(int)
    results = {(name, motion): [] for name in pipelines for motion in ("static", "sway")}
    curves = {}
    for clip_index, index in enumerate(picks):
        sample = test[int(index)]
        for motion in ("static", "sway"):
            frames, truths = synthetic_clip(sample.image, sample.mask, frames=args.frames, motion=motion, seed=clip_index)
            for name, segmenter in pipelines.items():
                flick, score, per_frame = run_pipeline(segmenter, frames, truths)
                results[(name, motion)].append((flick, score))
                if clip_index == 0 and motion == "static" and name in shown:
                    curves[name] = per_frame
            print(f"clip {clip_index} ({sample.name}, {motion}) done")

    # real footage: DAVIS parkour, every pipeline frame by frame over the labelled frames
    from selfieseg.data import open_dataset

    davis = open_dataset("davis")
    count = len(davis) if not args.davis_frames else min(args.davis_frames, len(davis))
    davis_frames = [davis[k].image for k in range(count)]
    davis_truths = [davis[k].mask > 0 for k in range(count)]
    davis_results = {name: run_pipeline(segmenter, davis_frames, davis_truths)[:2] for name, segmenter in pipelines.items()}
    print(f"DAVIS parkour ({count} frames) done")

    # end-to-end speed at 640x480 with blur, the four configurations in interleaved rounds
    # (each round runs every configuration once over a short clip) so that this shared
    # machine's drift in speed touches them all alike
    rounds = 3
    sample = test[int(picks[0])]
    frames, _ = synthetic_clip(sample.image, sample.mask, frames=max(1, -(-args.speed_frames // rounds)),
                                motion="sway", size=(480, 640))
    clip_path = write_clip(frames, Path(tempfile.mkdtemp()) / "clip_640x480.avi")
    configurations = [(name, source, smoothing, True) for name, source in ((model, model), ("MediaPipe", str(mediapipe)))
                      for smoothing in (False, True)]
    configurations.insert(2, (model, model, True, False))  # smoothed, without motion compensation
    for _, source, smoothing, compensation in configurations:  # warm-up: graph tracing, interpreter allocation
        process_video(clip_path, clip_path.with_name("warmup.avi"), effect="blur", model=source, smoothing=smoothing,
                      progress=False, limit=10, motion_compensation=compensation)
    done = {(name, smoothing, compensation): [0, 0.0] for name, _, smoothing, compensation in configurations}
    for _ in range(rounds):
        for name, source, smoothing, compensation in configurations:
            run = process_video(clip_path, clip_path.with_name("out.avi"), effect="blur", model=source,
                                smoothing=smoothing, progress=False, motion_compensation=compensation)
            done[(name, smoothing, compensation)][0] += run["frames"]
            done[(name, smoothing, compensation)][1] += run["seconds"]
    speed = {key: frames_done / seconds for key, (frames_done, seconds) in done.items()}

    mediapipe_static = np.mean([f for f, _ in results[("MediaPipe frame by frame", "static")]])
    mediapipe_sway_iou = np.mean([s for _, s in results[("MediaPipe frame by frame", "sway")]])
    lines = [
        f"{args.clips} PFCN test portraits x (still, swaying) clips of {args.frames} frames at 640x480 with sensor noise, "
        "exposure drift and JPEG artefacts. Flicker: % of pixels flipping per frame beyond the ground truth's flips. "
        "IoU: per-frame person IoU, mean.",
        "",
        run_line([model]),
        "",
        "| pipeline | flicker still (%) | flicker swaying (%) | IoU still | IoU swaying |",
        "|---|---|---|---|---|",
    ]
    for name in shown:
        still, sway = np.array(results[(name, "static")]), np.array(results[(name, "sway")])
        lines.append(f"| {name} | {100 * still[:, 0].mean():.4f} | {100 * sway[:, 0].mean():.4f} | "
                     f"{still[:, 1].mean():.4f} | {sway[:, 1].mean():.4f} |")
    ours = np.array(results[(f"{model} + smoothing", "static")])
    ours_sway = np.array(results[(f"{model} + smoothing", "sway")])
    lines += [
        "",
        f"Still-clip flicker, ours smoothed / MediaPipe frame by frame: {ours[:, 0].mean() / max(mediapipe_static, 1e-12):.4f}; "
        f"swaying IoU, ours smoothed - MediaPipe: {ours_sway[:, 1].mean() - mediapipe_sway_iou:+.4f}.",
        "",
        f"Real footage: DAVIS-2016 parkour, {count} labelled frames ({davis_frames[0].shape[1]}x{davis_frames[0].shape[0]}, "
        "a person running and jumping, the camera following):",
        "",
        "| pipeline | flicker (%) | IoU | frames |",
        "|---|---|---|---|",
        *[f"| {name} | {100 * davis_results[name][0]:.4f} | {davis_results[name][1]:.4f} | {count} |" for name in shown],
        "",
        f"DAVIS IoU, ours smoothed - MediaPipe frame by frame: "
        f"{davis_results[f'{model} + smoothing'][1] - davis_results['MediaPipe frame by frame'][1]:+.4f}.",
        "",
        f"End to end at 640x480 (decode, segment, blur, encode; {rounds} interleaved rounds of {len(frames)} frames, "
        f"{len(os.sched_getaffinity(0))} core(s)):",
        "",
        "| model | smoothing | frames/s |",
        "|---|---|---|",
    ]
    for (name, smoothing, compensation), fps in speed.items():
        if compensation:
            lines.append(f"| {name} | {'yes' if smoothing else 'no'} | {fps:.1f} |")
    old_still, old_sway = np.array(results[(before, "static")]), np.array(results[(before, "sway")])
    lines += [
        "",
        f"{model} + smoothing without motion compensation (`VideoSegmenter(..., motion_compensation=False)`, the "
        f"pipeline before 2026-12-07), same clips: flicker still {100 * old_still[:, 0].mean():.4f}%, swaying "
        f"{100 * old_sway[:, 0].mean():.4f}%; IoU still {old_still[:, 1].mean():.4f}, swaying {old_sway[:, 1].mean():.4f}; "
        f"DAVIS flicker {100 * davis_results[before][0]:.4f}%, IoU {davis_results[before][1]:.4f}; "
        f"{speed[(model, True, False)]:.1f} frames/s end to end (with it: {speed[(model, True, True)]:.1f}).",
    ]
    table = "\n".join(lines)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_result(out / "video.md", table + "\n")
    print(table)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, per_frame in curves.items():
        ax.plot(100 * per_frame, label=name)
    ax.set_xlabel("frame")
    ax.set_ylabel("pixels flipped (%)")
    ax.set_title("Flicker on a still clip (first portrait)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out / "video.png", dpi=120)
    print(f"wrote {out / 'video.md'} and {out / 'video.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
