"""Parameters, multiply-adds, Keras and TFLite latency of the four architectures beside
MediaPipe's selfie segmenter, measured in one run on this machine.

    SELFIESEG_ANCHORS=../shared/anchors .venv/bin/python benchmarks/models.py --runs 50
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from _common import write_result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--anchors", default=os.environ.get("SELFIESEG_ANCHORS", "../shared/anchors"))
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)

    from selfieseg.models import build
    from selfieseg.profile import mediapipe_row, profile, time_together

    rows = [profile(build(name), runs=args.runs, timed=False) for name in ("mnv2_unet", "mnv3_unet", "portraitnet", "sinet")]
    anchors = Path(args.anchors)
    rows.append(mediapipe_row(anchors, timed=False))
    rows.append(mediapipe_row(anchors, landscape=True, timed=False))
    time_together(rows, runs=args.runs * 2)  # one interleaved timing: ratios free of the machine's drift
    reference = rows[-2]["tflite_ms"]

    def cell(value, fmt):
        return "-" if value is None else format(value, fmt)

    lines = ["| model | input | params | MMACs | Keras ms | TFLite KB | TFLite ms | ratio to MediaPipe |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['input']} | {cell(r['params'], ',d')} | {cell(r['MMACs'], '.1f')} | "
                     f"{cell(r['keras_ms'], '.1f')} | {r['tflite_kb']:.0f} | {r['tflite_ms']:.2f} | {r['tflite_ms'] / reference:.2f} |")
    table = "\n".join(lines)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_result(out / "models.md", table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
