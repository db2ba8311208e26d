"""Source of book/video.ipynb: `python book/_sources/video.py` regenerates it."""

from notebook_builder import code, md, preamble, solution, write

cells = preamble(
    "Video and background effects",
    "book/video.ipynb",
    """
What most people want from a selfie segmenter: their video with the background blurred
or replaced, without the edge of the mask shimmering from frame to frame. This chapter
shows each effect on a real portrait, measures flicker with and without temporal
smoothing beside MediaPipe, and ends with the command line that does it to a file.
""",
)

cells += [
    md("""
## Effects, one at a time

Each effect is a plain function of an RGB image and a person probability
(`selfieseg.effects`): you can read it in a few lines and use it without a model.
"""),
    code("""
import numpy as np
import matplotlib.pyplot as plt

from selfieseg import effects, exercises, viz
from selfieseg.data import open_dataset
from selfieseg.models import video_shipped_model
from selfieseg.inference import Segmenter

MODEL = video_shipped_model()  # what `selfieseg video` uses: the registry ranks PortraitNet first for video
test = open_dataset("pfcn", split="test")
sample = test[12]
image = sample.image
probability = Segmenter(MODEL).predict(image)
backdrop = test[40].image

panels = {
    "photo": image,
    "blur (strength 15)": effects.blur_background(image, probability, strength=15),
    "replace": effects.replace_background(image, probability, backdrop),
    "colour pop": effects.grey_background(image, probability),
    "cut-out (alpha)": effects.cutout(image, probability),
    "edges refined": effects.refine_edges(image, probability),
}
fig, axes = plt.subplots(1, len(panels), figsize=(18, 4))
for ax, (title, shown) in zip(axes, panels.items()):
    ax.imshow(shown, cmap="gray"); ax.set_title(title); ax.axis("off")
plt.show()
"""),
    md("""
**Why no halo.** A naive blur smears the person's colours into the background next to
them. `blur_background` blurs the background *with the person cut out* and divides by the
blurred mask, so the pixels next to the shoulder are averages of background only. Zoom
in on the edge:
"""),
    code("""
import cv2

naive = cv2.GaussianBlur(image, (0, 0), 15)
alpha = effects.feather(probability, 3)[..., None]
naive = (image * alpha + naive * (1 - alpha)).astype(np.uint8)
ys, xs = np.nonzero(probability > 0.5)
y, x = int(ys.mean()), int(xs.min())
crop = (slice(max(0, y - 80), y + 80), slice(max(0, x - 80), x + 80))
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, shown, title in zip(axes, [naive, panels["blur (strength 15)"]], ["naive blur", "selfieseg blur"]):
    ax.imshow(shown[crop]); ax.set_title(title); ax.axis("off")
plt.show()
"""),
    md("""
## A webcam-like clip

There is no labelled selfie video here, so we make one from a real test portrait the way
a webcam stream changes between frames: sensor noise, exposure drift and JPEG artefacts
every frame, still or swaying sideways, with the ground truth moved along.
"""),
    code("""
from selfieseg.data.clips import synthetic_clip

frames_count = 20 if FAST else 60
still, still_truth = synthetic_clip(sample.image, sample.mask, frames=frames_count, motion="static", size=(240, 320))
sway, sway_truth = synthetic_clip(sample.image, sample.mask, frames=frames_count, motion="sway", size=(240, 320))
fig, axes = plt.subplots(1, 4, figsize=(14, 3))
for ax, t in zip(axes, np.linspace(0, frames_count - 1, 4).astype(int)):
    ax.imshow(sway[t]); ax.contour(sway_truth[t], levels=[0.5], colors="y"); ax.set_title(f"frame {t}"); ax.axis("off")
plt.show()
"""),
    md("""
## Flicker, and how to remove it without lag

**Flicker** is the share of pixels whose mask flips between consecutive frames, minus the
flips the ground truth makes (a person who moves *should* change the mask).
`selfieseg.video.TemporalSmoother` blends each pixel's probability with the previous
frame's **only where the image did not change**, drops the history at a scene cut, and
uses hysteresis (on above 0.6, off below 0.4). A plain moving average would lag behind a
moving person; measure both.

That rule has a blind spot: at a moving person's edges the image *does* change, so the
history is thrown away exactly where the mask needs steadying, and PortraitNet's prior
(its previous mask, the 4th input) sits where the person *was*. `MotionCompensator`
estimates dense optical flow from the previous frame to this one (OpenCV's DIS, on a copy
160 px wide: about 1.4 ms a frame at 640x480 here) and warps the history and the prior
along it first. It is on by default (`motion_compensation=False` turns it off); the table
below has both.
"""),
    code("""
import os
from pathlib import Path

from selfieseg.metrics import flicker, iou
from selfieseg.video import VideoSegmenter

pipelines = {f"{MODEL}": VideoSegmenter(MODEL, smoothing=False),
             f"{MODEL} + smoothing, no motion compensation": VideoSegmenter(MODEL, smoothing=True, motion_compensation=False),
             f"{MODEL} + smoothing": VideoSegmenter(MODEL, smoothing=True)}
anchors = os.environ.get("SELFIESEG_ANCHORS")
if anchors:
    pipelines["MediaPipe"] = VideoSegmenter(str(Path(anchors) / "mediapipe_selfie_segmentation.tflite"), smoothing=False)

def run(segmenter, frames):
    segmenter.reset()
    return np.stack([segmenter.mask(segmenter(frame)) for frame in frames])

fig, ax = plt.subplots(figsize=(8, 3))
rows = []
for label, segmenter in pipelines.items():
    masks_still, masks_sway = run(segmenter, still), run(segmenter, sway)
    per_frame = np.maximum((masks_still[1:] != masks_still[:-1]).mean(axis=(1, 2)), 0)
    ax.plot(100 * per_frame, label=label)
    rows.append((label, 100 * flicker(masks_still, still_truth), 100 * flicker(masks_sway, sway_truth),
                 np.mean([iou(m, t) for m, t in zip(masks_sway, sway_truth)])))
ax.set(xlabel="frame", ylabel="% pixels flipped", title="flicker on the still clip")
ax.legend()
plt.show()
viz.Table(["pipeline", "flicker still %", "flicker sway %", "IoU sway"],
          [[label, f"{a:.3f}", f"{b:.3f}", c] for label, a, b, c in rows],
          caption="Flicker and IoU of each pipeline, beside MediaPipe")
"""),
    md("""
What the flow does to one frame of the swaying clip: the previous frame's probability as
it was (where the person *was*), moved along the flow, and the difference of each from
this frame's own prediction. The warped one lines up; what is left is the model's noise,
which averaging removes.
"""),
    code("""
from selfieseg.video import MotionCompensator

segmenter = VideoSegmenter(MODEL, smoothing=False, motion_compensation=False)
t = frames_count // 2
previous, current = segmenter(sway[t - 1]), segmenter(sway[t])
flow = MotionCompensator()
flow.update(sway[t - 1]); flow.update(sway[t])
warped = flow.warp(previous)
fig, axes = plt.subplots(1, 4, figsize=(14, 3))
views = [(sway[t], "frame"), (np.abs(previous - current), "|previous - now|"),
          (np.abs(warped - current), "|warped previous - now|"), (flow.trust, "trust in the history")]
for ax, (shown, title) in zip(axes, views):
    ax.imshow(shown, cmap=None if shown.ndim == 3 else "magma", vmin=0, vmax=1 if shown.ndim == 2 else None)
    ax.set_title(title); ax.axis("off")
plt.show()
print(f"mean |previous - now| {np.abs(previous - current).mean():.4f}, "
      f"after warping {np.abs(warped - current).mean():.4f}")
"""),
    md("""
`benchmarks/video.py` runs the same comparison over several portraits and both kinds of
clip, adds a real labelled video (the DAVIS `parkour` clip: a person running and jumping,
the camera following), and measures end-to-end frames per second at 640x480 with blur
(`benchmarks/results/video.md`).

**Why video uses PortraitNet, not the smallest model.** On the DAVIS clip SINet with
smoothing scored 0.34 per-frame IoU, MediaPipe 0.64 and PortraitNet 0.70 (it is fed its
own previous mask, and was fine-tuned on full figures and people in the wild: the
Training chapter). PortraitNet still ran at 47 frames/s end to end on one CPU core
(2026-12-03; 37 with motion compensation on 2026-12-07, on a slower day), so a video
call does not need the 100K-parameter model; a phone that does gets it with
`--model sinet`.

## Try it: threshold and blur strength

Move the sliders (in Jupyter or Colab). Where widgets are not rendered (the book's static
pages), the cell shows a fixed grid of settings instead.
"""),
    code("""
def show(threshold=0.5, strength=15.0):
    mask = (probability > threshold).astype(np.float32)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    axes[0].imshow(mask, cmap="gray"); axes[0].set_title(f"mask > {threshold:.2f}")
    axes[1].imshow(effects.blur_background(image, mask, strength=strength)); axes[1].set_title(f"blur {strength:.0f}")
    for ax in axes:
        ax.axis("off")
    plt.show()

try:
    import ipywidgets as widgets
    from IPython import get_ipython

    interactive = get_ipython() is not None and "IPKernelApp" in get_ipython().config and not FAST
except ImportError:
    interactive = False
if interactive:
    widgets.interact(show, threshold=widgets.FloatSlider(value=0.5, min=0.05, max=0.95, step=0.05),
                     strength=widgets.FloatSlider(value=15, min=1, max=40, step=1))
else:
    fig, axes = plt.subplots(2, 3, figsize=(12, 7))
    for row, threshold in enumerate((0.3, 0.7)):
        for col, strength in enumerate((5, 15, 30)):
            axes[row, col].imshow(effects.blur_background(image, (probability > threshold).astype(np.float32), strength=strength))
            axes[row, col].set_title(f"threshold {threshold}, blur {strength}"); axes[row, col].axis("off")
    plt.show()
"""),
    md("""
## The command line

```bash
selfieseg blur photo.jpg -o out/                        # out/photo_blur.jpg
selfieseg replace photos/ --background beach.jpg -o out/
selfieseg segment photos/ -o masks/                     # masks and transparent cut-outs
selfieseg video call.mp4 call_blurred.mp4 --effect blur
selfieseg video call.mp4 call_mask.mp4 --effect mask    # white person on black, same frames
selfieseg video 0 webcam.mp4 --frames 300               # a camera
```
"""),
    code("""
import subprocess
import sys
import tempfile

from selfieseg.data.clips import write_clip
from selfieseg.video import video_info

folder = Path(tempfile.mkdtemp())
clip = write_clip(sway, folder / "clip.avi")
result = subprocess.run([sys.executable, "-m", "selfieseg", "video", str(clip), str(folder / "blurred.avi"),
                         "--effect", "blur", "--model", MODEL], capture_output=True, text=True)
print(result.stdout.strip().splitlines()[-1])
print(video_info(folder / "blurred.avi"))
"""),
    md("""
## Summary

* Effects are small numpy/OpenCV functions; blurring with the person cut out avoids halos.
* Per-frame masks flicker under sensor noise; smoothing only where the image is still
  removes most of it without lagging behind motion. Measure both flicker and IoU.
* Moving the history and the prior along the optical flow first lets the smoother steady
  a moving person too: in `benchmarks/results/video.md` (2026-12-07) PortraitNet smoothed
  went from 0.9227 to 0.9385 IoU on swaying clips (MediaPipe 0.9266) and from 0.703 to
  0.722 on the real DAVIS clip (0.639), for about 3 ms a frame.
* One command turns a clip or a camera into a blurred, replaced or mask video.

## Exercises
"""),
    md("**1.** Implement the flicker metric (mean share of pixels that flip between consecutive binary masks, minus the truth's flips, floored at 0 per frame)."),
    code('''
def my_flicker(masks, truths):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def my_flicker(masks, truths):
    masks, truths = np.asarray(masks, bool), np.asarray(truths, bool)
    ours = (masks[1:] != masks[:-1]).mean(axis=(1, 2))
    real = (truths[1:] != truths[:-1]).mean(axis=(1, 2))
    return float(np.maximum(ours - real, 0).mean())
'''),
    code('''
raw = run(pipelines[MODEL], sway)
exercises.check_close(my_flicker(raw, sway_truth) + 1.0, flicker(raw, sway_truth) + 1.0, "flicker (+1)", rtol=1e-9)
'''),
    md("**2.** A plain exponential moving average `p_t = 0.8 p_{t-1} + 0.2 q_t` on the swaying clip: what is its mean per-frame IoU? (It lags behind the person; compare with the table above.)"),
    code("answer_2 = None"),
    solution('''
plain = VideoSegmenter(MODEL, smoothing=False)
state, scores = None, []
for frame, truth in zip(sway, sway_truth):
    q = plain(frame)
    state = q if state is None else 0.8 * state + 0.2 * q
    scores.append(iou(state > 0.5, truth))
answer_2 = float(np.mean(scores))
'''),
    code('''
reference = exercises.moving_average_iou(VideoSegmenter(MODEL, smoothing=False), sway, sway_truth, keep=0.8)
exercises.check_close(answer_2, reference, "IoU of the plain moving average", rtol=1e-6)
'''),
    md("**3.** Rebuild the colour-pop effect from `effects.composite` and `effects.feather` (edge 3): the person in colour over a grey copy of the photo. Check it against `effects.grey_background`."),
    code('''
def my_colour_pop(image, probability):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def my_colour_pop(image, probability):
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return effects.composite(image, grey, effects.feather(probability, 3))
'''),
    code('''
difference = np.abs(my_colour_pop(image, probability).astype(int) - effects.grey_background(image, probability).astype(int)).max()
exercises.check_ratio(float(difference), 0, 1, "largest difference from the library's colour pop")
'''),
    md("**4.** Write a *sepia* background effect (person in colour, background in sepia) from `effects.composite`, and show it. Open question: what makes an effect look natural at the hair line?"),
]

write(cells, "book/video.ipynb", tables=["Flicker and IoU of each pipeline, beside MediaPipe"])
