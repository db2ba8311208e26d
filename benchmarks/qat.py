"""Quantization-aware int8 against post-training int8, and why a short fine-tune can lose.

For each shipped model: post-training int8 (per channel), then quantization-aware
fine-tunes at a few (learning rate, augmentation) settings, each scored twice on PFCN
test: the *float* weights right after the fine-tune, and the int8 file made from them.
If the float weights already fell, the fine-tune moved the model (the rate or the data
is wrong for a finished model); if only the int8 file fell, the rounding is to blame.
A rate of 0 must give post-training int8 back: it is the check on the comparison.

    python benchmarks/qat.py --models sinet,portraitnet

writes ``benchmarks/results/qat.md`` (``qat_<models>.md`` for a subset); ``--settings
1e-5:mild,0:mild`` tries only those.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import chosen_models, parser, pfcn_test, run_line, write_result  # noqa: E402

#: (learning rate, augmentation): the old default, the old rate on mild data, the new default, rate 0
SETTINGS = ((1e-4, "full"), (1e-4, "mild"), (1e-5, "mild"), (0.0, "mild"))


def _settings(text: str) -> tuple:
    """'1e-5:mild,0:mild' -> ((1e-05, 'mild'), (0.0, 'mild'))."""
    import argparse

    from selfieseg.data.augment import AUGMENTATIONS

    chosen = []
    for item in text.split(","):
        rate, _, augment = item.strip().partition(":")
        try:
            rate = float(rate)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: the rate must be a number, as in 1e-5:mild") from None
        known = [*AUGMENTATIONS, "none"]
        if augment not in known or rate < 0:
            raise argparse.ArgumentTypeError(f"{item!r}: want RATE:AUGMENT with a rate >= 0 and one of {', '.join(known)}")
        chosen.append((rate, augment))
    return tuple(chosen)


def main(argv=None) -> int:
    options = parser(__doc__)
    options.add_argument("--models", help="comma-separated shipped models (default: all shipped)")
    options.add_argument("--steps", type=int, default=60, help="quantization-aware batches (of 8) per setting")
    options.add_argument("--settings", type=_settings, default=SETTINGS,
                         help="RATE:AUGMENT,... (default: " + ",".join(f"{r:g}:{a}" for r, a in SETTINGS) + ")")
    args = options.parse_args(argv)
    if args.limit is None and os.environ.get("SELFIESEG_FAST") == "1":
        args.limit = 3

    import tempfile

    import selfieseg
    from selfieseg.data.training import training_sequences
    from selfieseg.evaluation import evaluate_split
    from selfieseg.export import export
    from selfieseg.inference import Segmenter, TFLiteSegmenter
    from selfieseg.models import build, shipped_input_size
    from selfieseg.quantize import QAT_AUGMENT, QAT_LEARNING_RATE, copy_back, quantization_aware_finetune

    names, stem = chosen_models(args.models, "qat")
    test = pfcn_test(args.limit)
    folder = Path(tempfile.mkdtemp())
    rows = []
    for name in names:
        size = shipped_input_size(name)
        shipped = selfieseg.load(name)
        started = time.time()
        float_iou = evaluate_split(Segmenter(shipped), test, progress=False).mean_iou
        ptq = export(shipped, folder / f"{name}_ptq.tflite", quantize="int8", verbose=0)
        ptq_iou = evaluate_split(TFLiteSegmenter(ptq), test, progress=False).mean_iou
        rows.append((name, "post-training int8", "-", "-", float_iou, ptq_iou, time.time() - started))
        print(f"{name}: float {float_iou:.4f}, post-training int8 {ptq_iou:.4f}", flush=True)
        for rate, augment in args.settings:
            started = time.time()
            copy = build(name, input_size=size)
            copy_back(shipped, copy)
            data, _ = training_sequences(("pfcn", "picsart"), size, batch_size=8, prior=copy.input_shape[-1] == 4,
                                         augment=augment)
            quantization_aware_finetune(copy, data, epochs=1, steps_per_epoch=args.steps, learning_rate=rate, verbose=0)
            tuned_iou = evaluate_split(Segmenter(copy), test, progress=False).mean_iou
            path = export(copy, folder / f"{name}_qat_{rate:g}_{augment}.tflite", quantize="int8", verbose=0)
            qat_iou = evaluate_split(TFLiteSegmenter(path), test, progress=False).mean_iou
            default = " (default)" if (rate, augment) == (QAT_LEARNING_RATE, QAT_AUGMENT) else ""
            rows.append((name, f"QAT{default}", f"{rate:g}", augment, tuned_iou, qat_iou, time.time() - started))
            print(f"{name}: QAT rate {rate:g} {augment}: float after {tuned_iou:.4f}, int8 {qat_iou:.4f}", flush=True)

    lines = [
        "# Quantization-aware against post-training int8",
        "",
        f"PFCN test ({len(test)} images), per-image mean IoU. Each QAT row fine-tunes the shipped weights for "
        f"{args.steps} batches of 8 (PFCN train + PicsArt) under int8 simulation, then scores the float weights "
        "right after the fine-tune and the int8 file (per channel, calibrated) made from them. "
        + run_line(names),
        "",
        "| model | method | rate | augmentation | float IoU after | int8 IoU | int8 - post-training | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    reference = {}
    for name, method, rate, augment, tuned, quantized, seconds in rows:
        if method == "post-training int8":
            reference[name] = quantized
        lines.append(f"| {name} | {method} | {rate} | {augment} | {tuned:.4f} | {quantized:.4f} | "
                     f"{quantized - reference[name]:+.4f} | {seconds:.0f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem + (f"_limit{args.limit}" if args.limit else "")
    write_result(out / f"{stem}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out / (stem + '.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
