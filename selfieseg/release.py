"""Ship a trained run: evaluate it on the PFCN test split, time it beside MediaPipe, copy
its weights into the package and write the model card (``NAME.md`` and ``NAME.json``).

``selfieseg ship --run runs/sinet`` is the only way weights enter ``selfieseg/weights``,
so every shipped file has a card generated from its own training log and evaluation.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

from selfieseg.errors import ModelError


def _anchors_dir():
    env = os.environ.get("SELFIESEG_ANCHORS")
    return Path(env) if env and Path(env).is_dir() else None


def ship(run, root=None, runs: int = 30, weights_dir=None, input_size=None, weights: str = "best") -> dict:
    """Evaluate a training run and ship it: weights, ``NAME.json`` and ``NAME.md`` in the package.

    ``input_size`` serves the weights at another size than they were trained at (the
    convolutions do not depend on it); choose it on the validation split, never on the
    test split this evaluates. The card records both sizes.
    ``weights="average"`` ships a weight-averaging run's mean (``average.weights.h5``)
    instead of its best checkpoint: the best of many noisy epochs is partly picked for
    luck on the validation images, the mean is not (decide on validation, e.g. on
    mirrored images, never on the test split).
    """
    import selfieseg
    from selfieseg.data import open_dataset
    from selfieseg.evaluation import evaluate_split
    from selfieseg.export import export
    from selfieseg.inference import Segmenter, TFLiteSegmenter
    from selfieseg.io import atomic_path
    from selfieseg.models import WEIGHTS_DIR, builder_options
    from selfieseg.profile import profile, tflite_latencies

    run = Path(run)
    if weights not in ("best", "average"):
        raise ModelError(f"weights must be 'best' or 'average', got {weights!r}.")
    state_path, chosen = run / "state.json", run / f"{weights}.weights.h5"
    if not state_path.exists() or not (run / "best.weights.h5").exists():
        raise ModelError(f"{run}: no state.json / best.weights.h5; is this a training run folder?")
    state = json.loads(state_path.read_text())
    if weights == "average" and (not state.get("averaged") or not chosen.exists()):
        raise ModelError(f"{run}: no weight average to ship ({chosen} missing or no epoch averaged); "
                         "train with --average-from, or ship --weights best.")
    settings = state["settings"]
    name = settings["model"]
    size = int(input_size or settings["input_size"])
    model = selfieseg.load(name, weights=chosen, input_size=size, **settings.get("options", {}))

    test = open_dataset("pfcn", root, split="test")
    ours = evaluate_split(Segmenter(model), test)
    cost = profile(model, runs=runs, tflite=False)
    exports = Path(tempfile.mkdtemp())
    float_path = export(model, exports / f"{name}.tflite")
    cost["tflite_kb"] = float_path.stat().st_size / 1024
    timed = {"float": float_path}  # every latency on the card is timed together at the end
    # int8 both ways: per tensor is the smallest file (what SINet ships for phones) but
    # some models lose a lot under it (PortraitNet 0.9576 -> 0.67, measured); per channel
    # is the usual default. The card reports both so nobody has to guess which survives.
    quantized = {}
    for key, per_channel in (("int8", True), ("int8_per_tensor", False)):
        path = export(model, exports / f"{name}_{key}.tflite", quantize="int8", per_channel=per_channel, root=root)
        quantized[key] = {
            "pfcn_test_iou": round(evaluate_split(TFLiteSegmenter(path), test).mean_iou, 4),
            "tflite_kb": round(path.stat().st_size / 1024, 1),
        }
        timed[key] = path
    card = {
        "model": name,
        "input_size": size,
        # what the architecture was built with: loading the shipped file checks it
        "options": builder_options(name, settings.get("options", {})),
        "trainable_params": cost["params"],
        "mmacs": round(cost["MMACs"], 1),
        "weights_kb": round(chosen.stat().st_size / 1024, 1),
        "tflite_float_kb": round(cost["tflite_kb"], 1),
        "pfcn_test_iou": round(ours.mean_iou, 4),
        "pfcn_test_dataset_iou": round(ours.dataset_iou, 4),
        "pfcn_test_images": len(ours.per_image),
        "keras_ms": round(cost["keras_ms"], 2),
        "tflite_ms": None,  # timed below, with the other files
        "latency_runs": runs * 2,
        **quantized,
        "training": _training_summary(state, weights),
    }
    anchors = _anchors_dir()
    mediapipe_segmenter = None
    if anchors:
        mediapipe_path = anchors / "mediapipe_selfie_segmentation.tflite"
        mediapipe_segmenter = TFLiteSegmenter(mediapipe_path)
        mediapipe = evaluate_split(mediapipe_segmenter, test)
        card["mediapipe"] = {
            "pfcn_test_iou": round(mediapipe.mean_iou, 4),
            "tflite_kb": round(mediapipe_path.stat().st_size / 1024, 1),
        }
        timed["mediapipe"] = mediapipe_path
    card["held_out"] = held_out_scores(Segmenter(model), mediapipe_segmenter, root, pfcn=(ours, mediapipe if anchors else None))
    # in interleaved rounds, so the machine's drift over the minutes of evaluation above
    # cannot bias this model's latency against MediaPipe's
    for key, seconds in zip(timed, tflite_latencies(list(timed.values()), runs=runs * 2)):
        target = card if key == "float" else card[key]
        target["tflite_ms"] = round(seconds * 1e3, 2)
    epochs_log = _read_log(run / "log.csv")
    card["history"] = _history(epochs_log)
    earlier = without_this_run(earlier_stages(settings), card["history"], card["training"]["wall_minutes"])
    if earlier:
        card["training"]["earlier_stages"] = earlier
        card["training"]["total_epochs"] = state["epoch"] + sum(stage["epochs"] for stage in earlier)
        card["training"]["total_wall_minutes"] = round(
            card["training"]["wall_minutes"] + sum(stage["wall_minutes"] for stage in earlier), 1)

    target = Path(weights_dir) if weights_dir else WEIGHTS_DIR
    target.mkdir(parents=True, exist_ok=True)
    # each file is replaced whole, so an interrupted ship leaves no half-written file; the
    # three are written in turn, so one stopped between them can leave the old card beside
    # the new weights (ship again to mend it)
    with atomic_path(target / f"{name}.weights.h5") as tmp:
        shutil.copyfile(chosen, tmp)
    for path, text in ((target / f"{name}.json", json.dumps(card, indent=2) + "\n"),
                       (target / f"{name}.md", _markdown(card, epochs_log))):
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text)
    return card


def rewrite_card(name: str, weights_dir=None) -> Path:
    """Write ``<name>.md`` again from the ``<name>.json`` that :func:`ship` wrote beside it.

    The JSON holds everything the card shows (the measurements, the training log and every
    stage), so a change to how cards are laid out reaches the shipped cards without
    training or measuring again; the numbers stay those of the ship that made them."""
    from selfieseg.io import atomic_path
    from selfieseg.models import WEIGHTS_DIR

    target = Path(weights_dir) if weights_dir else WEIGHTS_DIR
    source = target / f"{name}.json"
    if not source.exists():
        raise ModelError(f"{source}: no model card data; ship the model first (selfieseg ship --run RUN).")
    card = json.loads(source.read_text())
    with atomic_path(target / f"{name}.md") as tmp:
        Path(tmp).write_text(_markdown(card, card.get("history") or []))
    return target / f"{name}.md"


def held_out_scores(segmenter, mediapipe=None, root=None, pfcn=None) -> dict:
    """The benchmark's columns for a card: each held-out set's IoU, MediaPipe's beside it.

    ``{label: {"iou", "images", "mediapipe"}, ..., "mean": {...}}`` over
    :data:`selfieseg.evaluation.BENCHMARK_SETS`, the same sets and loop as
    ``benchmarks/accuracy.py``. ``pfcn``: PFCN test's scores already measured (ours,
    MediaPipe's), not measured twice. A set missing from the data root is left out and
    named under ``"missing"``, so a card can still be made where only PFCN is at hand;
    the mean is then over the sets measured, and says how many.
    """
    from selfieseg.data import open_dataset
    from selfieseg.errors import DatasetError
    from selfieseg.evaluation import BENCHMARK_SETS, evaluate_split

    columns, missing = {}, []
    for label, dataset, options in BENCHMARK_SETS:
        if dataset == "pfcn" and pfcn is not None:
            ours, theirs = pfcn
        else:
            try:
                reader = open_dataset(dataset, root, **options)
            except DatasetError:
                missing.append(label)
                continue
            ours = evaluate_split(segmenter, reader)
            theirs = evaluate_split(mediapipe, reader) if mediapipe is not None else None
        columns[label] = {"iou": round(ours.mean_iou, 4), "images": len(ours.per_image),
                          "mediapipe": None if theirs is None else round(theirs.mean_iou, 4)}
    if columns:
        values = [column["iou"] for column in columns.values()]
        theirs = [column["mediapipe"] for column in columns.values()]
        columns["mean"] = {"iou": round(sum(values) / len(values), 4), "images": len(values),
                           "mediapipe": None if None in theirs else round(sum(theirs) / len(theirs), 4)}
    if missing:
        columns["missing"] = missing
    return columns


def _training_summary(state: dict, shipped: str = "best") -> dict:
    """The card's account of one training run, from its ``state.json``; ``shipped``: which
    weights of the run the card is for (``"best"`` checkpoint or ``"average"``)."""
    settings = state["settings"]
    return {
        "data": settings["data"],
        "data_weights": settings.get("data_weights"),
        "input_size": settings.get("input_size"),
        "epochs": state["epoch"],
        "planned_epochs": settings["epochs"],
        "batch_size": settings["batch_size"],
        "learning_rate": settings["learning_rate"],
        "encoder_start": _encoder_start(settings),
        "consistency": settings.get("consistency", 0.0),
        "augment": settings.get("augment", "full"),
        "composite": settings.get("composite", 0.0),
        "teacher": settings.get("teacher"),
        "distill": settings.get("distill", 0.0),
        "wall_minutes": round(state.get("seconds", 0) / 60, 1),
        "best_validation_iou": round(state["best"], 4),
        "minutes": settings.get("minutes"),
        "average_from": settings.get("average_from"),
        "averaged_epochs": state.get("averaged", 0),
        "average_rate": state.get("average_rate"),
        "best_is_average": bool(state.get("best_is_average", False)),
        "shipped": shipped,
        "average_validation_iou": None if state.get("average_score") is None else round(state["average_score"], 4),
        # runs from before the machine was recorded all trained on this project's CPUs
        "machine": settings.get("machine") or f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU",
        # `selfieseg interpolate`: the weights are a point between this run's best and its start
        "interpolation": _interpolation_summary(state.get("interpolation")),
    }


def _interpolation_summary(record) -> dict | None:
    if not record:
        return None
    chosen = next((row for row in record["table"] if row["alpha"] == record["alpha"]), {})
    return {"alpha": record["alpha"], "start": record["start"], "criterion": record["criterion"],
            "keep": record.get("keep"), "validation_images": record.get("validation_images"),
            "validation": record["table"], "chosen_validation": chosen}


def _read_log(path: Path) -> list[dict]:
    return list(csv.DictReader(open(path))) if path.exists() else []


def _history(rows) -> list[dict]:
    return [{key: float(value) for key, value in row.items() if value not in ("", None)} for row in rows]


def earlier_stages(settings: dict) -> list[dict]:
    """The training that produced a run's ``init_weights``, oldest first, when it is on record.

    A run started from weights (``--init W``) is a later stage of one training: its card
    must count the earlier stages' epochs and time too. They are found beside ``W``: a
    shipped model's card (``NAME.json`` next to ``NAME.weights.h5``, which already lists
    its own earlier stages) or the run folder ``W`` came from (``state.json`` + ``log.csv``).
    Weights with neither beside them are recorded by path only (in ``encoder_start``).

    Shipping copies a run's weights over ``W`` when ``W`` is the package's file (the usual
    ``--init selfieseg/weights/NAME.weights.h5``), so the same run shipped again (say at
    another ``--input-size``) finds its *own* card beside ``W`` and lists itself as the
    last stage: :func:`without_this_run` takes it out.
    """
    init = settings.get("init_weights")
    if not init:
        return []
    init = Path(init)
    card_path = init.with_name(init.name.replace(".weights.h5", ".json"))
    if card_path != init and card_path.exists():
        card = json.loads(card_path.read_text())
        training = dict(card.get("training", {}))
        stages = training.pop("earlier_stages", [])
        for key in ("total_epochs", "total_wall_minutes"):
            training.pop(key, None)
        stage = {**training, "source": str(card_path), "pfcn_test_iou": card.get("pfcn_test_iou"),
                 "history": card.get("history", [])}
        return [*stages, stage]
    state_path = init.parent / "state.json"
    if state_path.exists():
        state = json.loads(state_path.read_text())
        stage = {**_training_summary(state), "source": str(init.parent),
                 "history": _history(_read_log(init.parent / "log.csv"))}
        return [*earlier_stages(state["settings"]), stage]
    return []


def without_this_run(stages: list[dict], history: list[dict], wall_minutes: float) -> list[dict]:
    """``stages`` less any that is the run being shipped (same epoch-by-epoch log and time).

    A run shipped a second time finds its own first card beside its ``init_weights``
    (:func:`earlier_stages`); that stage is this run, not an earlier one. Logs are
    compared as JSON text: an averaging run logs NaN for the epochs before its average
    starts, and NaN equals nothing, not even itself, so ``==`` on the lists missed the
    run and its card listed it twice.
    """
    log = json.dumps(history, sort_keys=True)
    return [stage for stage in stages
            if not (history and json.dumps(stage.get("history"), sort_keys=True) == log
                    and stage.get("wall_minutes") == wall_minutes)]


def _encoder_start(settings: dict) -> str:
    """How the run's weights started, in words (runs older than the setting used the default)."""
    from selfieseg.models import spec_of

    if settings.get("init_weights"):
        return f"weights of {settings['init_weights']}"
    spec = spec_of(settings["model"])
    source = settings.get("encoder_weights") if "encoder_weights" in settings else \
        spec.encoder_start({**spec.options, **settings.get("options", {})})
    return {None: "random (from scratch)", "imagenet": "ImageNet encoder",
            "imagenet_sliced": "ImageNet MobileNetV2 width 1.0, sliced to this width"}.get(source, str(source))


def _schedule_words(t: dict, cosine: str) -> str:
    """The learning-rate schedule in words; weight averaging holds the rate from its first epoch."""
    rate = t.get("average_rate")
    if t.get("average_from") is None or not rate:
        return f"{cosine} from {t['learning_rate']}"
    if t["average_from"] == 0:
        return f"learning rate held at {rate:.2g} (the warm-up's, half of {t['learning_rate']})"
    return f"{cosine} from {t['learning_rate']}, held at {rate:.2g} from epoch {t['average_from']}"


def _average_words(t: dict) -> str:
    """Which weights of an averaging run were shipped, and why, in words."""
    if t.get("best_is_average"):
        return "that average (it scored best on validation)."
    if t.get("shipped") == "average":
        score = t.get("average_validation_iou")
        return ("that average, chosen over the best single epoch"
                + (f" (validation IoU {score:.4f} against {t['best_validation_iou']:.4f})" if score else "")
                + ": the best epoch is the highest of many noisy scores, so partly picked for luck; the mean is not.")
    return "one epoch's own (the average scored lower)."


def _augment_words(training: dict) -> str:
    """The augmentation recipe, and the share of backgrounds replaced when compositing was on."""
    words = str(training.get("augment", "full"))
    share = training.get("composite") or 0.0
    return f"{words}, {share:.0%} of backgrounds replaced" if share else words


def _data_words(training: dict) -> str:
    """The datasets a stage trained on, with their sampling weights when it had them."""
    names = training.get("data")
    if not names:
        return "not recorded"
    weights = training.get("data_weights") or {}
    return ", ".join(f"{name} {weights[name]:g}" if name in weights else name for name in names)


def _teacher_words(training: dict) -> str:
    teacher = training.get("teacher")
    return f"{teacher} ({training.get('distill', 0.5):g} of each target)" if teacher else "none"


def _interpolation_words(record: dict) -> str:
    alpha = record["alpha"]
    return (f"* Weights: {alpha:g} of this run's best and {1 - alpha:g} of its start ({record['start']}), "
            f"interpolated weight by weight; the point was chosen on validation ({record['criterion']}), "
            "never on a test split (table below).")


def _markdown(card: dict, epochs_log) -> str:
    t = card["training"]
    mp = card.get("mediapipe")
    lines = [
        f"# Model card: {card['model']}",
        "",
        "Generated by `selfieseg ship` from the training run's own log and a fresh evaluation; do not edit by hand.",
        "",
        "| | this model | MediaPipe selfie segmenter |",
        "|---|---|---|",
    ]
    rows = [
        (f"PFCN test IoU (per-image mean, {card['pfcn_test_images']} images)", f"{card['pfcn_test_iou']:.4f}", "pfcn_test_iou", ".4f"),
        ("TFLite float latency, LiteRT 2 threads (ms)", f"{card['tflite_ms']:.2f}", "tflite_ms", ".2f"),
        ("TFLite float size (KB)", f"{card['tflite_float_kb']:.0f}", "tflite_kb", ".0f"),
    ]
    for key, how in (("int8", "per channel"), ("int8_per_tensor", "per tensor")):
        q = card.get(key)  # cards shipped before per-channel was measured have only per tensor
        if q:
            rows += [(f"int8 TFLite ({how}): PFCN test IoU", f"{q['pfcn_test_iou']:.4f}", None, ""),
                     (f"int8 TFLite ({how}): latency (ms)", f"{q['tflite_ms']:.2f}", None, ""),
                     (f"int8 TFLite ({how}): size (KB)", f"{q['tflite_kb']:.0f}", None, "")]
    for label, value, key, fmt in rows:
        theirs = format(mp[key], fmt) if (mp and key) else "-"
        lines.append(f"| {label} | {value} | {theirs} |")
    held_out = card.get("held_out") or {}
    for label, column in held_out.items():
        if label in ("missing", "PFCN test"):
            continue
        what = (f"mean IoU over the {column['images']} sets above" if label == "mean"
                else f"{label} IoU (per-image mean, {column['images']} images)")
        theirs = "-" if column["mediapipe"] is None else f"{column['mediapipe']:.4f}"
        lines.append(f"| {what} | {column['iou']:.4f} | {theirs} |")
    if held_out.get("missing"):
        lines += ["", f"Not measured (not in the data root): {', '.join(held_out['missing'])}."]
    lines += [
        "",
        f"* Input: {card['input_size']}x{card['input_size']} RGB in [0, 1]; output: person probability."
        + (f" Trained at {t['input_size']}x{t['input_size']}; served at {card['input_size']}, the better size on validation."
           if t.get("input_size") and t["input_size"] != card["input_size"] else ""),
        f"* {card['trainable_params']:,} trainable parameters, {card['mmacs']} M multiply-adds per frame.",
        f"* Dataset IoU (pooled): {card['pfcn_test_dataset_iou']:.4f}.",
        f"* Training data: {', '.join(t['data'])}"
        + (f", sampled by weight ({', '.join(f'{k} {v:g}' for k, v in t['data_weights'].items())})"
           if t.get("data_weights") else "")
        + " (the test lists are never trained on: PFCN's official one, VOC person's and CCP's committed ones).",
        (f"* Epochs: {t['epochs']} in a {t['minutes']:.1f}-minute budget, batch {t['batch_size']}, AdamW, "
         f"{_schedule_words(t, 'cosine schedule over the budget')}." if t.get("minutes") else
         f"* Epochs: {t['epochs']} of {t['planned_epochs']} planned, batch {t['batch_size']}, AdamW, "
         f"{_schedule_words(t, 'cosine schedule')}."),
        f"* Start: {t.get('encoder_start', 'not recorded')}; consistency loss weight {t.get('consistency', 0.0)}.",
        f"* Augmentation: {_augment_words(t)}.",
        *([f"* Weight averaging from epoch {t['average_from']}: {t.get('averaged_epochs', 0)} epochs averaged; "
           "the weights shipped are " + _average_words(t)]
          if t.get("average_from") is not None and t.get("average_rate") else []),
        *([f"* Distilled from {t['teacher']} (teacher's share of each training target: {t.get('distill')})."]
          if t.get("teacher") else []),
        *([_interpolation_words(t["interpolation"])] if t.get("interpolation") else []),
        f"* Wall time: {t['wall_minutes']} min on {t['machine']}.",
        *([f"* Latencies: median of {card['latency_runs']} invokes per file, every file above (MediaPipe's too) "
           "timed in the same interleaved rounds, so the machine's drift cannot favour one of them."]
          if card.get("latency_runs") else []),
        f"* Best validation IoU (10% of the training data, seeded): {t['best_validation_iou']:.4f}.",
        "",
    ]
    if t.get("interpolation"):
        table = t["interpolation"]["validation"]
        names = [key for key in table[0] if key != "alpha"]
        lines += ["## Interpolation, chosen on validation", "",
                  f"Per-image IoU on the run's {t['interpolation'].get('validation_images')} validation images, per dataset, "
                  "at each point tried (alpha 0: the start weights; 1: the run's best):", "",
                  "| alpha | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for row in table:
            mark = " (shipped)" if row["alpha"] == t["interpolation"]["alpha"] else ""
            lines.append(f"| {row['alpha']:g}{mark} | " + " | ".join(f"{row[name]:.4f}" for name in names) + " |")
        lines.append("")
    stages = t.get("earlier_stages", [])
    if stages:
        lines += [
            "## Training stages",
            "",
            f"These weights continue earlier training: {t['total_epochs']} epochs and {t['total_wall_minutes']} min in all.",
            "",
            "| stage | epochs | augmentation | learning rate | start | minutes | machine | best val IoU | data (sampling weights) | teacher |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for number, stage in enumerate([*stages, {**t, "source": "this run"}], start=1):
            # each stage started from the one before it (that is how the chain was found)
            # (cards shipped before the start was recorded were trained from the default one)
            if number == 1:
                start = stage.get("encoder_start") or _encoder_start({"model": card["model"]})
            else:
                start = f"stage {number - 1}'s weights"
            lines.append(f"| {number} | {stage['epochs']} | {_augment_words(stage)} | {stage['learning_rate']} | "
                         f"{start} | {stage['wall_minutes']} | {stage.get('machine', 'not recorded')} | "
                         f"{stage['best_validation_iou']:.4f} | {_data_words(stage)} | {_teacher_words(stage)} |")
        lines.append("")
    if epochs_log:
        lines += ["## Training log", "", "| epoch | loss | val IoU |", "|---|---|---|"]
        for row in epochs_log:
            iou = row.get("val_person_iou") or row.get("val_mask_person_iou") or ""
            lines.append(f"| {int(row['epoch']) + 1} | {float(row['loss']):.4f} | {float(iou):.4f} |" if iou else f"| {int(row['epoch']) + 1} | {float(row['loss']):.4f} | |")
    return "\n".join(lines) + "\n"
