"""Segment a folder on a Ray cluster: the folder run's own per-batch step, in an actor pool.

``segment_folder_ray("photos", "masks", model="sinet.tflite", workers=8)`` writes exactly
what :func:`selfieseg.batch.segment_folder` writes (the same ``<stem>_mask.png`` and
``<stem>_cutout.png`` files in mirrored subfolders, the same ``failed.tsv`` and
``summary.json``), but runs the per-batch step, :class:`selfieseg.batch.BatchOfPhotos`,
inside a `Ray Data <https://docs.ray.io/en/latest/data/data.html>`_ pipeline:

1. the driver walks the folder (streamed, :func:`selfieseg.batch.iter_photos`), refuses
   stem collisions as the single-process run does, and leaves out photos whose outputs
   are complete (so a restarted run schedules only what is left);
2. ``map_batches`` hands batches of paths to a pool of actors, each holding one LiteRT
   interpreter (the model is loaded once per actor, not once per batch); an actor decodes
   its photos, runs the model and writes every output atomically, then returns a row per
   photo (written / skipped / failed and why);
3. the driver counts the rows into one progress bar and the summary files.

Ray Data streams: blocks of paths flow to actors as they free up, and back-pressure keeps
no more than a few batches in flight per actor, so memory does not grow with the folder.
The driver holds only the list of paths still to do (about 100 bytes each: 100 MB for a
million photos).

The model: an exported ``.tflite`` (or ``.onnx``) file is used as it is; a model name or
``.keras`` file is exported once to LiteRT (:func:`selfieseg.export.export`) into
``OUT/.selfieseg-model/`` and that file is what every actor loads. On a cluster, the
input and output folders must be on storage every node sees (NFS, a mounted bucket) and
``selfieseg`` must be installed on every node (the same environment, or Ray's
``runtime_env``).

Ray is an optional dependency: ``pip install "selfieseg[scale]"``. Starting a local
instance takes a few seconds; a cluster is reached by ``address`` (``"host:6379"`` or
``"ray://host:10001"``), which is checked with a plain TCP connection first, so an
address that does not answer fails in seconds with the address in the message instead of
Ray's own minute-long retries.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import warnings
from pathlib import Path

import numpy as np

from selfieseg.batch import (
    FAILED_FILE,
    OUTPUTS,
    SUMMARY_FILE,
    BatchOfPhotos,
    FolderRun,
    _write_json,
    _write_table,
    check_output_folder,
    is_done,
    iter_photos,
    output_paths,
)
from selfieseg.errors import ClusterError, DiskFullError, ImageReadError, SelfieSegError
from selfieseg.io import IMAGE_SUFFIXES

MODEL_FOLDER = ".selfieseg-model"
DEFAULT_RAY_PORT = 6379


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ClusterError("Ray is not installed: pip install 'selfieseg[scale]' (or pip install 'ray[data]').") from None
    return ray


def check_address(address: str, timeout: float = 5.0) -> None:
    """Fail in ``timeout`` seconds, naming ``address``, when nothing listens there.

    ``"auto"`` and ``None`` (Ray finds the cluster itself, from ``RAY_ADDRESS``) are not
    checked. A ``ray://`` address is Ray Client's port (10001 by default); a bare
    ``host:port`` is the cluster's head (6379 by default).
    """
    if address in (None, "", "auto", "local"):
        return
    text = address.split("://", 1)[1] if "://" in address else address
    host, _, port = text.rpartition(":")
    if not host:
        host, port = text, str(10001 if address.startswith("ray://") else DEFAULT_RAY_PORT)
    try:
        port_number = int(port)
    except ValueError:
        raise ClusterError(f"Ray address {address!r}: expected host:port or ray://host:port.") from None
    try:
        with socket.create_connection((host.strip("[]"), port_number), timeout=timeout):
            pass
    except OSError as exc:
        raise ClusterError(f"the Ray cluster at {address} does not answer ({exc.strerror or exc}); start it with "
                           "`ray start --head` there, or check the address and that its port is open.") from None


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None):
    """Ray, connected to ``address`` (a cluster) or to a new local instance of ``num_cpus``.

    A session this call started is shut down when the block ends; one that was already
    running (a notebook's own ``ray.init``) is left as it was. Ray's own log lines stay in
    its session folder instead of the terminal.
    """
    ray = _ray()
    started = not ray.is_initialized()
    if started:
        local = address in (None, "", "local")
        check_address(None if local else address)
        options = dict(log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False)
        # Ray's C++ core logs to the terminal at "info" and warns on every map_batches run
        # that an actor pool's arguments live in its object store; its errors reach us as
        # Python exceptions anyway. Asked for only while Ray starts; a user's own setting wins.
        saved = os.environ.get("RAY_BACKEND_LOG_LEVEL")
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        from selfieseg.quiet import filtered_stderr

        try:
            with filtered_stderr():  # C++ start-up lines; a real error is replayed
                if local:
                    ray.init(num_cpus=num_cpus, **options)
                else:
                    ray.init(address=address, **options)
        except ClusterError:
            raise
        except Exception as exc:
            where = "a local Ray instance" if local else f"the Ray cluster at {address}"
            raise ClusterError(f"could not start or join {where}: {str(exc).splitlines()[0][:200]}") from None
        finally:
            if saved is None:
                os.environ.pop("RAY_BACKEND_LOG_LEVEL", None)
    for name in ("ray", "ray.data"):  # their per-dataset INFO lines and warnings
        logging.getLogger(name).setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the run shows its own bar
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def exported_model(model, out: Path) -> Path:
    """The LiteRT (or ONNX) file every actor loads: ``model`` itself when it is one, else
    ``model`` exported once into ``out/.selfieseg-model/`` (reused by a restarted run)."""
    if model is None:
        from selfieseg.models import fastest_shipped_model

        model = fastest_shipped_model()
    path = Path(str(model))
    if path.suffix.lower() in (".tflite", ".onnx"):
        if not path.is_file():
            raise ImageReadError(f"{path}: model file not found.")
        return path.resolve()
    from selfieseg.export import export

    name = path.stem if path.suffix else str(model)
    target = out / MODEL_FOLDER / f"{name.replace('.weights', '')}.tflite"
    if not (target.is_file() and target.stat().st_size > 0):
        target.parent.mkdir(parents=True, exist_ok=True)
        export(str(model), target)
    return target.resolve()


class _PhotoActor:
    """One Ray actor: a loaded model and :class:`~selfieseg.batch.BatchOfPhotos` around it.

    Its settings are a class attribute of a subclass made per run (:func:`_actor_class`),
    not constructor arguments: Ray keeps constructor arguments in its object store and
    warns on every run that a restarted actor could lose them.
    """

    settings: dict = {}

    def __init__(self):
        from selfieseg.inference import open_segmenter

        settings = dict(self.settings)
        # its log stays in Ray's worker log, not the terminal
        segmenter = open_segmenter(settings.pop("model_path"), threads=settings.pop("threads"),
                                   mirror=settings.pop("mirror"))
        self.work = BatchOfPhotos(segmenter, **settings)

    def __call__(self, batch: dict) -> dict:
        rows = self.work([str(path) for path in batch["path"]])
        return {"path": np.array([row[0] for row in rows], dtype=object),
                "status": np.array([row[1] for row in rows], dtype=object),
                "detail": np.array([row[2] for row in rows], dtype=object)}


def _actor_class(**settings) -> type:
    return type("PhotoActor", (_PhotoActor,), {"settings": settings, "__module__": __name__})


def _pending(source: Path, out: Path, action: str, overwrite: bool, run: FolderRun, tick) -> list[str]:
    """Photos still to do, in walk order; finished ones and stem collisions are counted here."""
    pending, folder, stems = [], None, {}
    for photo in iter_photos(source, IMAGE_SUFFIXES):
        run.seen += 1
        if photo.parent != folder:
            folder, stems = photo.parent, {}
        if photo.stem in stems:
            run.failed[str(photo)] = (f"{photo}: {stems[photo.stem]} in the same folder has the same name stem, so "
                                      "their outputs would overwrite each other; rename one of them.")
            tick("failed")
            continue
        stems[photo.stem] = photo.name
        if not overwrite and is_done(output_paths(photo, source, out, action)):
            run.skipped += 1
            tick("skipped")
            continue
        pending.append(str(photo))
    return pending


def segment_folder_ray(source, out, model=None, action: str = "segment", workers: int = 2, batch_size: int = 16,
                       address: str | None = None, num_cpus: int | None = None, overwrite: bool = False,
                       background=None, strength: float = 15.0, refine: bool = False, threads: int = 1,
                       progress: bool = True, mirror: bool = False) -> FolderRun:
    """:func:`selfieseg.batch.segment_folder`, run by ``workers`` Ray actors.

    ``address``: ``None`` or ``"local"`` starts a local Ray of ``num_cpus`` CPUs (default:
    all); ``"auto"`` joins the cluster ``RAY_ADDRESS`` names; ``"host:port"`` or
    ``"ray://host:port"`` joins that one. Each actor reserves one CPU and runs its model
    on ``threads`` threads. Returns the run's :class:`~selfieseg.batch.FolderRun`;
    ``summary.json`` adds ``"engine": "ray"`` and the actor count. ``mirror``: as in
    :func:`~selfieseg.batch.segment_folder`.
    """
    from tqdm.auto import tqdm

    if action not in OUTPUTS:
        raise SelfieSegError(f"unknown action {action!r}; choose one of {', '.join(OUTPUTS)}.")
    if int(workers) < 1 or int(batch_size) < 1:
        raise SelfieSegError(f"workers and batch_size must be at least 1, got {workers} and {batch_size}.")
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise ImageReadError(f"{source}: folder not found.")
    check_output_folder(source, out)
    if action == "replace" and background is None:
        raise SelfieSegError("replace needs a background image (--background IMG).")
    if address not in (None, "", "local", "auto"):
        check_address(address)  # before any export or walk: a wrong address fails in seconds
    _ray()
    out.mkdir(parents=True, exist_ok=True)
    model_path = exported_model(model, out)
    run = FolderRun(source, out, action, model_path.stem)
    bar = tqdm(desc=f"{action} (ray, {workers} workers)", unit="photo", disable=not progress, dynamic_ncols=True)

    def tick(status):
        bar.update(1)
        if status == "failed":
            bar.set_postfix(done=run.processed, skipped=run.skipped, failed=len(run.failed), refresh=False)

    start = time.perf_counter()
    try:
        pending = _pending(source, out, action, overwrite, run, tick)
        if run.seen == 0:
            raise ImageReadError(f"{source}: no photos ({', '.join(IMAGE_SUFFIXES)}) in this folder.")
        bar.total = run.seen
        bar.refresh()
        if pending:
            with ray_session(address, num_cpus) as ray:
                dataset = ray.data.from_items([{"path": path} for path in pending],
                                              override_num_blocks=max(1, min(-(-len(pending) // batch_size), 16 * workers)))
                actor = _actor_class(model_path=str(model_path), source=str(source), out=str(out), action=action,
                                     overwrite=overwrite, background=None if background is None else str(background),
                                     strength=float(strength), refine=bool(refine), threads=int(threads),
                                     mirror=bool(mirror))
                results = dataset.map_batches(actor, batch_size=int(batch_size), batch_format="numpy", num_cpus=1,
                                              compute=ray.data.ActorPoolStrategy(size=int(workers)))
                try:
                    with warnings.catch_warnings():  # "fewer inputs than actors" on a nearly finished folder
                        warnings.simplefilter("ignore", UserWarning)
                        for row in results.iter_rows():
                            if run.startup_seconds is None:
                                run.startup_seconds = time.perf_counter() - start
                            status = row["status"]
                            if status == "written":
                                run.processed += 1
                                run.files_written += len(OUTPUTS[action])
                            elif status == "skipped":
                                run.skipped += 1
                            else:
                                run.failed[row["path"]] = row["detail"]
                            tick(status)
                except Exception as exc:
                    text = str(exc)
                    if "DiskFullError" in text or "disk full" in text:
                        raise DiskFullError(f"{out}: disk full during the Ray run. Every output written is complete; "
                                            "free some space and run again: it resumes.") from None
                    raise ClusterError(f"the Ray run stopped: {text.splitlines()[-1][:300]}") from None
        run.complete = True
    except DiskFullError as exc:
        run.stopped = str(exc)
        raise
    finally:
        bar.close()
        run.seconds = time.perf_counter() - start
        run.model_calls = run.processed
        summary = {**run.summary(), "engine": "ray", "workers": int(workers), "model_file": str(model_path)}
        if out.is_dir():
            _write_table(out / FAILED_FILE, run.failed)
            _write_json(out / SUMMARY_FILE, summary)
    return run


__all__ = ["MODEL_FOLDER", "check_address", "exported_model", "ray_session", "segment_folder_ray"]
