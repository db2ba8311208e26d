"""The ``selfieseg`` command line.

Errors a user can fix print one line (what went wrong, with the file, and what to do)
and exit with status 2, instead of a traceback.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from selfieseg.errors import SelfieSegError

REPO = Path(__file__).resolve().parent.parent
MIRROR_HELP = "also segment the mirrored photo and average the two (twice the model time; a better cut-out)"


def _cmd_datasets(args) -> int:
    from selfieseg import data

    manifest = data.load_manifest()
    root = data.data_root(args.root)
    print(f"data root: {root}")
    for name, entry in manifest.items():
        present = (root / name).is_dir()
        count = ""
        if present:
            try:
                listing = {"split": "all"} if name == "pfcn" else {}  # every pair, not one split
                count = f"{len(data.open_dataset(name, root, **listing))} samples"
            except SelfieSegError as exc:
                count = f"unreadable: {exc}"
        link = "download" if entry.get("url") else "manual"
        print(f"  {name:22s} {'present' if present else 'absent ':8s} {link:8s} {count}")
    return 0


def _cmd_download(args) -> int:
    from selfieseg import data

    path = data.download(args.name, root=args.root, url=args.url, sha256=args.sha256, force=args.force)
    print(f"{args.name}: ready in {path}")
    return 0


def _cmd_models(args) -> int:
    from selfieseg.models import list_models

    print(f"{'name':18s} {'input':>7s} {'params':>10s} {'paper':>10s}  shipped  description")
    for row in list_models(include_tiny=args.tiny):
        paper = f"{row['paper_params']:,}" if row["paper_params"] else "-"
        size = f"{row['input_size']}x{row['channels']}"
        print(f"{row['name']:18s} {size:>7s} {row['params']:>10,} {paper:>10s}  {'yes' if row['shipped'] else 'no ':7s}  {row['description']}")
    return 0


def _cmd_demo(args) -> int:
    from selfieseg.demo import run_demo, shipped_models

    if not shipped_models():
        book = REPO / "_config.yml"
        if not book.exists():
            raise SelfieSegError("no shipped weights in this version and no book source beside the package.")
        print("No shipped weights yet: building the course book instead (the segmentation demo arrives with trained weights).")
        executable = Path(sys.executable).with_name("jupyter-book")
        if not executable.exists():
            raise SelfieSegError("jupyter-book is not installed: pip install 'selfieseg[book]'.")
        subprocess.run([str(executable), "build", str(REPO), "--quiet"], check=True)
        print(f"Book written to {REPO / '_build' / 'html' / 'index.html'}")
        return 0
    results = run_demo(args.image, args.out, args.model)
    print(f"segmented {'the sample portrait' if args.image is None else args.image} with {results['model']}:")
    for key in ("mask", "blurred", "replaced", "cutout", "side_by_side"):
        print(f"  {key:13s} {results[key]}")
    return 0


def _cmd_train(args) -> int:
    from selfieseg.settings import TrainSettings
    from selfieseg.train import train

    settings = TrainSettings(
        model=args.model, data=args.data, data_weights=args.data_weights, epochs=args.epochs, out=args.out, resume=args.resume,
        input_size=args.input_size, batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed,
        steps_per_epoch=args.steps_per_epoch, init_weights=args.init, consistency=args.consistency,
        augment=args.augment, teacher=args.teacher, distill=args.distill, minutes=args.minutes,
        workers=args.workers, average_from=args.average_from, composite=args.composite, devices=args.devices,
    )
    state = train(settings)
    print(f"{args.out}: epoch {state['epoch']}, best validation IoU {state['best']:.4f}, "
          f"{state['seconds'] / 60:.1f} min of training")
    return 0


def _cmd_evaluate(args) -> int:
    import inspect

    from selfieseg import data
    from selfieseg.errors import DatasetError
    from selfieseg.evaluation import evaluate_split
    from selfieseg.inference import open_segmenter

    # every reader with splits gets one (test by default: PFCN's official list, the
    # committed VOC person and CCP lists); a set without splits is scored whole
    takes_split = "split" in inspect.signature(data.READERS[args.data].__init__).parameters \
        if args.data in data.READERS else False
    if not takes_split and args.split not in (None, "all"):
        raise DatasetError(f"{args.data} has no {args.split} split: leave --split out to score all of it.")
    options = {"split": args.split or "test"} if takes_split else {}
    segmenter = open_segmenter(args.model, weights=args.weights or "shipped", mirror=args.mirror)
    reader = data.open_dataset(args.data, **options)
    args.split = options.get("split", "(all)")
    scores = evaluate_split(segmenter, reader)
    print(f"{segmenter.name}{' mirrored' if args.mirror else ''} on {args.data} {args.split or ''} ({len(scores.per_image)} images): "
          f"mean per-image IoU {scores.mean_iou:.4f}, dataset IoU {scores.dataset_iou:.4f}")
    return 0


def _cmd_ship(args) -> int:
    from selfieseg.release import ship

    card = ship(args.run, input_size=args.input_size, weights=args.weights)
    print(json.dumps(card, indent=2))
    return 0


def _cmd_interpolate(args) -> int:
    from selfieseg.errors import ModelError
    from selfieseg.weight_interpolation import interpolate_run

    try:
        alphas = [float(value) for value in args.alphas.split(",") if value.strip()]
    except ValueError:
        raise ModelError(f"--alphas {args.alphas!r}: give comma-separated numbers in [0, 1], e.g. 0,0.5,1.") from None
    record = interpolate_run(args.run, args.out, alphas=alphas, start=args.start, keep=args.keep,
                             save_points=args.save_points)
    names = [key for key in record["table"][0] if key != "alpha"]
    print("validation IoU per dataset (" + record["criterion"] + f", {record['validation_images']} images)")
    print("alpha  " + "  ".join(f"{name:>10s}" for name in names))
    for row in record["table"]:
        mark = "  <- chosen" if row["alpha"] == record["alpha"] else ""
        print(f"{row['alpha']:5.3f}  " + "  ".join(f"{row[name]:10.4f}" for name in names) + mark)
    print(f"wrote {args.out}/best.weights.h5 (alpha {record['alpha']:g}); ship it with: selfieseg ship --run {args.out}")
    return 0


def _cmd_export(args) -> int:
    from selfieseg.export import export

    weights = args.weights or "shipped"
    path = export(args.model, args.output, format=args.format, quantize=args.quantize, weights=weights,
                  input_size=args.input_size, representative=args.representative, samples=args.samples,
                  per_channel=not args.per_tensor, qat_epochs=args.qat_epochs, qat_steps=args.qat_steps)
    print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KB)")
    return 0


def _cmd_photos(args) -> int:
    options = dict(model=args.model, action=args.command, background=getattr(args, "background", None),
                   strength=getattr(args, "strength", 15.0), refine=args.refine, mirror=args.mirror)
    if Path(args.input).is_dir():
        # a folder streams through the batched, resumable segmenter: a summary, not a line per file
        from selfieseg.batch import FAILED_FILE, segment_folder

        if args.ray is not None:
            # the same per-batch step in a Ray actor pool (selfieseg.scale; pip install 'selfieseg[scale]')
            from selfieseg.scale import segment_folder_ray

            run = segment_folder_ray(args.input, args.out, workers=args.workers or 2, batch_size=args.batch_size,
                                     address=args.ray, overwrite=args.overwrite, **options)
        else:
            run = segment_folder(args.input, args.out, batch_size=args.batch_size, workers=args.workers,
                                 overwrite=args.overwrite, **options)
        for reason in list(run.failed.values())[:10]:
            print(f"selfieseg: skipped {reason}", file=sys.stderr)
        if len(run.failed) > 10:
            print(f"selfieseg: ... and {len(run.failed) - 10} more", file=sys.stderr)
        print(f"{run.processed} photos written to {args.out} ({run.photos_per_second:.1f} photos/s)"
              + (f"; {run.skipped} already done" if run.skipped else "")
              + (f"; {len(run.failed)} skipped, listed in {Path(args.out) / FAILED_FILE}" if run.failed else ""))
        return 2 if run.failed else 0
    from selfieseg.photos import process_photos

    result = process_photos(args.input, args.out, **options)
    for path in result["written"]:
        print(path)
    return 0


def _cmd_video(args) -> int:
    from selfieseg.video import process_video

    # no --model: process_video takes the registry's video choice (video_shipped_model)
    result = process_video(args.input, args.output, effect=args.effect, background=args.background, model=args.model,
                           smoothing=not args.no_smoothing, strength=args.strength, refine=args.refine,
                           quantize=args.quantize, limit=args.frames,
                           motion_compensation=not args.no_motion_compensation)
    print(f"wrote {result['output']}: {result['frames']} frames in {result['seconds']:.1f} s "
          f"({result['frames_per_second']:.1f} frames/s)")
    return 0


def _cmd_exercises(args) -> int:
    from selfieseg.exercises import strip_solutions

    out = strip_solutions(args.notebook, args.output)
    print(f"student copy without solutions: {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="selfieseg", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own start-up log (hidden by default)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list the seed datasets and which are present")
    p.add_argument("--root", help="data root (default: $SELFIESEG_DATA)")
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("download", help="download a dataset into the data root")
    p.add_argument("name")
    p.add_argument("--root")
    p.add_argument("--url", help="a mirror URL instead of the manifest's")
    p.add_argument("--sha256")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_cmd_download)

    p = sub.add_parser("models", help="list the architectures with sizes and parameter counts")
    p.add_argument("--tiny", action="store_true", help="include the tiny test variants")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("demo", help="the README's main job")
    p.add_argument("image", nargs="?", help="a photo (default: scikit-image's astronaut)")
    p.add_argument("--out", default="outputs/demo")
    p.add_argument("--model", help="a shipped model name (default: the most accurate shipped)")
    p.set_defaults(func=_cmd_demo)

    from selfieseg.data.augment import AUGMENTATIONS
    from selfieseg.settings import TrainSettings

    p = sub.add_parser("train", help="train a model (checkpoints every epoch; --resume continues)")
    p.add_argument("--model", required=True)
    p.add_argument("--data", default=",".join(TrainSettings.default("data")), help="comma-separated dataset names (PFCN: its train split)")
    p.add_argument("--data-weights", metavar="NAME=W,...",
                   help="each dataset's share of a training epoch, e.g. pfcn=1,picsart=1,voc_person=1,ccp=1 "
                        "(left out: 1; default: every photo once an epoch)")
    p.add_argument("--epochs", type=int, default=TrainSettings.default("epochs"))
    p.add_argument("--out", required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--input-size", type=int)
    p.add_argument("--batch-size", type=int, default=TrainSettings.default("batch_size"))
    p.add_argument("--lr", type=float, default=TrainSettings.default("learning_rate"))
    p.add_argument("--seed", type=int, default=TrainSettings.default("seed"))
    p.add_argument("--steps-per-epoch", type=int)
    p.add_argument("--init", help="start from these weights (e.g. a smaller-size run's best.weights.h5)")
    p.add_argument("--consistency", type=float, default=TrainSettings.default("consistency"),
                   help="weight of PortraitNet's consistency loss against a texture-augmented twin (0: off; ~2x compute)")
    p.add_argument("--augment", default=TrainSettings.default("augment"), choices=[*AUGMENTATIONS, "none"],
                   help="augmentation recipe: full (default), mild (narrow geometry, for a fine-tuning stage), "
                        "wide (zooms down to 0.2x: small people and full figures, for mixed data), none")
    p.add_argument("--composite", type=float, default=TrainSettings.default("composite"), metavar="P",
                   help="share of training people (0-1) put in front of another training photo's background, "
                        "its person smeared out (background compositing; default 0: off)")
    p.add_argument("--teacher", help="distil this model (a shipped name or .keras file) into the one trained")
    p.add_argument("--distill", type=float, default=TrainSettings.default("distill"),
                   help="with --teacher: the teacher's share of each training target (0-1; default 0.5)")
    p.add_argument("--minutes", type=float,
                   help="train to this wall-clock budget: --epochs becomes a ceiling, the cosine schedule follows time")
    p.add_argument("--workers", type=int, default=TrainSettings.default("workers"), help="threads preparing batches")
    p.add_argument("--devices", metavar="all|N",
                   help="data-parallel over this many local accelerators (JAX backend: KERAS_BACKEND=jax); "
                        "--batch-size is then per device and the learning rate scales with the count. "
                        "Several hosts: set KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES, _PROCESS_ID")
    p.add_argument("--average-from", type=int, metavar="EPOCH",
                   help="from this epoch (0 = the first) on, hold the learning rate and average the weights of "
                        "every epoch (stochastic weight averaging); the average is validated and kept when best")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="person IoU of a model on a dataset split")
    p.add_argument("--model", default="sinet")
    p.add_argument("--weights", help="a .weights.h5, .keras, .tflite or .onnx file (default: shipped)")
    p.add_argument("--data", default="pfcn")
    p.add_argument("--split", help="test (default, for sets with splits), train, all")
    p.add_argument("--mirror", action="store_true", help=MIRROR_HELP)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("ship", help="evaluate a run on PFCN test, copy its weights into the package, write its model card")
    p.add_argument("--run", required=True)
    p.add_argument("--input-size", type=int,
                   help="serve at this size instead of the training size (pick it on the validation split)")
    p.add_argument("--weights", choices=["best", "average"], default="best",
                   help="the run's best checkpoint (default) or, after --average-from, its weight average")
    p.set_defaults(func=_cmd_ship)

    p = sub.add_parser("interpolate", help="choose, on validation, a point between a fine-tuned run and its start; "
                                           "writes it as a run folder for ship")
    p.add_argument("--run", required=True, help="a training run folder that started from --init weights")
    p.add_argument("--out", required=True, help="the new run folder (never the run itself)")
    p.add_argument("--start", help="the weights at alpha 0 (default: the run's --init weights)")
    p.add_argument("--alphas", default=",".join(f"{a:g}" for a in (0.0, 0.25, 0.5, 0.625, 0.75, 0.875, 1.0)),
                   help="the points tried, comma-separated, in [0, 1] (0: the start, 1: the run's best)")
    p.add_argument("--keep", type=float,
                   help="only points where no dataset's validation IoU falls more than this below the start's")
    p.add_argument("--save-points", action="store_true",
                   help="also keep every point's weights (for benchmarks/interpolation.py)")
    p.set_defaults(func=_cmd_interpolate)

    for action, text in (("segment", "person mask and transparent cut-out of a photo or a folder"),
                         ("blur", "blur the background of a photo or a folder"),
                         ("replace", "replace the background of a photo or a folder"),
                         ("grey", "colour pop: grey background, the person in colour")):
        p = sub.add_parser(action, help=text)
        p.add_argument("input", help="a photo or a folder of photos")
        p.add_argument("-o", "--out", required=True, help="output folder")
        p.add_argument("--model", help="shipped model name or .keras file (default: the most accurate shipped)")
        p.add_argument("--refine", action="store_true", help="snap mask edges to image edges (guided filter)")
        p.add_argument("--mirror", action="store_true", help=MIRROR_HELP)
        p.add_argument("--batch-size", type=int, default=16, help="photos per model call for a folder (default 16)")
        p.add_argument("--workers", type=int, help="threads decoding and writing for a folder (default: one per core)")
        p.add_argument("--overwrite", action="store_true",
                       help="redo photos whose outputs exist (default: a rerun resumes, skipping them)")
        p.add_argument("--ray", metavar="ADDRESS", nargs="?", const="local",
                       help="a folder on Ray (pip install 'selfieseg[scale]'): --ray alone starts a local Ray; "
                            "--ray HOST:PORT or ray://HOST:PORT joins a cluster, --ray auto the one RAY_ADDRESS names. "
                            "--workers is then the number of actors (default 2), each holding the model")
        if action == "blur":
            p.add_argument("--strength", type=float, default=15.0, help="blur sigma in pixels")
        if action == "replace":
            p.add_argument("--background", required=True, help="the new background image")
        p.set_defaults(func=_cmd_photos)

    from selfieseg.export import QUANTIZE_MODES

    p = sub.add_parser("video", help="blur / replace the background of a video or camera, or write its mask video")
    p.add_argument("input", help="a video file, or a camera index such as 0")
    p.add_argument("output", help="the output video (.mp4 or .avi)")
    p.add_argument("--effect", default="blur", choices=["blur", "replace", "grey", "mask"])
    p.add_argument("--background", help="an image or a video for --effect replace (default: a studio gradient)")
    p.add_argument("--model", help="shipped model name, .tflite or .keras (default: portraitnet when shipped; sinet: the 100K-parameter one)")
    p.add_argument("--strength", type=float, default=15.0, help="blur sigma in pixels")
    p.add_argument("--no-smoothing", action="store_true", help="frame-by-frame masks (no temporal smoothing)")
    p.add_argument("--no-motion-compensation", action="store_true",
                   help="do not move the previous mask along the optical flow (about 3 ms a frame less; lags on motion)")
    p.add_argument("--refine", action="store_true", help="guided-filter edge refinement (slower)")
    p.add_argument("--quantize", default="none", choices=[m for m in QUANTIZE_MODES if m != "qat"],
                   help="run the model as this kind of TFLite file (default: none)")
    p.add_argument("--frames", type=int, help="stop after N frames (needed for a camera)")
    p.set_defaults(func=_cmd_video)

    p = sub.add_parser("export", help="export a model to TFLite (optionally quantized) or ONNX")
    p.add_argument("--model", required=True, help="a model name (shipped weights unless --weights) or a .keras file")
    p.add_argument("--weights", help="a .weights.h5 file for --model (default: shipped)")
    p.add_argument("--format", choices=["tflite", "onnx"], help="default: from the output's suffix")
    p.add_argument("--quantize", default="none", choices=QUANTIZE_MODES, help="TFLite quantization (default: none)")
    p.add_argument("--input-size", type=int)
    p.add_argument("--representative", help="folder of photos to calibrate int8 (default: training data)")
    p.add_argument("--samples", type=int, default=64, help="calibration images for int8")
    p.add_argument("--per-tensor", action="store_true", help="int8 with one scale per tensor (smaller file)")
    p.add_argument("--qat-epochs", type=int, default=1)
    p.add_argument("--qat-steps", type=int, default=60, help="batches per quantization-aware epoch")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("exercises", help="make a student copy of a chapter without its solution cells")
    p.add_argument("notebook")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_exercises)
    for command in sub.choices.values():  # `selfieseg COMMAND ... --verbose` works too
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="show TensorFlow's own start-up log (hidden by default)")
    return parser


#: commands that never load TensorFlow (the quiet import is skipped for them)
_WITHOUT_TENSORFLOW = {"datasets", "download", "exercises"}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose and args.command not in _WITHOUT_TENSORFLOW:
        from selfieseg.quiet import load_tensorflow_quietly

        load_tensorflow_quietly()
    try:
        return args.func(args)
    except SelfieSegError as exc:
        print(f"selfieseg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("selfieseg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
