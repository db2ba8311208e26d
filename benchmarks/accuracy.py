"""Every shipped model and MediaPipe (general and landscape) on the PFCN test split, in one run.

Same images, same resizing (squash to the model's input, probability resized back to
the photo's size), same IoU code for all. Writes a markdown table and an IoU-vs-latency
figure to --out.

    SELFIESEG_DATA=../shared/data SELFIESEG_ANCHORS=../shared/anchors \\
        .venv/bin/python benchmarks/accuracy.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--limit", type=int, help="first N test images only (quick look)")
    parser.add_argument("--anchors", default=os.environ.get("SELFIESEG_ANCHORS", "../shared/anchors"))
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from selfieseg.data import open_dataset
    from selfieseg.demo import shipped_models
    from selfieseg.export import export
    from selfieseg.inference import Segmenter, TFLiteSegmenter
    from selfieseg.models.profile import tflite_latency
    from selfieseg.train import evaluate_split

    test = open_dataset("pfcn", split="test")
    if args.limit:
        test = test.subset(range(args.limit))
    rows = []
    anchors = Path(args.anchors)
    for label, filename in (("MediaPipe (general, 256x256)", "mediapipe_selfie_segmentation.tflite"),
                            ("MediaPipe (landscape, 144x256)", "mediapipe_selfie_segmentation_landscape.tflite")):
        path = anchors / filename
        scores = evaluate_split(TFLiteSegmenter(path), test)
        rows.append((label, scores.mean_iou, scores.dataset_iou, tflite_latency(path) * 1e3, path.stat().st_size / 1024))
    for name in shipped_models():
        segmenter = Segmenter(name)
        scores = evaluate_split(segmenter, test)
        path = export(segmenter.model, Path(tempfile.mkdtemp()) / f"{name}.tflite")
        rows.append((f"selfieseg {name}", scores.mean_iou, scores.dataset_iou, tflite_latency(path) * 1e3, path.stat().st_size / 1024))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mediapipe_ms = rows[0][3]
    lines = [f"PFCN test split, {len(test)} images; latency: float TFLite on LiteRT, 2 threads, median.", "",
             "| model | mean IoU | dataset IoU | TFLite ms | ratio to MediaPipe | size KB |", "|---|---|---|---|---|---|"]
    for label, mean_iou, dataset_iou, ms, kb in rows:
        lines.append(f"| {label} | {mean_iou:.4f} | {dataset_iou:.4f} | {ms:.2f} | {ms / mediapipe_ms:.2f} | {kb:.0f} |")
    table = "\n".join(lines)
    (out / "accuracy.md").write_text(table + "\n")
    print(table)

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, mean_iou, _, ms, _ in rows:
        ax.scatter(ms, mean_iou, s=50, marker="*" if "MediaPipe" in label else "o")
        ax.annotate(label, (ms, mean_iou), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("TFLite latency (ms, this CPU)")
    ax.set_ylabel("PFCN test IoU (per-image mean)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "accuracy.png", dpi=120)
    print(f"wrote {out / 'accuracy.md'} and {out / 'accuracy.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
