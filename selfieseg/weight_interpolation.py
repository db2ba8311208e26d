"""Interpolating a fine-tuned run's weights back towards the weights it started from.

Fine-tuning the shipped portrait models on the mixed data (PFCN, PicsArt, VOC person,
CCP) taught them small people and full figures, but cost them on portraits: PortraitNet
after 19 epochs of the mix gained 0.095 IoU on VOC person test and 0.016 on CCP test and
lost 0.007 on PFCN test (2026-12-02), which put it below the score it must keep to ship.
Both ends are fine-tunings of one network, so the straight line between them in weight
space stays a working network (the observation behind weight-space ensembles such as
WiSE-FT), and a point on it can keep most of the new skill and most of the old one.

:func:`interpolate_run` walks that line at a few points, scores each on the run's own
validation samples *per dataset* (never on a test split: the point is chosen here, the
test split only reports it), picks the point with the best mean over datasets (each
weighted alike, as the benchmark does), and writes it as a run folder that
``selfieseg ship`` takes like any other, with the table, a figure and the choice on
record in ``state.json`` so the model card can say what was shipped.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np

from selfieseg.errors import ModelError

#: the points tried by default: 0 is the start, 1 the fine-tuned run's best checkpoint
DEFAULT_ALPHAS = (0.0, 0.25, 0.5, 0.625, 0.75, 0.875, 1.0)


def interpolated_weights(start, end, alpha: float) -> list:
    """``(1 - alpha) * start + alpha * end`` for every float array; other arrays from ``end``.

    ``start`` and ``end`` are ``model.get_weights()`` lists of the same network. Batch
    normalisation's moving statistics are interpolated too: they belong to the point, and
    the validation scores judge the result as a whole.
    """
    if len(start) != len(end):
        raise ModelError(f"the two weight sets hold {len(start)} and {len(end)} arrays: not the same network.")
    blended = []
    for index, (a, b) in enumerate(zip(start, end)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            raise ModelError(f"weight {index} is {a.shape} in one set and {b.shape} in the other: not the same network.")
        if np.issubdtype(b.dtype, np.floating):
            blended.append(((1.0 - alpha) * a.astype(np.float64) + alpha * b.astype(np.float64)).astype(b.dtype))
        else:
            blended.append(b.copy())
    return blended


def _alphas(values) -> list[float]:
    alphas = sorted({float(value) for value in values})
    if not alphas or alphas[0] < 0.0 or alphas[-1] > 1.0:
        raise ModelError(f"interpolation points must lie in [0, 1] (0: the start, 1: the run's best); got {values}.")
    return alphas


def choose_point(table, keep: float | None = None) -> dict:
    """The row of ``table`` with the best mean validation IoU over datasets.

    With ``keep``, only points where no dataset scores more than ``keep`` below the start
    (alpha 0) are eligible: a model that must not get worse on portraits while it learns
    full figures says so here, on validation, before any test split is looked at. The
    start itself is always eligible, so there is always a choice. Ties go to the larger
    alpha (more of the fine-tuning).
    """
    start = min(table, key=lambda row: row["alpha"])
    datasets = [key for key in start if key not in ("alpha", "mean")]
    eligible = [row for row in table
                if keep is None or all(row[name] >= start[name] - keep for name in datasets)]
    return max(eligible, key=lambda row: (row["mean"], row["alpha"]))


def interpolate_run(run, out, alphas=DEFAULT_ALPHAS, start=None, keep: float | None = None, root=None,
                    cache_dir=None, save_points: bool = False, progress: bool = True) -> dict:
    """Score points between a run's start and its best weights on validation; write the best.

    ``run``: a training run folder (``state.json``, ``best.weights.h5``). ``start``: the
    weights the line starts from, by default the run's ``--init`` weights. ``keep``: see
    :func:`choose_point`. ``out`` becomes a run folder for ``selfieseg ship``:
    ``best.weights.h5`` (the chosen point), ``state.json`` (the run's, plus an
    ``interpolation`` record), the run's ``log.csv``, ``interpolation.csv`` and
    ``interpolation.png``; with ``save_points`` also every point as
    ``alpha_0.500.weights.h5`` (for a benchmark that reports the whole line). Returns
    the ``interpolation`` record.
    """
    import selfieseg
    from selfieseg.data.training import validation_samples
    from selfieseg.evaluation import evaluate_by_dataset
    from selfieseg.inference import Segmenter
    from selfieseg.io import atomic_path

    run, out = Path(run), Path(out)
    state_path, end_path = run / "state.json", run / "best.weights.h5"
    if not state_path.exists() or not end_path.exists():
        raise ModelError(f"{run}: no state.json / best.weights.h5; is this a training run folder?")
    if out.resolve() == run.resolve():
        raise ModelError(f"{out}: write the interpolation to a new folder, not over the run it reads.")
    state = json.loads(state_path.read_text())
    settings = state["settings"]
    start = start or settings.get("init_weights")
    if not start:
        raise ModelError(f"{run} started from scratch (no --init weights): pass the start weights to interpolate from.")
    start = Path(start)
    if not start.exists():
        raise ModelError(f"{start}: the start weights are missing; pass the file the run was started from.")
    points = _alphas(alphas)

    # --- the two ends, as arrays of one network --------------------------------------------
    model = selfieseg.load(settings["model"], weights=None, input_size=int(settings["input_size"]),
                           **settings.get("options", {}))
    model.load_weights(str(start))
    start_arrays = model.get_weights()
    model.load_weights(str(end_path))
    end_arrays = model.get_weights()

    # --- each point scored on the run's own validation samples, per dataset -----------------
    cache, indices = validation_samples(settings["data"], int(settings["input_size"]), settings.get("validation", 0.1),
                                        settings.get("seed", 0), root=root, cache_dir=cache_dir)
    segmenter = Segmenter(model)
    table = []
    out.mkdir(parents=True, exist_ok=True)
    for alpha in points:
        model.set_weights(interpolated_weights(start_arrays, end_arrays, alpha))
        scores = evaluate_by_dataset(segmenter, cache, indices, progress=progress)
        table.append({"alpha": alpha, **{key: round(value, 4) for key, value in scores.items()}})
        if save_points:
            _save_weights(model, out / f"alpha_{alpha:.3f}.weights.h5")
    chosen = choose_point(table, keep)

    # --- the chosen point as a run folder ---------------------------------------------------
    model.set_weights(interpolated_weights(start_arrays, end_arrays, chosen["alpha"]))
    _save_weights(model, out / "best.weights.h5")
    record = {
        "start": str(start),
        "end": str(end_path),
        "alpha": chosen["alpha"],
        "criterion": "mean of per-dataset per-image IoU on the run's validation samples"
                     + (f", no dataset more than {keep:g} below the start" if keep is not None else ""),
        "keep": keep,
        "validation_images": int(len(indices)),
        "table": table,
    }
    with atomic_path(out / "interpolation.csv") as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    _plot(table, chosen["alpha"], out / "interpolation.png", settings["model"])
    if (run / "log.csv").exists():
        shutil.copyfile(run / "log.csv", out / "log.csv")
    with atomic_path(out / "state.json") as tmp:
        Path(tmp).write_text(json.dumps({**state, "interpolation": record}, indent=2) + "\n")
    return record


def _save_weights(model, path: Path) -> None:
    """``model``'s weights to ``path``, whole or not at all.

    Keras insists on the ``.weights.h5`` ending, which :func:`selfieseg.io.atomic_path`'s
    temporary name lacks, so the temporary file is named here.
    """
    partial = path.with_name(f".partial-{os.getpid()}.weights.h5")
    model.save_weights(str(partial))
    os.replace(partial, path)


def _plot(table, alpha, path: Path, name: str) -> None:
    """Validation IoU per dataset along the line, the chosen point marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from selfieseg.io import atomic_path

    alphas = [row["alpha"] for row in table]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for key in [key for key in table[0] if key != "alpha"]:
        ax.plot(alphas, [row[key] for row in table], marker="o", lw=2.5 if key == "mean" else 1.2,
                label=key, color="black" if key == "mean" else None)
    ax.axvline(alpha, color="grey", ls="--", lw=1)
    ax.set_xlabel("alpha (0: start weights, 1: fine-tuned best)")
    ax.set_ylabel("validation IoU")
    ax.set_title(f"{name}: interpolating the fine-tuning (chosen alpha {alpha:g})")
    ax.legend(fontsize=8, loc="lower center", ncol=3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


__all__ = ["DEFAULT_ALPHAS", "choose_point", "interpolate_run", "interpolated_weights"]
