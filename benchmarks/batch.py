"""Folder segmentation throughput: the old one-photo-at-a-time loop against the batched, streamed segmenter.

Both write the same files (``<stem>_mask.png`` and ``<stem>_cutout.png``) for the same
PicsArt selfies with the same loaded model; each is warmed up first (the model traced at
batch 1 and at the batch size) so that neither pays a one-off compile in its time. A
third row times a rerun over the finished output folder (every photo skipped as done).

Then, for the first model exported to LiteRT (what every Ray actor loads), the batched
command on that file and :func:`selfieseg.scale.segment_folder_ray` with 1 and 2 actors on
a local Ray of 2 CPUs, all in the same run. Ray's own start (``ray.init``) is timed on its
own row; each Ray row includes starting its actors and loading the model in each, as a
real run does. From the 2-actor row comes a per-actor rate and the paper estimate for a
cluster printed under the table, with its assumptions.

    python benchmarks/batch.py [--photos 300] [--models sinet,portraitnet] [--batch-size 16] [--ray-workers 1,2]
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


def ray_rows_for(name, source, tmp, options, count):
    """Rows for the LiteRT file: the batched command, Ray's start, and Ray with each actor count."""
    counts = [int(n) for n in options.ray_workers.split(",") if n.strip()]
    if not counts:
        return [], []
    try:
        import ray  # noqa: F401
    except ImportError:
        return [], ["Ray rows left out: Ray is not installed (pip install 'selfieseg[scale]')."]
    from selfieseg.batch import segment_folder
    from selfieseg.export import export
    from selfieseg.scale import segment_folder_ray

    model = export(name, tmp / f"{name}.tflite")
    segment_folder(source, tmp / "warm_tflite", model=model, batch_size=options.batch_size, progress=False)
    single = segment_folder(source, tmp / "tflite_single", model=model, batch_size=options.batch_size,
                            progress=False, workers=options.workers)
    base = single.photos_per_second
    rows = [(f"{name}.tflite", "batched command, one process (LiteRT)", single.seconds, base, 1.0, "-")]
    from selfieseg.scale import ray_session

    start = time.perf_counter()
    session = ray_session(None, num_cpus=2)  # the library's own start: quiet, local, 2 CPUs
    session.__enter__()
    started = time.perf_counter() - start
    rows.append((f"{name}.tflite", "ray.init, local, 2 CPUs (once per session)", started, 0.0, 0.0, "-"))
    per_actor = None
    try:
        for workers in counts:
            out = tmp / f"ray_{workers}"
            run = segment_folder_ray(source, out, model=model, workers=workers, batch_size=options.batch_size,
                                     progress=False)
            assert run.processed == count, run.summary()
            rows.append((f"{name}.tflite", f"Ray Data, {workers} actor(s), actor start included", run.seconds,
                         run.photos_per_second, run.photos_per_second / base, "-"))
            rows.append((f"{name}.tflite", f"  the same after its first photo ({run.startup_seconds:.1f} s to start "
                         f"actors and load the model)", run.seconds - run.startup_seconds, run.steady_rate,
                         run.steady_rate / base, "-"))
            per_actor = run.steady_rate / workers
    finally:
        session.__exit__(None, None, None)
    photos, nodes, cores = 1_000_000, 100, 16
    hours = photos / (per_actor * nodes * cores) / 3600
    estimate = [
        f"On paper, a cluster: {nodes} nodes x {cores} cores, one actor per core, each at this run's "
        f"{per_actor:.1f} photos/s per actor (the {counts[-1]}-actor rate after start-up, divided by {counts[-1]}), gives "
        f"{per_actor * nodes * cores:,.0f} photos/s: a million photos in {hours * 60:.0f} minutes. Assumptions: "
        "photos of this size (240x320; a 12-megapixel photo costs ~50x more to decode and write), the input and "
        "output on storage that keeps up (about 100 MB/s per node for these files), actors started once "
        "(their start is in the rows above but vanishes in a long run), no straggler nodes, and cores as busy as "
        "these were (a training run and a test suite shared this machine's 2 cores during the run).",
    ]
    return rows, estimate


def main() -> None:
    args = _common.parser(__doc__, limit=False)
    args.add_argument("--photos", type=int, default=300)
    args.add_argument("--models", default="sinet,portraitnet")
    args.add_argument("--batch-size", type=int, default=16)
    args.add_argument("--workers", type=int, default=None)
    args.add_argument("--ray-workers", default="1,2", help="actor counts to time on a local Ray ('' to skip)")
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

        ray_rows, estimate = ray_rows_for(names[0], source, tmp, options, len(photos))
        rows += ray_rows

    cores = os.cpu_count()
    lines = [
        "# Folder segmentation: one at a time, batched, and on Ray",
        "",
        f"{len(photos)} PicsArt selfies (240x320 JPEG), `<stem>_mask.png` + `<stem>_cutout.png` each; "
        f"{cores} CPU cores (shared), TensorFlow CPU. {_common.run_line(names)}",
        "",
        "| model | pipeline | seconds | photos/s | speed-up (vs the first row of its model) | max mask diff (grey levels) vs old |",
        "|---|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {m} | {what} | {sec:.2f} | {f'{rate:.1f}' if rate else '-'} | {f'{up:.2f}x' if up else '-'} | {diff} |"
              for m, what, sec, rate, up, diff in rows]
    lines += ["", *estimate, "", "Reproduce: `python benchmarks/batch.py --photos 300`."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    _common.write_result(out / "batch.md", text)


if __name__ == "__main__":
    main()
