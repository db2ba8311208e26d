"""Every shipped model and MediaPipe (general and landscape) on four real datasets, in one run.

Columns: PFCN test (the standard portrait benchmark), VOC person test (people in the wild;
void pixels ignored), CCP test (full-body street photos) and the DAVIS parkour frames
(each scored as a photo), then the mean over the four. Same images, same resizing (squash
to the model's input, probability resized back to the photo's size), same per-image IoU
code for all; each of our models is scored as its shipped Keras weights, and every cell
carries the paired bootstrap interval of (model - MediaPipe general) over that column's
images. Latency is each model's float TFLite file on LiteRT (2 threads, median),
MediaPipe's as shipped, all timed together at the end in interleaved rounds, so that the
machine's drift during the run does not bias the ratios; then again at 1 thread (the
steadier comparison on a shared machine). Writes a markdown table (with the issues'
targets marked met or missed) and an IoU-vs-latency figure to --out: accuracy.md/.png,
or accuracy_<models>.md/.png for a run over --models only. --limit N (or SELFIESEG_FAST=1,
3 images) scores the first N images of each dataset.

Each of our models also gets a row ``NAME + mirror``: the same weights with mirror
averaging (``Segmenter(..., mirror=True)``, ``--mirror`` on the command line: the photo and
its mirror image, the two probabilities averaged). Its latency is twice its file's (two
invokes), not timed again. The shipped-model targets are judged on the plain rows; the
mirrored rows get a line of their own. ``--no-mirror`` leaves them out.

    SELFIESEG_DATA=../shared/data SELFIESEG_ANCHORS=../shared/anchors \\
        .venv/bin/python benchmarks/accuracy.py --out benchmarks/results
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from _common import chosen_models, mediapipe_files, parser, pfcn_test, pyplot, run_line, save_figure, write_result

#: the targets of issue 5 (PFCN test, per-image mean IoU)
BEST_TARGET, EACH_TARGET, SINET_TARGET, SINET_PARAMS = 0.970, 0.950, 0.955, 100_000
#: the cross-dataset targets: every architecture within this much of MediaPipe (general)
WITHIN = {"PFCN test": 0.01, "CCP test": 0.01, "VOC person test": 0.05}
MARKERS = ("o", "s", "^", "D", "P")


def interval(d) -> str:
    return f"{d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def main(argv=None) -> int:
    options = parser(__doc__)
    options.add_argument("--models", help="comma-separated shipped models (default: all shipped)")
    options.add_argument("--runs", type=int, default=100, help="timed invokes per model (in 5 interleaved rounds)")
    options.add_argument("--no-mirror", action="store_true", help="leave out the NAME + mirror rows")
    args = options.parse_args(argv)
    if args.limit is None and os.environ.get("SELFIESEG_FAST") == "1":
        args.limit = 3
    plt = pyplot()

    import numpy as np

    from selfieseg.data import open_dataset
    from selfieseg.demo import shipped_models
    from selfieseg.evaluation import evaluate_split
    from selfieseg.export import export
    from selfieseg.inference import Segmenter, TFLiteSegmenter
    from selfieseg.metrics import paired_difference, paired_difference_across
    from selfieseg.models import list_models
    from selfieseg.profile import tflite_latencies

    names, stem = chosen_models(args.models, "accuracy")
    files = mediapipe_files(args.anchors)
    readers = {}
    from selfieseg.evaluation import BENCHMARK_SETS  # the columns: (label, dataset, options), the cards' too

    for column, dataset, opts in BENCHMARK_SETS:
        reader = pfcn_test(args.limit) if dataset == "pfcn" else open_dataset(dataset, **opts)
        if args.limit and dataset != "pfcn":
            reader = reader.subset(range(min(args.limit, len(reader))))
        readers[column] = reader
    columns = list(readers)
    params = {row["name"]: row["params"] for row in list_models()}
    rows = []  # dict per model: label, params, input, path, kb, iou {column: mean}, per {column: per-image}

    def score(label, segmenter, path, count, mirror_of=None):
        per, iou = {}, {}
        for column, reader in readers.items():
            scores = evaluate_split(segmenter, reader, progress=False)
            per[column], iou[column] = np.asarray(scores.per_image, np.float64), float(scores.mean_iou)
            print(f"{label} {column}: {iou[column]:.4f}", flush=True)
        iou["mean"] = float(np.mean([iou[column] for column in columns]))
        rows.append({"label": label, "params": count, "input": "x".join(map(str, segmenter.input_hw)), "path": path,
                     "kb": path.stat().st_size / 1024, "iou": iou, "per": per, "mirror_of": mirror_of})

    for label, path in files:
        score(label, TFLiteSegmenter(path), path, None)
    exports = Path(tempfile.mkdtemp(prefix="selfieseg-accuracy-"))
    for name in names:
        segmenter = Segmenter(name)
        path = export(segmenter.model, exports / f"{name}.tflite", verbose=0)
        score(name, segmenter, path, params[name])
        if not args.no_mirror:
            score(f"{name} + mirror", Segmenter(segmenter.model, mirror=True), path, params[name], mirror_of=rows[-1])
    timed = [row for row in rows if row["mirror_of"] is None]
    paths = [row["path"] for row in timed]
    for row, two, one in zip(timed, tflite_latencies(paths, runs=args.runs),
                             tflite_latencies(paths, runs=args.runs, threads=1)):
        row["ms"], row["one"] = two * 1e3, one * 1e3
    for row in rows:
        if row["mirror_of"] is not None:  # two invokes of the same file
            row["ms"], row["one"] = 2 * row["mirror_of"]["ms"], 2 * row["mirror_of"]["one"]

    base = rows[0]  # MediaPipe (general)
    # the mean column: per-image differences averaged over the four datasets, each dataset weighted alike
    for row in rows:
        row["diff"] = {column: paired_difference(row["per"][column], base["per"][column]) for column in columns}
        # the mean's interval: each dataset's images resampled on their own (seeded), the four means averaged
        row["diff"]["mean"] = paired_difference_across([row["per"][c] for c in columns], [base["per"][c] for c in columns])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = ", ".join(f"{column} {len(readers[column])}" for column in columns)
    lines = [f"Per-image mean person IoU on four real datasets ({sizes} images; VOC void pixels ignored; DAVIS frames "
             "scored as photos), and below each, the paired difference to MediaPipe (general) with its 95% bootstrap "
             "interval over that dataset's images (10,000 resamples). Mean: the four datasets weighted alike (its "
             "interval: each dataset's images resampled on their own, the four means averaged). Our models are scored as their shipped "
             "Keras weights. Latency: float TFLite on LiteRT, batch 1, 2 threads, median of "
             f"{args.runs} invokes timed in 5 interleaved rounds; ratios are to MediaPipe (general). Then the same at "
             "1 thread. NAME + mirror: the same weights, each photo and its mirror image averaged (twice the "
             "latency: two invokes, not timed again).", "", run_line(names), "",
             "| model | params | input | " + " | ".join(columns) + " | mean | TFLite ms | latency / MediaPipe "
             "| 1-thread ms | 1-thread / MediaPipe |",
             "|---|---|---|" + "---|" * (len(columns) + 1) + "---|---|---|---|"]
    for row in rows:
        cells = [f"{row['iou'][c]:.4f}" + ("" if row is base else f" {interval(row['diff'][c])}")
                 for c in [*columns, "mean"]]
        count = "" if row["params"] is None else f"{row['params']:,}"
        lines.append(f"| {row['label']} | {count} | "
                     f"{row['input']} | " + " | ".join(cells) + f" | {row['ms']:.2f} | {row['ms'] / base['ms']:.2f} "
                     f"| {row['one']:.2f} | {row['one'] / base['one']:.2f} |")
    ours = {row["label"]: row for row in rows if row["params"] is not None and row["mirror_of"] is None}
    mirrored = {row["label"]: row for row in rows if row["mirror_of"] is not None}
    if ours:
        lines += ["", "Images better / worse than MediaPipe (general), per dataset:"]
        for row in rows[1:]:
            lines.append(f"- {row['label']}: " + "; ".join(
                f"{c} {row['diff'][c]['better']} / {row['diff'][c]['worse']}" for c in columns))

        def verdict(ok):
            return "met" if ok else "missed"

        pfcn = {name: row["iou"]["PFCN test"] for name, row in ours.items()}
        best = max(pfcn, key=pfcn.get)
        lines += ["", "Targets (PFCN test):",
                  f"- best shipped >= {BEST_TARGET:.3f}: {verdict(pfcn[best] >= BEST_TARGET)} ({best} {pfcn[best]:.4f})",
                  *[f"- {name} >= {EACH_TARGET:.3f}: {verdict(iou >= EACH_TARGET)} ({iou:.4f})" for name, iou in pfcn.items()]]
        if "sinet" in ours:
            iou, count = pfcn["sinet"], ours["sinet"]["params"]
            lines.append(f"- sinet >= {SINET_TARGET:.3f} with <= {SINET_PARAMS:,} parameters: "
                         f"{verdict(iou >= SINET_TARGET and count <= SINET_PARAMS)} ({iou:.4f}, {count:,})")
        lines += ["", "Targets (across datasets, against MediaPipe general):"]
        top = max(ours, key=lambda name: ours[name]["iou"]["mean"])
        short = [c for c in [*columns, "mean"] if ours[top]["iou"][c] < base["iou"][c]]
        lines.append(f"- best shipped ({top}, by the mean) >= MediaPipe on every column: {verdict(not short)} ("
                     + ", ".join(f"{c} {ours[top]['iou'][c] - base['iou'][c]:+.4f}" for c in [*columns, 'mean']) + ")")
        for name, row in ours.items():
            gaps = {c: row["iou"][c] - base["iou"][c] for c in WITHIN}
            ok = all(gaps[c] >= -WITHIN[c] for c in WITHIN)
            lines.append(f"- {name} within 0.01 of MediaPipe on PFCN and CCP test, 0.05 on VOC person test: "
                         f"{verdict(ok)} (" + ", ".join(f"{c} {gaps[c]:+.4f}" for c in WITHIN) + ")")
        if mirrored:
            top = max(mirrored, key=lambda name: mirrored[name]["iou"]["mean"])
            short = [c for c in [*columns, "mean"] if mirrored[top]["iou"][c] < base["iou"][c]]
            lines.append(f"- with mirror averaging, the best ({top}, by the mean) >= MediaPipe on every column: "
                         f"{verdict(not short)} (" + ", ".join(
                             f"{c} {mirrored[top]['iou'][c] - base['iou'][c]:+.4f}" for c in [*columns, 'mean']) + ")")
        missing = sorted(set(params) - set(shipped_models()))
        if missing:
            lines.append(f"- not shipped, so not measured: {', '.join(missing)}")
    table = "\n".join(lines)
    write_result(out / f"{stem}.md", table + "\n")
    print(table)

    fig, axes = plt.subplots(1, len(columns) + 1, figsize=(4.0 * (len(columns) + 1), 4.2), sharex=True)
    for ax, column, marker in zip(axes, [*columns, "mean"], MARKERS):
        for row in rows:
            mediapipe = row["params"] is None
            colour = "tab:red" if mediapipe else ("tab:green" if row["mirror_of"] is not None else "tab:blue")
            ax.scatter(row["ms"], row["iou"][column], s=110 if mediapipe else 50, marker="*" if mediapipe else marker,
                       color=colour)
            ax.annotate(row["label"], (row["ms"], row["iou"][column]), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
        ax.axhline(base["iou"][column], color="tab:red", lw=0.8, ls="--")
        ax.set_title(f"{column} ({len(readers[column])})" if column != "mean" else "mean of the four", fontsize=10)
        ax.set_xlabel("float TFLite ms (LiteRT, 2 threads)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("per-image mean IoU")
    fig.suptitle("Shipped models (blue; green: with mirror averaging) beside MediaPipe (red stars; dashed: MediaPipe "
                 "general), one run", fontsize=11)
    fig.tight_layout()
    save_figure(fig, out / f"{stem}.png", dpi=110)
    print(f"wrote {out / f'{stem}.md'} and {out / f'{stem}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
