"""Every shipped model and MediaPipe (general and landscape) on the PFCN test split, in one run.

Same images, same resizing (squash to the model's input, probability resized back to
the photo's size), same IoU code for all. Latency is each model's float TFLite file on
LiteRT (2 threads, median), MediaPipe's as shipped, all timed together at the end in
interleaved rounds, so that the machine's drift during the run does not bias the ratios;
then again at 1 thread. Two threads that meet after every small operator slow down when
something else takes a core (SINet's ratio to MediaPipe went from 1.04x to 1.33x with a
busy loop on the other core, measured), while the 1-thread ratio held at 1.0x: the
second column is the steadier comparison on a shared machine.
Writes a markdown table (with the issue's accuracy targets marked met or missed) and an
IoU-vs-latency figure to --out: accuracy.md/.png, or accuracy_<models>.md/.png for a run
over --models only.

    SELFIESEG_DATA=../shared/data SELFIESEG_ANCHORS=../shared/anchors \\
        .venv/bin/python benchmarks/accuracy.py --out benchmarks/results
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import chosen_models, mediapipe_files, parser, pfcn_test, pyplot, run_line

#: the targets of issue 5 (PFCN test, per-image mean IoU)
BEST_TARGET, EACH_TARGET, SINET_TARGET, SINET_PARAMS = 0.970, 0.950, 0.955, 100_000


def main(argv=None) -> int:
    options = parser(__doc__)
    options.add_argument("--models", help="comma-separated shipped models (default: all shipped)")
    options.add_argument("--runs", type=int, default=100, help="timed invokes per model (in 5 interleaved rounds)")
    args = options.parse_args(argv)
    plt = pyplot()

    from selfieseg.demo import shipped_models
    from selfieseg.evaluation import evaluate_split
    from selfieseg.export import export
    from selfieseg.inference import Segmenter, TFLiteSegmenter
    from selfieseg.metrics import paired_difference
    from selfieseg.models import list_models
    from selfieseg.profile import tflite_latencies

    names, stem = chosen_models(args.models, "accuracy")
    test = pfcn_test(args.limit)
    params = {row["name"]: row["params"] for row in list_models()}
    rows = []  # (label, params, input, mean IoU, dataset IoU, ms, KB)
    per_image = {}  # label -> per-image IoU, for the paired comparison with MediaPipe
    for label, path in mediapipe_files(args.anchors):
        segmenter = TFLiteSegmenter(path)
        scores = evaluate_split(segmenter, test)
        per_image[label] = scores.per_image
        rows.append((label, None, "x".join(map(str, segmenter.input_hw)), scores.mean_iou, scores.dataset_iou,
                     path, path.stat().st_size / 1024))
    exports = Path(tempfile.mkdtemp(prefix="selfieseg-accuracy-"))
    for name in names:
        segmenter = Segmenter(name)
        scores = evaluate_split(segmenter, test)
        per_image[name] = scores.per_image
        path = export(segmenter.model, exports / f"{name}.tflite", verbose=0)
        rows.append((name, params[name], "x".join(map(str, segmenter.input_hw)), scores.mean_iou, scores.dataset_iou,
                     path, path.stat().st_size / 1024))
    seconds = tflite_latencies([row[5] for row in rows], runs=args.runs)
    single = tflite_latencies([row[5] for row in rows], runs=args.runs, threads=1)
    rows = [(*row[:5], ms * 1e3, row[6], one * 1e3) for row, ms, one in zip(rows, seconds, single)]

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mediapipe_iou, mediapipe_ms, mediapipe_one = rows[0][3], rows[0][5], rows[0][7]
    lines = [f"PFCN test split, {len(test)} images, per-image mean person IoU (and dataset IoU). Latency: float TFLite "
             f"on LiteRT, batch 1, 2 threads, median of {args.runs} invokes timed in 5 interleaved rounds; ratios are to "
             "MediaPipe (general). The last two columns: the same at 1 thread.", "",
             run_line(names), "",
             "| model | params | input | mean IoU | IoU - MediaPipe | dataset IoU | TFLite ms | latency / MediaPipe | size KB "
             "| 1-thread ms | 1-thread / MediaPipe |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, count, size, mean_iou, dataset_iou, ms, kb, one in rows:
        lines.append(f"| {label} | {'' if count is None else f'{count:,}'} | {size} | {mean_iou:.4f} | "
                     f"{mean_iou - mediapipe_iou:+.4f} | {dataset_iou:.4f} | {ms:.2f} | {ms / mediapipe_ms:.2f} | {kb:.0f} "
                     f"| {one:.2f} | {one / mediapipe_one:.2f} |")
    ours = {label: (count, mean_iou) for label, count, _, mean_iou, *_ in rows if count is not None}
    if ours:
        # a difference of a few thousandths needs its interval beside it
        lines += ["", f"Paired with MediaPipe image by image (mean per-image IoU difference, 95% bootstrap interval "
                      f"over the {len(test)} images, 10,000 resamples):"]
        for name in [*ours, "mediapipe_landscape"]:
            if name in per_image:
                d = paired_difference(per_image[name], per_image["mediapipe"])
                lines.append(f"- {name}: {d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]; better on "
                             f"{d['better']} images, worse on {d['worse']}")
        def verdict(ok):
            return "met" if ok else "missed"

        best = max(ours, key=lambda name: ours[name][1])
        lines += ["", "Targets:",
                  f"- best shipped >= {BEST_TARGET:.3f}: {verdict(ours[best][1] >= BEST_TARGET)} ({best} {ours[best][1]:.4f})",
                  *[f"- {name} >= {EACH_TARGET:.3f}: {verdict(iou >= EACH_TARGET)} ({iou:.4f})" for name, (_, iou) in ours.items()]]
        if "sinet" in ours:
            count, iou = ours["sinet"]
            lines.append(f"- sinet >= {SINET_TARGET:.3f} with <= {SINET_PARAMS:,} parameters: "
                         f"{verdict(iou >= SINET_TARGET and count <= SINET_PARAMS)} ({iou:.4f}, {count:,})")
        missing = sorted(set(params) - set(shipped_models()))
        if missing:
            lines.append(f"- not shipped, so not measured: {', '.join(missing)}")
    table = "\n".join(lines)
    (out / f"{stem}.md").write_text(table + "\n")
    print(table)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, _, _, mean_iou, _, ms, *_ in rows:
        ax.scatter(ms, mean_iou, s=60, marker="*" if label.startswith("mediapipe") else "o")
        ax.annotate(label, (ms, mean_iou), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.axhline(mediapipe_iou, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("float TFLite latency, ms (LiteRT, 2 threads, this CPU)")
    ax.set_ylabel("PFCN test IoU (per-image mean)")
    ax.set_title(f"Shipped models beside MediaPipe, one run ({len(test)} images)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / f"{stem}.png", dpi=120)
    print(f"wrote {out / f'{stem}.md'} and {out / f'{stem}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
