"""Folder segmentation throughput: the old one-photo-at-a-time loop against the batched, streamed segmenter.

Both write the same files (``<stem>_mask.png`` and ``<stem>_cutout.png``) for the same
PicsArt selfies with the same loaded model; each is warmed up first (the model traced at
batch 1 and at the batch size) so that neither pays a one-off compile in its time. A
third row times a rerun over the finished output folder (every photo skipped as done).

    python benchmarks/batch.py [--photos 300] [--models sinet,portraitnet] [--batch-size 16]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402


def old_loop(photos, out, segmenter) -> float:
    """What ``process_photos`` did before ``selfieseg.batch``: read, predict, write, one photo at a time."""
    from selfieseg import effects
    from selfieseg.errors import ImageReadError
    from selfieseg.io import read_image, write_image

    start = time.perf_counter()
    for photo in photos:
        try:
            rgb = read_image(photo)
        except ImageReadError:
            continue
        probability = segmenter.predict(rgb)
        stem = out / photo.stem
        write_image(f"{stem}_mask.png", (probability * 255 + 0.5).astype(np.uint8), [photo])
        write_image(f"{stem}_cutout.png", effects.cutout(rgb, probability), [photo])
    return time.perf_counter() - start


def main() -> None:
    args = _common.parser(__doc__, limit=False)
    args.add_argument("--photos", type=int, default=300)
    args.add_argument("--models", default="sinet,portraitnet")
    args.add_argument("--batch-size", type=int, default=16)
    args.add_argument("--workers", type=int, default=None)
    options = args.parse_args()

    from selfieseg.batch import segment_folder
    from selfieseg.inference import Segmenter
    from selfieseg.io import read_mask

    data = Path(os.environ.get("SELFIESEG_DATA", "../shared/data")) / "picsart" / "train"
    photos = sorted(data.glob("*.jpg"))[: options.photos]
    if len(photos) < options.photos:
        raise SystemExit(f"{data}: {len(photos)} photos, fewer than --photos {options.photos}.")
    names = [name.strip() for name in options.models.split(",") if name.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="selfieseg-batch-bench-") as tmp:
        tmp = Path(tmp)
        source = tmp / "photos"
        source.mkdir()
        for photo in photos:  # links, not copies: the data stays where it is
            (source / photo.name).symlink_to(photo)
        listed = sorted(source.iterdir())
        for name in names:
            segmenter = Segmenter(name)
            warm = [p for p in listed[: options.batch_size]]
            old_loop(warm[:2], tmp / "warm_old", segmenter)
            segment_folder(source, tmp / "warm_new", model=segmenter, batch_size=options.batch_size, progress=False,
                           workers=options.workers)  # also traces the remainder batch
            shutil.rmtree(tmp / "warm_old")
            shutil.rmtree(tmp / "warm_new")

            old_out, new_out = tmp / f"{name}_old", tmp / f"{name}_new"
            old_out.mkdir()
            old_seconds = old_loop(listed, old_out, segmenter)
            run = segment_folder(source, new_out, model=segmenter, batch_size=options.batch_size, progress=False,
                                 workers=options.workers)
            rerun = segment_folder(source, new_out, model=segmenter, batch_size=options.batch_size, progress=False,
                                   workers=options.workers)
            assert run.processed == len(photos) and rerun.skipped == len(photos) and rerun.model_calls == 0
            worst = max(int(np.abs(read_mask(old_out / f"{p.stem}_mask.png").astype(int)
                                   - read_mask(new_out / f"{p.stem}_mask.png").astype(int)).max()) for p in listed)
            old_rate = len(photos) / old_seconds
            rows.append((name, "old loop (one photo at a time)", old_seconds, old_rate, 1.0, "-"))
            rows.append((name, f"batched (batch {options.batch_size}, {run.summary()['model_calls']} model calls)",
                         run.seconds, run.photos_per_second, run.photos_per_second / old_rate, str(worst)))
            rows.append((name, "rerun, all done (resume check)", rerun.seconds, len(photos) / rerun.seconds,
                         len(photos) / rerun.seconds / old_rate, "-"))

    cores = os.cpu_count()
    lines = [
        "# Folder segmentation: one at a time vs batched",
        "",
        f"{len(photos)} PicsArt selfies (240x320 JPEG), `<stem>_mask.png` + `<stem>_cutout.png` each; "
        f"{cores} CPU cores (shared), TensorFlow CPU. {_common.run_line(names)}",
        "",
        "| model | pipeline | seconds | photos/s | speed-up | max mask diff (grey levels) vs old |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {m} | {what} | {sec:.2f} | {rate:.1f} | {up:.2f}x | {diff} |" for m, what, sec, rate, up, diff in rows]
    lines += ["", "Reproduce: `python benchmarks/batch.py --photos 300`."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "batch.md").write_text(text)


if __name__ == "__main__":
    main()
