"""Segment a folder of any size: stream the files, decode in parallel, batch the model, resume.

``segment_folder("photos", "masks")`` writes, for every photo under ``photos``, the same
files as ``selfieseg segment`` (``<stem>_mask.png`` and ``<stem>_cutout.png``; or
``<stem>_blur.jpg`` / ``_grey.jpg`` / ``_replaced.jpg`` for the other actions), in the
photo's own subfolder mirrored under ``masks`` so that equal stems in different
subfolders never collide.

How it scales to a million photos:

* the folder is walked with :func:`os.scandir` as a generator (files in the order the
  directory lists them, subfolders after them, in sorted order): no list of every file is
  built, and the first batch starts at once. A second thread counts the photos (names
  only, no ``stat``) so that the progress bar gains a total and an ETA when it is done;
* photos are decoded and resized to the model's input in a thread pool (Pillow and
  OpenCV release the GIL), the model runs on batches of ``batch_size``, and masks are
  resized back, encoded and written in the same pool;
* **resume**: every output is written atomically (a temporary file moved into place), so
  an output that exists is complete. A photo whose outputs all exist is skipped without
  being decoded; run the same command again after a crash, a kill or a full disk and it
  does only what is left;
* a photo that cannot be read (or whose outputs cannot be written) is reported in
  ``failed.tsv`` in the output folder (path, reason) and the run goes on; ``summary.json``
  holds the counts. A full disk (``ENOSPC``/``EDQUOT``) stops the run with
  :class:`DiskFullError`: what was written is complete, nothing is half-written;
* an output never replaces an input: an output folder inside the input folder is refused
  (:class:`OutputFolderError`).

The masks are those of ``Segmenter.predict`` photo by photo: the same ``_prepare`` and
``_restore``; only the model call sees a batch, which changes float round-off (below
1e-6), so a mask pixel may differ by at most one grey level.
"""

from __future__ import annotations

import collections
import csv
import errno
import io
import json
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from selfieseg import effects
from selfieseg.errors import DiskFullError, ImageReadError, OutputFolderError, SelfieSegError
from selfieseg.io import IMAGE_SUFFIXES, atomic_path, read_image, write_image

#: what each action writes: the names' suffixes after the photo's stem
OUTPUTS = {
    "segment": ("_mask.png", "_cutout.png"),
    "blur": ("_blur.jpg",),
    "grey": ("_grey.jpg",),
    "replace": ("_replaced.jpg",),
}
FAILED_FILE = "failed.tsv"
SUMMARY_FILE = "summary.json"
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


# --------------------------------------------------------------------------- walking


def _is_photo(name: str, suffixes) -> bool:
    return not name.startswith(".") and name.lower().endswith(suffixes)


def iter_photos(root, suffixes=IMAGE_SUFFIXES) -> Iterator[Path]:
    """Every photo under ``root``, streamed: a generator over :func:`os.scandir`.

    Files come in the order their directory lists them (stable for an unchanged folder),
    then the subfolders, each in sorted order. Hidden files and folders (``.name``) are
    left out, and symbolic links to folders are not followed (no cycles).
    """
    suffixes = tuple(s.lower() for s in suffixes)
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        subfolders = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            subfolders.append(entry.name)
                        elif _is_photo(entry.name, suffixes) and entry.is_file():
                            yield Path(entry.path)
                    except OSError:  # an entry that vanished or cannot be stat'ed
                        continue
        except OSError:  # a subfolder that cannot be listed (permissions): skip it
            if folder == Path(root):
                raise
            continue
        stack.extend(folder / name for name in sorted(subfolders, reverse=True))


def count_photos(root, suffixes=IMAGE_SUFFIXES, stop: threading.Event | None = None) -> int:
    """How many photos :func:`iter_photos` will yield (names only: cheap next to decoding)."""
    count = 0
    for _ in iter_photos(root, suffixes):
        count += 1
        if stop is not None and count % 4096 == 0 and stop.is_set():
            break
    return count


def check_output_folder(source, out) -> None:
    """Refuse an output folder that is the input folder or inside it."""
    source, out = Path(source).resolve(), Path(out).resolve()
    if out == source or source in out.parents:
        raise OutputFolderError(
            f"{out}: the output folder is inside the input folder {source}; its outputs would be mixed with "
            "the photos (and read as photos by the next run). Choose an output folder outside it."
        )


# --------------------------------------------------------------------------- the model


class _Batcher:
    """A segmenter's own pre/post-processing around a batched model call.

    Keras ``Segmenter``: one call on the whole batch. ``TFLiteSegmenter`` / ``OnnxSegmenter``
    (fixed batch of one in the exported file): one call per photo, still with parallel
    decoding and writing. Anything else with ``.predict``: ``predict`` per photo.
    """

    def __init__(self, segmenter):
        self.segmenter = segmenter
        self.resizing = all(hasattr(segmenter, name) for name in ("_prepare", "_restore", "input_hw"))
        self.kind = "predict"
        if self.resizing and hasattr(segmenter, "_forward"):
            self.kind = "keras"
        elif self.resizing and hasattr(segmenter, "run_each"):  # an exported file: TFLite or ONNX
            self.kind = "file"
        if self.kind == "predict":
            self.resizing = False
        self.calls = 0  # model calls made (what tests count)

    def prepare(self, rgb: np.ndarray) -> np.ndarray | None:
        """The model's input for one photo (worker threads), or None where predict does it all."""
        return self.segmenter._prepare(rgb)[0] if self.resizing else None

    def forward(self, inputs: list, images: list) -> list:
        """Raw outputs, one per photo (``1xhxwx1`` at the model's size, or ``HxW`` for predict)."""
        seg = self.segmenter
        if self.kind == "keras":
            self.calls += 1
            out = seg._merge_mirrored(seg._forward(seg._with_mirrored(np.stack(inputs))))
            return [out[k : k + 1] for k in range(len(inputs))]
        results = []
        for x, rgb in zip(inputs, images):
            self.calls += 1
            if self.kind == "file":
                results.append(seg.run_each(x[None]))
            else:
                results.append(seg.predict(rgb))
        return results

    def restore(self, raw, shape) -> np.ndarray:
        return self.segmenter._restore(raw, shape) if self.resizing else np.asarray(raw, np.float32)


# --------------------------------------------------------------------------- the run


@dataclass
class FolderRun:
    """What :func:`segment_folder` did. ``written`` holds paths only with ``keep_written=True``."""

    source: Path
    out: Path
    action: str
    model: str
    seen: int = 0
    processed: int = 0
    skipped: int = 0
    failed: dict = field(default_factory=dict)
    written: list = field(default_factory=list)
    files_written: int = 0
    model_calls: int = 0
    seconds: float = 0.0
    complete: bool = False
    stopped: str | None = None
    #: seconds from the start until the first photo was done (Ray: starting actors, loading models)
    startup_seconds: float | None = None

    @property
    def photos_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict:
        return {
            "source": str(self.source), "out": str(self.out), "action": self.action, "model": self.model,
            "photos_seen": self.seen, "processed": self.processed, "skipped_done": self.skipped,
            "failed": len(self.failed), "files_written": self.files_written, "model_calls": self.model_calls,
            "seconds": round(self.seconds, 3), "photos_per_second": round(self.photos_per_second, 2),
            "complete": self.complete, "stopped": self.stopped, "failed_list": FAILED_FILE,
            **({} if self.startup_seconds is None else {"startup_seconds": round(self.startup_seconds, 3),
                                                        "steady_photos_per_second": round(self.steady_rate, 2)}),
        }

    @property
    def steady_rate(self) -> float:
        """Photos per second after the first was done: the rate a long run settles at."""
        if self.startup_seconds is None or self.seconds <= self.startup_seconds or self.processed < 2:
            return self.photos_per_second
        return (self.processed - 1) / (self.seconds - self.startup_seconds)


def output_paths(photo: Path, source: Path, out: Path, action: str) -> list[Path]:
    """Where ``photo``'s outputs go: its subfolder of ``source`` mirrored under ``out``."""
    folder = out / photo.parent.relative_to(source)
    return [folder / f"{photo.stem}{suffix}" for suffix in OUTPUTS[action]]


def is_done(paths) -> bool:
    """A photo is done when each of its outputs exists and is not empty.

    Outputs are only ever moved into place complete (:func:`selfieseg.io.atomic_path`), so
    a present file is a complete one; a run killed between a photo's two files redoes it.
    """
    try:
        return all(os.stat(path).st_size > 0 for path in paths)
    except OSError:
        return False


def _effect(action: str, rgb, probability, strength, backdrop) -> list:
    if action == "segment":
        return [(probability * 255 + 0.5).astype(np.uint8), effects.cutout(rgb, probability)]
    if action == "blur":
        return [effects.blur_background(rgb, probability, strength)]
    if action == "grey":
        return [effects.grey_background(rgb, probability)]
    return [effects.replace_background(rgb, probability, backdrop)]


def _write_table(path: Path, failed: dict) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["path", "reason"])
    for photo, reason in failed.items():
        writer.writerow([photo, reason])
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())


def _write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def input_guard(source: Path, out: Path) -> Path | None:
    """The input folder when ``out`` lies inside it (no output may land in it), else None."""
    source_abs, out_abs = source.resolve(), out.resolve()
    return source_abs if out_abs in source_abs.parents else None


def decode_photo(photo: Path, paths, batcher: _Batcher, overwrite: bool = False, guard: Path | None = None):
    """(status, rgb or reason, model input) for one photo: the first step of every batch.

    ``"skipped"`` when its outputs are all there (resume), ``"failed"`` with the reason
    when it cannot be read or would write into the input folder, else ``"ok"``.
    """
    if not overwrite and is_done(paths):
        return "skipped", None, None
    if guard is not None and any(guard == p or guard in p.parents for p in (q.resolve() for q in paths)):
        return "failed", f"{photo}: its output would be written inside the input folder {guard}; skipped.", None
    try:
        rgb = read_image(photo)
    except ImageReadError as exc:
        return "failed", str(exc), None
    return "ok", rgb, batcher.prepare(rgb)


def write_outputs(photo: Path, paths, rgb, raw, batcher: _Batcher, action: str = "segment", refine: bool = False,
                  strength: float = 15.0, backdrop=None, extra_inputs=()) -> list[Path]:
    """The last step: the model's raw output back to the photo's size, its effect, written atomically."""
    probability = batcher.restore(raw, rgb.shape)
    if refine:
        probability = effects.refine_edges(rgb, probability)
    done = []
    for path, array in zip(paths, _effect(action, rgb, probability, strength, backdrop)):
        done.append(write_image(path, array, (photo, *extra_inputs)))
    return done


class BatchOfPhotos:
    """Segment one batch of photos into ``out``: the unit of work of a folder run.

    :func:`segment_folder` runs these same steps (:func:`decode_photo`, one batched model
    call, :func:`write_outputs`) in a streaming thread pool; :mod:`selfieseg.scale` calls
    an instance in every Ray actor, with the model loaded once per actor. Calling it with a
    list of photo paths returns one ``(path, status, detail)`` row per photo: status
    ``"written"``, ``"skipped"`` (already done) or ``"failed"`` (detail: the reason). A full
    disk raises :class:`DiskFullError`, as in a single process.
    """

    def __init__(self, segmenter, source, out, action: str = "segment", overwrite: bool = False, background=None,
                 strength: float = 15.0, refine: bool = False):
        if action not in OUTPUTS:
            raise SelfieSegError(f"unknown action {action!r}; choose one of {', '.join(OUTPUTS)}.")
        self.batcher = _Batcher(segmenter)
        self.source, self.out, self.action = Path(source), Path(out), action
        self.overwrite, self.strength, self.refine = overwrite, strength, refine
        self.backdrop = read_image(background) if background is not None else None
        self.extra_inputs = (Path(background),) if background is not None else ()
        self.guard = input_guard(self.source, self.out)

    def __call__(self, photos) -> list[tuple[str, str, str]]:
        rows, ready = [], []
        for photo in map(Path, photos):
            paths = output_paths(photo, self.source, self.out, self.action)
            status, value, x = decode_photo(photo, paths, self.batcher, self.overwrite, self.guard)
            if status == "ok":
                ready.append((photo, paths, value, x))
            else:
                rows.append((str(photo), status, value or ""))
        if ready:
            raws = self.batcher.forward([item[3] for item in ready], [item[2] for item in ready])
            for (photo, paths, rgb, _), raw in zip(ready, raws):
                try:
                    write_outputs(photo, paths, rgb, raw, self.batcher, self.action, self.refine, self.strength,
                                  self.backdrop, self.extra_inputs)
                except OSError as exc:
                    if exc.errno in _DISK_FULL:
                        raise DiskFullError(f"{self.out}: disk full while writing the outputs of {photo} "
                                            f"({exc.strerror or exc}). Every output written is complete; free some "
                                            "space and run again: it resumes.") from exc
                    rows.append((str(photo), "failed", f"{photo}: could not write its outputs ({exc})."))
                    continue
                except SelfieSegError as exc:
                    rows.append((str(photo), "failed", str(exc)))
                    continue
                rows.append((str(photo), "written", ""))
        return rows


def segment_folder(source, out, model=None, action: str = "segment", batch_size: int = 16, workers: int | None = None,
                   overwrite: bool = False, background=None, strength: float = 15.0, refine: bool = False,
                   progress: bool = True, keep_written: bool = False,
                   on_photo: Callable[[Path, str], None] | None = None, mirror: bool = False) -> FolderRun:
    """Segment (or blur, grey, replace the background of) every photo under ``source`` into ``out``.

    ``model``: a segmenter, anything :func:`selfieseg.inference.open_segmenter` takes (name,
    ``.keras``, ``.tflite``, ``.onnx``), or None for the best shipped model. Photos whose
    outputs all exist are skipped unless ``overwrite``. Unreadable photos go to
    ``out/failed.tsv``; counts go to ``out/summary.json``. ``on_photo(photo, status)`` is
    called with ``"written"``, ``"skipped"`` or ``"failed"`` for each photo. ``mirror``:
    average each photo's prediction with its mirror image's (twice the model time; see
    :mod:`selfieseg.inference`). Raises :class:`OutputFolderError` for an output folder inside ``source``,
    :class:`ImageReadError` for a folder without photos, and :class:`DiskFullError` when the
    disk fills up (run the same call again once there is room: it resumes).
    """
    from tqdm.auto import tqdm

    if action not in OUTPUTS:
        raise SelfieSegError(f"unknown action {action!r}; choose one of {', '.join(OUTPUTS)}.")
    if batch_size < 1:
        raise SelfieSegError(f"batch_size must be at least 1, got {batch_size}.")
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise ImageReadError(f"{source}: folder not found.")
    check_output_folder(source, out)
    backdrop = read_image(background) if background is not None else None
    if action == "replace" and backdrop is None:
        raise SelfieSegError("replace needs a background image (--background IMG).")

    photos = iter_photos(source)
    first = next(photos, None)
    if first is None:
        raise ImageReadError(f"{source}: no photos ({', '.join(IMAGE_SUFFIXES)}) in this folder.")

    from selfieseg.inference import open_segmenter
    from selfieseg.models import best_shipped_model

    segmenter = open_segmenter(model or best_shipped_model(), mirror=mirror)  # a segmenter given is kept as is
    batcher = _Batcher(segmenter)
    run = FolderRun(source, out, action, str(getattr(segmenter, "name", type(segmenter).__name__)))
    out.mkdir(parents=True, exist_ok=True)
    # an input folder inside the output folder is fine, but no output may land inside it
    guard = input_guard(source, out)
    extra_inputs = (Path(background),) if background is not None else ()

    workers = workers or min(8, (os.cpu_count() or 2) + 2)
    prefetch = 2 * batch_size + workers
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="selfieseg-batch")
    decoding: collections.deque = collections.deque()  # (photo, paths, future) in walk order
    writing: collections.deque = collections.deque()  # (photo, future)
    batch: list = []  # (photo, paths, rgb, x)

    stop_count = threading.Event()
    total = {"n": None}
    if progress:
        def counter():
            total["n"] = count_photos(source, stop=stop_count)

        threading.Thread(target=counter, name="selfieseg-count", daemon=True).start()
    bar = tqdm(desc=action, unit="photo", disable=not progress, dynamic_ncols=True, smoothing=0.05)

    def tick(photo, status):
        if total["n"] is not None and bar.total is None:
            bar.total = total["n"]
            bar.refresh()
        bar.update(1)
        if status == "failed" or bar.n % 64 == 0:
            bar.set_postfix(done=run.processed, skipped=run.skipped, failed=len(run.failed), refresh=False)
        if on_photo is not None:
            on_photo(photo, status)

    def decode(photo, paths):
        return decode_photo(photo, paths, batcher, overwrite, guard)

    def write(photo, paths, rgb, raw):
        return write_outputs(photo, paths, rgb, raw, batcher, action, refine, strength, backdrop, extra_inputs)

    def finish_write(photo, future: Future):
        try:
            done = future.result()
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise DiskFullError(
                    f"{out}: disk full while writing the outputs of {photo} ({exc.strerror or exc}). Every output "
                    "written is complete; free some space and run the same command again: it resumes."
                ) from exc
            run.failed[str(photo)] = f"{photo}: could not write its outputs ({exc})."
            tick(photo, "failed")
            return
        except SelfieSegError as exc:
            run.failed[str(photo)] = str(exc)
            tick(photo, "failed")
            return
        run.processed += 1
        run.files_written += len(done)
        if keep_written:
            run.written.extend(done)
        tick(photo, "written")

    def drain_writes(limit: int):
        while len(writing) > limit or (writing and writing[0][1].done()):
            finish_write(*writing.popleft())

    def run_batch():
        if not batch:
            return
        raws = batcher.forward([item[3] for item in batch], [item[2] for item in batch])
        for (photo, paths, rgb, _), raw in zip(batch, raws):
            writing.append((photo, pool.submit(write, photo, paths, rgb, raw)))
        batch.clear()
        drain_writes(2 * batch_size)

    def take(photo, paths, future):
        status, value, x = future.result()
        if status == "skipped":
            run.skipped += 1
            tick(photo, "skipped")
        elif status == "failed":
            run.failed[str(photo)] = value
            tick(photo, "failed")
        else:
            batch.append((photo, paths, value, x))
            if len(batch) >= batch_size:
                run_batch()

    start = time.perf_counter()
    folder, stems = None, {}  # a folder's files come together: its stems so far, to catch a.jpg beside a.png
    try:
        for photo in _chain(first, photos):
            run.seen += 1
            if photo.parent != folder:
                folder, stems = photo.parent, {}
            if photo.stem in stems:
                run.failed[str(photo)] = (f"{photo}: {stems[photo.stem]} in the same folder has the same name "
                                          "stem, so their outputs would overwrite each other; rename one of them.")
                tick(photo, "failed")
                continue
            stems[photo.stem] = photo.name
            paths = output_paths(photo, source, out, action)
            decoding.append((photo, paths, pool.submit(decode, photo, paths)))
            while len(decoding) >= prefetch:
                take(*decoding.popleft())
        while decoding:
            take(*decoding.popleft())
        run_batch()
        drain_writes(0)
        run.complete = True
    except DiskFullError as exc:
        run.stopped = str(exc)
        raise
    except BaseException as exc:  # KeyboardInterrupt included: say why in summary.json, then re-raise
        run.stopped = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        stop_count.set()
        for _, _, future in decoding:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if not run.complete:  # count what finished before the stop (its files are in place)
            for _photo, future in writing:
                if future.done() and not future.cancelled() and future.exception() is None:
                    run.processed += 1
                    run.files_written += len(future.result())
        run.seconds = time.perf_counter() - start
        run.model_calls = batcher.calls
        bar.set_postfix(done=run.processed, skipped=run.skipped, failed=len(run.failed), refresh=False)
        bar.close()
        try:  # best effort: on a full disk these may not fit either
            _write_table(out / FAILED_FILE, run.failed)
            _write_json(out / SUMMARY_FILE, run.summary())
        except OSError:
            pass
    return run


def _chain(first, rest):
    yield first
    yield from rest


__all__ = ["BatchOfPhotos", "DiskFullError", "FolderRun", "OUTPUTS", "OutputFolderError", "check_output_folder",
           "count_photos", "decode_photo", "input_guard", "is_done", "iter_photos", "output_paths", "segment_folder",
           "write_outputs"]
