"""The ``selfieseg`` command line.

Errors a user can fix print one line (what went wrong, with the file, and what to do)
and exit with status 2, instead of a traceback.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from selfieseg.errors import SelfieSegError

REPO = Path(__file__).resolve().parent.parent


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
    from selfieseg.models import SPECS, shipped_weights_path

    shipped = [name for name, spec in SPECS.items() if not spec.tiny and shipped_weights_path(name).exists()]
    if not shipped:
        book = REPO / "_config.yml"
        if not book.exists():
            raise SelfieSegError("no shipped weights in this version and no book source beside the package.")
        print("No shipped weights yet: building the course book instead (the segmentation demo arrives with trained weights).")
        subprocess.run([sys.executable, "-m", "jupyter_book", "build", str(REPO), "--quiet"], check=True, env=None)
        print(f"Book written to {REPO / '_build' / 'html' / 'index.html'}")
        return 0
    raise SelfieSegError("the segmentation demo needs selfieseg.inference, which arrives with the training issue.")


def _cmd_exercises(args) -> int:
    from selfieseg.exercises import strip_solutions

    out = strip_solutions(args.notebook, args.output)
    print(f"student copy without solutions: {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="selfieseg", description=__doc__.splitlines()[0])
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
    p.add_argument("image", nargs="?")
    p.add_argument("--out", default="outputs/demo")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("exercises", help="make a student copy of a chapter without its solution cells")
    p.add_argument("notebook")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_exercises)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
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
