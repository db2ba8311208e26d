"""The interpolation line on the held-out sets: each point between a model's start and its fine-tuning, beside MediaPipe.

``selfieseg interpolate --run RUN --out OUT --save-points`` chooses a point on the run's
validation samples and leaves every point it tried in OUT (``alpha_*.weights.h5``). This
script scores each of those points on the benchmark's four held-out sets
(:data:`selfieseg.evaluation.BENCHMARK_SETS`), with MediaPipe (general) measured in the
same run, so the trade-off the validation choice made can be read off on data that played
no part in it. It reports; it chooses nothing.

    python benchmarks/interpolation.py --points runs/portraitnet_mix_interp

writes ``benchmarks/results/interpolation_<model>.md`` and ``.png``; ``--tag distilled``
writes ``interpolation_<model>_distilled.*`` instead, so a second recipe for the same
model is kept beside the first rather than over it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import mediapipe_files, parser, pyplot, save_figure, write_result  # noqa: E402


def point_files(folder: Path) -> list[tuple[float, Path]]:
    """``(alpha, file)`` for every ``alpha_A.weights.h5`` in ``folder``, by alpha."""
    found = []
    for path in folder.glob("alpha_*.weights.h5"):
        match = re.fullmatch(r"alpha_([0-9.]+)\.weights\.h5", path.name)
        if match:
            found.append((float(match.group(1)), path))
    return sorted(found)


def main(argv=None) -> int:
    options = parser(__doc__)
    options.add_argument("--points", required=True, help="a folder written by `selfieseg interpolate --save-points`")
    options.add_argument("--tag", default="", help="a suffix for the result files, to keep several runs of one model apart")
    args = options.parse_args(argv)
    if args.tag and not re.fullmatch(r"[A-Za-z0-9_-]+", args.tag):
        raise SystemExit(f"--tag {args.tag!r}: use letters, digits, '-' or '_' (it becomes part of a file name).")
    if args.limit is None and os.environ.get("SELFIESEG_FAST") == "1":
        args.limit = 3
    folder = Path(args.points)
    state_path = folder / "state.json"
    points = point_files(folder)
    if not state_path.exists() or not points:
        raise SystemExit(f"{folder}: no state.json or no alpha_*.weights.h5; make it with "
                         "`selfieseg interpolate --run RUN --out OUT --save-points`.")
    state = json.loads(state_path.read_text())
    settings, record = state["settings"], state.get("interpolation", {})
    name, size = settings["model"], int(settings["input_size"])
    mediapipe_path = dict(mediapipe_files(args.anchors))["mediapipe"]
    plt = pyplot()

    import selfieseg
    from selfieseg.evaluation import benchmark_readers, evaluate_split
    from selfieseg.inference import Segmenter, TFLiteSegmenter

    readers = benchmark_readers(limit=args.limit)
    columns = list(readers)
    reference = {column: evaluate_split(TFLiteSegmenter(mediapipe_path), reader, progress=False).mean_iou
                 for column, reader in readers.items()}
    rows = []
    model = selfieseg.load(name, weights=None, input_size=size, **settings.get("options", {}))
    segmenter = Segmenter(model)
    for alpha, path in points:
        model.load_weights(str(path))
        scores = {column: evaluate_split(segmenter, reader, progress=False).mean_iou
                  for column, reader in readers.items()}
        rows.append((alpha, scores))
        print(f"alpha {alpha:.3f}: " + ", ".join(f"{column} {value:.4f}" for column, value in scores.items()), flush=True)

    mean = lambda scores: sum(scores.values()) / len(scores)  # noqa: E731
    chosen = record.get("alpha")
    counts = ", ".join(f"{column} {len(reader)}" for column, reader in readers.items())
    lines = [
        f"# Interpolating {name}'s fine-tuning: the held-out sets along the line",
        "",
        f"Per-image mean person IoU ({counts} images) at each point between the start "
        f"`{record.get('start', '?')}` (alpha 0) and the fine-tuned run's best `{record.get('end', '?')}` (alpha 1), "
        "with MediaPipe (general) measured in the same run. The point shipped is chosen on validation "
        f"({record.get('criterion', 'not recorded')}), not here: chosen alpha {chosen}.",
        "",
        "| alpha | " + " | ".join(columns) + " | mean |",
        "|---|" + "---|" * (len(columns) + 1),
        "| MediaPipe | " + " | ".join(f"{reference[c]:.4f}" for c in columns) + f" | {mean(reference):.4f} |",
    ]
    for alpha, scores in rows:
        mark = " (chosen)" if chosen is not None and abs(alpha - chosen) < 1e-9 else ""
        lines.append(f"| {alpha:.3f}{mark} | " + " | ".join(f"{scores[c]:.4f}" for c in columns)
                     + f" | {mean(scores):.4f} |")
    if record.get("table"):
        lines += ["", "The validation table the choice was made on (the run's own held-back samples, per dataset):", "",
                  "| alpha | " + " | ".join(k for k in record["table"][0] if k != "alpha") + " |",
                  "|---|" + "---|" * (len(record["table"][0]) - 1)]
        for row in record["table"]:
            lines.append(f"| {row['alpha']:.3f} | " + " | ".join(f"{v:.4f}" for k, v in row.items() if k != "alpha") + " |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = (f"interpolation_{name}" + (f"_{args.tag}" if args.tag else "")
            + (f"_limit{args.limit}" if args.limit else ""))
    write_result(out / f"{stem}.md", "\n".join(lines) + "\n")

    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3.2), sharex=True)
    alphas = [alpha for alpha, _ in rows]
    for ax, column in zip(axes, columns):
        ax.plot(alphas, [scores[column] for _, scores in rows], marker="o", label=name)
        ax.axhline(reference[column], color="tab:red", ls=":", label="MediaPipe")
        if chosen is not None:
            ax.axvline(chosen, color="grey", ls="--", lw=1)
        ax.set_title(column, fontsize=10)
        ax.set_xlabel("alpha")
    axes[0].set_ylabel("test IoU")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / f"{stem}.png", dpi=110)
    print("\n".join(lines))
    print(f"wrote {out / (stem + '.md')} and {out / (stem + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
