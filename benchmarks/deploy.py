"""Every shipped model in every export mode beside MediaPipe, in one run.

For each shipped model and each mode (float, fp16, dynamic, int8 per channel, int8 per
tensor, QAT int8): file size, TFLite latency (LiteRT, 2 threads, median of --runs
invokes after warm-up; every file timed together at the end in interleaved rounds, so
the machine's drift over a long run does not bias the ratios), ONNX Runtime latency (float ONNX), and per-image mean person IoU
on the PFCN test split, decoded once and shared by every row. MediaPipe's two models are
measured the same way in the same run; ratios are to MediaPipe (general, 256x256).

    SELFIESEG_DATA=../shared/data SELFIESEG_ANCHORS=../shared/anchors \\
        .venv/bin/python benchmarks/deploy.py --out benchmarks/results

Writes deploy.md (the table) and deploy.png (size, latency and IoU) to --out, and the
exported files to --out/exports. With --models, the table is deploy_<models>.md/.png
instead, so a run for one retrained model leaves the full run's table as it was: every
table holds one run, MediaPipe included. Each table names the weights (sha256) it measured.
"""

from __future__ import annotations

import time
from pathlib import Path

from _common import chosen_models, mediapipe_files, parser, pfcn_test, pyplot, run_line, save_figure, write_result

MODES = ("none", "fp16", "dynamic", "int8", "int8_per_tensor", "qat")


def evaluate(segmenter, samples):
    """Mean per-image IoU through the library's one scoring loop, on samples decoded once."""
    from selfieseg.evaluation import evaluate_split

    return evaluate_split(segmenter, samples, progress=False).mean_iou


def main(argv=None) -> int:
    options = parser(__doc__)
    options.add_argument("--models", help="comma-separated shipped models (default: all shipped)")
    options.add_argument("--modes", default=",".join(MODES))
    options.add_argument("--runs", type=int, default=100, help="timed invokes per latency")
    options.add_argument("--qat-steps", type=int, default=60, help="quantization-aware batches (of 8)")
    args = options.parse_args(argv)
    from tqdm.auto import tqdm

    from selfieseg.export import export
    from selfieseg.inference import OnnxSegmenter, Segmenter, TFLiteSegmenter
    from selfieseg.profile import onnx_latency, tflite_latencies

    names, stem = chosen_models(args.models, "deploy")
    test = pfcn_test(args.limit)
    samples = list(tqdm(test, total=len(test), desc="decoding PFCN test"))
    out = Path(args.out)
    exports = out / "exports"
    exports.mkdir(parents=True, exist_ok=True)

    rows = []  # (model, mode, KB, tflite ms, onnx ms, IoU)
    for label, path in mediapipe_files(args.anchors):
        rows.append((label, "float (as shipped)", path.stat().st_size / 1024, path, None,
                     evaluate(TFLiteSegmenter(path), samples)))
        print(rows[-1])
    for name in names:
        keras_model = Segmenter(name).model
        keras_iou = evaluate(Segmenter(keras_model), samples)
        rows.append((name, "keras float", None, None, None, keras_iou))
        onnx_path = export(keras_model, exports / f"{name}.onnx")
        onnx_ms = onnx_latency(onnx_path, runs=args.runs) * 1e3
        onnx_iou = evaluate(OnnxSegmenter(onnx_path), samples)
        rows.append((name, "onnx float", onnx_path.stat().st_size / 1024, None, onnx_ms, onnx_iou))
        print(rows[-1])
        for mode in args.modes.split(","):
            quantize = "int8" if mode == "int8_per_tensor" else mode
            path = exports / f"{name}_{mode}.tflite"
            started = time.time()
            export(keras_model, path, quantize=quantize, per_channel=mode != "int8_per_tensor", qat_steps=args.qat_steps,
                   samples=64, verbose=0)
            seconds = time.time() - started
            rows.append((name, mode, path.stat().st_size / 1024, path, None, evaluate(TFLiteSegmenter(path), samples)))
            print(rows[-1], f"(export {seconds:.0f} s)")

    # every TFLite file timed together, in interleaved rounds: drift over the run hits all alike
    timed = [index for index, row in enumerate(rows) if isinstance(row[3], Path)]
    for index, seconds in zip(timed, tflite_latencies([rows[index][3] for index in timed], runs=args.runs)):
        rows[index] = (*rows[index][:3], seconds * 1e3, *rows[index][4:])
    mediapipe_ms, mediapipe_iou = rows[0][3], rows[0][5]
    lines = [
        f"PFCN test split, {len(samples)} images, per-image mean person IoU. Latency: median of {args.runs} invokes "
        "after warm-up (TFLite: all files timed together in 5 interleaved rounds), batch 1, 2 threads (TFLite on LiteRT; ONNX on ONNX Runtime CPU). Ratios are to MediaPipe (general).",
        "",
        run_line(names),
        "",
        "| model | mode | size KB | TFLite ms | ONNX ms | latency / MediaPipe | IoU | IoU - MediaPipe | more accurate and no slower |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model, mode, kb, lite_ms, onnx_ms, score in rows:
        ms = lite_ms if lite_ms is not None else onnx_ms
        ratio = f"{ms / mediapipe_ms:.2f}" if ms is not None else ""
        both = "yes" if ms is not None and ms <= mediapipe_ms and score > mediapipe_iou else ("" if ms is None else "no")
        lines.append(
            f"| {model} | {mode} | {'' if kb is None else f'{kb:.0f}'} | {'' if lite_ms is None else f'{lite_ms:.2f}'} | "
            f"{'' if onnx_ms is None else f'{onnx_ms:.2f}'} | {ratio} | {score:.4f} | {score - mediapipe_iou:+.4f} | {both} |"
        )
    table = "\n".join(lines)
    write_result(out / f"{stem}.md", table + "\n")
    print(table)

    plot(rows, out / f"{stem}.png")
    print(f"wrote {out / f'{stem}.md'} and {out / f'{stem}.png'}")
    return 0


MODE_MARKERS = {"none": "o", "fp16": "s", "dynamic": "D", "int8": "^", "int8_per_tensor": "v", "qat": "P"}


def plot(rows, path, floor: float = 0.9):
    """Latency and file size against IoU: colour is the model, marker the export mode.

    Points under ``floor`` (a quantization that failed, such as per-tensor int8 for
    PortraitNet) are outlined on the bottom edge and their IoU is named in the title, so
    the axis stays on the range where the working files differ.
    """
    from matplotlib.lines import Line2D

    plt = pyplot()

    drawn = [row for row in rows if row[3] is not None]
    models = list(dict.fromkeys(row[0] for row in drawn))
    colours = {model: plt.get_cmap("tab10")(index) for index, model in enumerate(models)}
    scores = [row[5] for row in drawn if row[5] >= floor]
    low, high = min(scores) - 0.004, max(scores) + 0.003
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    clipped = []
    for model, mode, kb, lite_ms, _, score in drawn:
        marker = "*" if model.startswith("mediapipe") else MODE_MARKERS.get(mode, "o")
        if score < low:
            clipped.append(f"{model} {mode} {score:.3f}")
        for ax, x in zip(axes, (lite_ms, kb)):
            ax.scatter(x, max(score, low + 0.0005), marker=marker, s=110 if marker == "*" else 55,
                       color=colours[model], edgecolor="black" if score < low else "none", linewidth=0.8)
    axes[0].set_xlabel("TFLite latency, ms (2 threads, this CPU)")
    axes[1].set_xlabel("file size, KB (log scale)")
    axes[1].set_xscale("log")
    for ax in axes:
        ax.set_ylim(low, high)
        ax.set_ylabel("PFCN test IoU")
        ax.grid(alpha=0.3)
    model_keys = [Line2D([], [], marker="*" if m.startswith("mediapipe") else "o", linestyle="", color=colours[m],
                         markersize=8, label=m) for m in models]
    mode_keys = [Line2D([], [], marker=marker, linestyle="", color="grey", markersize=7, label=mode)
                 for mode, marker in MODE_MARKERS.items() if any(row[1] == mode for row in drawn)]
    fig.legend(handles=model_keys, title="model (colour)", fontsize=8, title_fontsize=8, ncol=len(model_keys),
               loc="lower center", bbox_to_anchor=(0.5, 0.07))
    fig.legend(handles=mode_keys, title="export mode (marker)", fontsize=8, title_fontsize=8, ncol=len(mode_keys),
               loc="lower center", bbox_to_anchor=(0.5, -0.01))
    title = "Export modes beside MediaPipe, one run"
    if clipped:  # outlined on the bottom edge, their scores named here
        title += "\noutlined on the bottom edge, below the axis: " + "; ".join(clipped)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    save_figure(fig, path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
