"""Apply an effect to a photo or a folder of photos (what ``selfieseg segment|blur|replace`` run).

Each output is named after its photo (``beach.jpg`` -> ``beach_mask.png``,
``beach_cutout.png``, ``beach_blur.jpg``, ``beach_replaced.jpg``) and written atomically
to the output folder. In a folder, a photo that cannot be read is reported and skipped;
the others are still processed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfieseg import effects
from selfieseg.errors import ImageReadError, SelfieSegError
from selfieseg.io import IMAGE_SUFFIXES

ACTIONS = ("segment", "blur", "replace", "grey")


def photos_in(source) -> list[Path]:
    """The photo ``source`` names, or the photos in the folder it names (sorted, recursive)."""
    path = Path(source)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not found:
            raise ImageReadError(f"{path}: no photos ({', '.join(IMAGE_SUFFIXES)}) in this folder.")
        return found
    if not path.exists():
        raise ImageReadError(f"{path}: file or folder not found.")
    return [path]


def process_photos(source, out, action: str = "segment", model=None, background=None, strength: float = 15.0,
                   refine: bool = False, progress: bool = True, batch_size: int = 16, workers: int | None = None,
                   overwrite: bool = False, mirror: bool = False) -> dict:
    """Run ``action`` on every photo of ``source``; returns ``{"written": [...], "failed": {path: reason}}``.

    A folder goes through :func:`selfieseg.batch.segment_folder`: streamed, decoded in
    parallel, batched through the model, outputs in the photos' mirrored subfolders, and
    resumed (photos whose outputs exist are skipped unless ``overwrite``; the result's
    ``"skipped"`` counts them). Unreadable photos are listed in ``out/failed.tsv``.
    ``mirror``: average with the mirrored photo's prediction (see :mod:`selfieseg.inference`).
    """
    from tqdm.auto import tqdm

    from selfieseg.inference import open_segmenter
    from selfieseg.io import read_image, write_image
    from selfieseg.models import best_shipped_model

    if action not in ACTIONS:
        raise SelfieSegError(f"unknown action {action!r}; choose one of {', '.join(ACTIONS)}.")
    if Path(source).is_dir():
        from selfieseg.batch import segment_folder

        run = segment_folder(source, out, model=model, action=action, batch_size=batch_size, workers=workers,
                             overwrite=overwrite, background=background, strength=strength, refine=refine,
                             progress=progress, keep_written=True, mirror=mirror)
        return {"written": run.written, "failed": run.failed, "skipped": run.skipped}
    photos = photos_in(source)
    backdrop = read_image(background) if background is not None else None
    if action == "replace" and backdrop is None:
        raise SelfieSegError("replace needs a background image (--background IMG).")
    segmenter = open_segmenter(model or best_shipped_model(), mirror=mirror)
    out = Path(out)
    written, failed = [], {}
    inputs = photos + ([Path(background)] if background is not None else [])
    for photo in tqdm(photos, desc=action, unit="photo", disable=not progress or len(photos) < 2):
        try:
            rgb = read_image(photo)
        except ImageReadError as exc:
            if len(photos) == 1:
                raise
            failed[str(photo)] = str(exc)
            continue
        probability = segmenter.predict(rgb)
        if refine:
            probability = effects.refine_edges(rgb, probability)
        stem = out / photo.stem
        if action == "segment":
            written.append(write_image(f"{stem}_mask.png", (probability * 255 + 0.5).astype(np.uint8), inputs))
            written.append(write_image(f"{stem}_cutout.png", effects.cutout(rgb, probability), inputs))
        elif action == "blur":
            written.append(write_image(f"{stem}_blur.jpg", effects.blur_background(rgb, probability, strength), inputs))
        elif action == "grey":
            written.append(write_image(f"{stem}_grey.jpg", effects.grey_background(rgb, probability), inputs))
        else:
            written.append(write_image(f"{stem}_replaced.jpg", effects.replace_background(rgb, probability, backdrop), inputs))
    return {"written": written, "failed": failed}
