"""The README's main job: segment a portrait with shipped weights and show what it enables."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfieseg.models import best_shipped_model, fastest_shipped_model, shipped_models  # noqa: F401 (re-exported)


def sample_portrait() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, NASA, public domain): shipped by scikit-image."""
    from skimage import data

    return data.astronaut()


def run_demo(image=None, out="outputs/demo", model: str | None = None) -> dict:
    """Segment ``image`` (a path; default: the astronaut) and write mask, effects and a figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from selfieseg import effects
    from selfieseg.inference import Segmenter, as_rgb
    from selfieseg.io import atomic_path, write_image

    name = model or best_shipped_model()
    segmenter = Segmenter(name)
    rgb = sample_portrait() if image is None else as_rgb(image)
    inputs = [image] if image is not None else []
    probability = segmenter.predict(rgb)
    out = Path(out)
    results = {
        "mask": write_image(out / "mask.png", (probability * 255 + 0.5).astype(np.uint8), inputs),
        "blurred": write_image(out / "blurred.jpg", effects.blur_background(rgb, probability), inputs),
        "replaced": write_image(
            out / "replaced.jpg", effects.replace_background(rgb, probability, effects.studio_backdrop(*rgb.shape[:2])), inputs
        ),
        "cutout": write_image(out / "cutout.png", effects.cutout(rgb, probability), inputs),
    }
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.6))
    panels = [(rgb, "input"), (probability, f"{name}: person probability"),
              (np.asarray(plt.imread(results["blurred"])), "blurred background"),
              (np.asarray(plt.imread(results["replaced"])), "replaced background")]
    for ax, (shown, title) in zip(axes, panels):
        ax.imshow(shown, cmap="gray" if np.ndim(shown) == 2 else None, vmin=0, vmax=1 if np.ndim(shown) == 2 else None)
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(out / "side_by_side.png", inputs) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    results["side_by_side"] = out / "side_by_side.png"
    return {"model": name, **{k: str(v) for k, v in results.items()}}
