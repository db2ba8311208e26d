"""Build the course's live browser demo: our exported model beside MediaPipe's, in one folder.

    python -m selfieseg.webdemo BUILD_DIR [--model sinet] [--anchors DIR] [--serve]

The page's sources live in the repository's ``book/demo`` (HTML, CSS, three JavaScript
modules, ``package.json`` and its lock). The build puts a folder that works offline from
any static web server:

* the page's files;
* the runtimes' ``.js``/``.wasm`` files, copied from ``book/demo/node_modules`` (``npm ci``
  is run there first when it is missing): onnxruntime-web for our model, LiteRT.js for
  MediaPipe's; nothing is fetched from a CDN when the page runs;
* ``models/<name>.onnx``: the shipped model exported by :func:`selfieseg.export.export`
  (the file :class:`selfieseg.inference.OnnxSegmenter` runs), cached under
  ``$SELFIESEG_CACHE/exports`` by the weights' hash so it is converted once (SINet: about
  40 s on 2 cores, 425 KB);
* ``models/mediapipe_selfie_segmentation.tflite``, copied from ``$SELFIESEG_ANCHORS``;
* ``models.json``: each model's file, runtime, input size, channels and layout, every file
  each runtime needs (the page checks them before loading anything, so a page served
  without one names it), and the sha256 of the weights that were exported.

Measured: the build is 35 MB, almost all of it the runtimes' WebAssembly (onnxruntime-web
14.8 MB; LiteRT.js 9.4 MB, and 9.3 MB more for browsers without relaxed SIMD, Safari's);
the models are 425 KB (SINet) and 244 KB (MediaPipe). A browser downloads one LiteRT build.
``benchmarks/browser.py`` measures the page's frames per second (benchmarks/results/browser.md).

The module also holds what the browser tests and that benchmark share: :func:`serve` (a
local static server), :func:`write_y4m` (a clip for Chromium's fake camera) and
:data:`CHROMIUM_FLAGS`. Importing it loads nothing heavy and prints nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from selfieseg.errors import SelfieSegError

REPO = Path(__file__).resolve().parent.parent
#: the page's sources (in a clone; a pip-installed package has no book/)
SOURCE = REPO / "book" / "demo"
PAGE_FILES = ("index.html", "demo.css", "demo.js", "effects.js", "runtimes.js", "segmentation.js")
MEDIAPIPE_FILE = "mediapipe_selfie_segmentation.tflite"
#: what marks a folder as one of these builds (a rebuild may replace it; another folder is refused)
GENERATOR = "selfieseg.webdemo"

#: each runtime's npm package, the module the page imports, the folder its WebAssembly is
#: loaded from, and every file copied: (path in the build, path in node_modules)
RUNTIMES = {
    "onnxruntime-web": {
        "package": "onnxruntime-web",
        "module": "vendor/onnxruntime-web/ort.wasm.min.mjs",
        "wasm_paths": "vendor/onnxruntime-web/",
        "files": {
            "vendor/onnxruntime-web/ort.wasm.min.mjs": "onnxruntime-web/dist/ort.wasm.min.mjs",
            "vendor/onnxruntime-web/ort-wasm-simd-threaded.mjs": "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
            "vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm": "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
        },
    },
    "litert": {
        "package": "@litertjs/core",
        "module": "vendor/litertjs/core.js",
        "wasm_paths": "vendor/litertjs/wasm/",
        "files": {
            "vendor/litertjs/core.js": "@litertjs/core/dist/index.js",
            "vendor/litertjs/wasm-utils.js": "@litertjs/wasm-utils/dist/index.js",
            # relaxed SIMD (Chromium, Firefox) and the build for browsers without it (Safari)
            "vendor/litertjs/wasm/litert_wasm_internal.js": "@litertjs/core/wasm/litert_wasm_internal.js",
            "vendor/litertjs/wasm/litert_wasm_internal.wasm": "@litertjs/core/wasm/litert_wasm_internal.wasm",
            "vendor/litertjs/wasm/litert_wasm_compat_internal.js": "@litertjs/core/wasm/litert_wasm_compat_internal.js",
            "vendor/litertjs/wasm/litert_wasm_compat_internal.wasm": "@litertjs/core/wasm/litert_wasm_compat_internal.wasm",
        },
    },
}

#: Chromium headless, with nothing reaching out to the network by itself
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
CHROMIUM = Path("/usr/bin/chromium")


class WebDemoError(SelfieSegError):
    """The demo cannot be built: a missing tool, file or folder, named with what to do."""


# --- the runtimes from npm -----------------------------------------------------------------


def ensure_node_modules(source: Path = SOURCE) -> Path:
    """``source/node_modules``, running ``npm ci`` (the exact versions of package-lock.json) if it is missing."""
    modules = source / "node_modules"
    if modules.is_dir():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise WebDemoError(f"{modules} is missing and npm is not installed: install Node.js with npm "
                           f"(e.g. apt-get install nodejs npm), or run `npm ci` in {source} on a machine that has it.")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=source,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise WebDemoError(f"`npm ci` in {source} failed (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-800:]}")
    return modules


def _package_version(modules: Path, package: str) -> str:
    return json.loads((modules / package / "package.json").read_text())["version"]


# --- the models ------------------------------------------------------------------------------


def exported_onnx(model: str = "sinet") -> Path:
    """The shipped ``model`` as ONNX, exported once per weights file (cached by its hash)."""
    from selfieseg.io import cache_root
    from selfieseg.models import shipped_models, shipped_weights_path, spec_of

    spec_of(model)  # an unknown name fails listing the valid ones
    weights = shipped_weights_path(model)
    if not weights.exists():
        raise WebDemoError(f"{model}: no shipped weights in this version of selfieseg; shipped: {', '.join(shipped_models())}.")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    path = cache_root() / "exports" / f"{model}-{digest}.onnx"
    if not path.exists():
        from selfieseg.export import export

        path.parent.mkdir(parents=True, exist_ok=True)
        export(model, path, verbose=0)
    return path


def _anchors(anchors) -> Path:
    folder = Path(anchors or os.environ.get("SELFIESEG_ANCHORS") or REPO.parent / "shared" / "anchors")
    path = folder / MEDIAPIPE_FILE
    if not path.exists():
        raise WebDemoError(f"{path}: MediaPipe's selfie segmenter is not there. Pass --anchors FOLDER or set "
                           "SELFIESEG_ANCHORS to the folder holding mediapipe_selfie_segmentation.tflite "
                           "(MediaPipe's model, published with its selfie segmentation solution).")
    return path


def _entry(identifier: str, label: str, runtime: str, file: str, segmenter, output_shape) -> dict:
    """One models.json entry, its sizes read back from the file by the library's own segmenter."""
    height, width = segmenter.input_hw
    out_height, out_width, out_channels = (int(d) for d in output_shape[1:4])
    if out_channels != 1:
        raise WebDemoError(f"{file}: the page reads a 1-channel probability, the model returns {out_channels} channels.")
    return {
        "id": identifier, "label": label, "runtime": runtime, "file": file,
        "input": {"width": width, "height": height, "channels": segmenter.channels, "layout": "NHWC",
                  "range": [0, 1], "prior": segmenter.channels == 4},
        "output": {"width": out_width, "height": out_height, "channels": 1, "meaning": "person probability"},
    }


# --- the build -------------------------------------------------------------------------------


def _check_target(build_dir: Path) -> None:
    """Refuse a folder that holds anything but an earlier build (a typo must not fill the repo)."""
    if not build_dir.exists():
        return
    if not build_dir.is_dir():
        raise WebDemoError(f"{build_dir}: exists and is not a folder; choose a new folder for the build.")
    marker = build_dir / "models.json"
    contents = list(build_dir.iterdir())
    if contents and not (marker.exists() and json.loads(marker.read_text()).get("generated_by") == GENERATOR):
        raise WebDemoError(f"{build_dir}: not empty and not an earlier demo build; choose an empty or new folder.")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(build_dir, model: str = "sinet", anchors=None, source: Path = SOURCE) -> dict:
    """Write the demo into ``build_dir`` (see the module docstring); returns models.json's content."""
    from selfieseg.inference import OnnxSegmenter, TFLiteSegmenter

    build_dir = Path(build_dir)
    missing = [name for name in PAGE_FILES + ("package.json", "package-lock.json") if not (source / name).exists()]
    if missing:
        raise WebDemoError(f"{source}: the demo's sources are missing ({', '.join(missing)}); the builder runs from a "
                           "clone of the repository, whose book/demo holds them.")
    if build_dir.resolve() == source.resolve():
        raise WebDemoError(f"{build_dir}: that is the demo's source folder; choose another folder for the build.")
    _check_target(build_dir)
    mediapipe = _anchors(anchors)
    modules = ensure_node_modules(source)
    onnx_file = exported_onnx(model)

    for stale in ("vendor", "models"):
        shutil.rmtree(build_dir / stale, ignore_errors=True)
    (build_dir / "models").mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(source / name, build_dir / name)
    runtimes = {}
    for runtime, spec in RUNTIMES.items():
        for target, origin in spec["files"].items():
            if not (modules / origin).exists():
                raise WebDemoError(f"{modules / origin}: missing from node_modules; delete {modules} and build again "
                                   "(npm ci restores the versions of package-lock.json).")
            (build_dir / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(modules / origin, build_dir / target)
        runtimes[runtime] = {"package": spec["package"], "version": _package_version(modules, spec["package"]),
                             "module": spec["module"], "wasm_paths": spec["wasm_paths"], "files": sorted(spec["files"])}

    ours = f"models/{model}.onnx"
    shutil.copyfile(onnx_file, build_dir / ours)
    theirs = f"models/{MEDIAPIPE_FILE}"
    shutil.copyfile(mediapipe, build_dir / theirs)
    onnx_segmenter = OnnxSegmenter(build_dir / ours, threads=1)
    tflite_segmenter = TFLiteSegmenter(build_dir / theirs, threads=1)
    entries = [
        _entry("ours", f"{model} (selfieseg)", "onnxruntime-web", ours, onnx_segmenter,
               onnx_segmenter.session.get_outputs()[0].shape),
        _entry("mediapipe", "MediaPipe selfie segmenter", "litert", theirs, tflite_segmenter,
               tflite_segmenter.interpreter.get_output_details()[0]["shape"]),
    ]
    for entry in entries:
        entry["bytes"] = (build_dir / entry["file"]).stat().st_size
        entry["sha256"] = _sha256(build_dir / entry["file"])
    from selfieseg.models import shipped_weights_path

    manifest = {"generated_by": GENERATOR, "model": model, "weights_sha256": _sha256(shipped_weights_path(model)),
                "models": entries, "runtimes": runtimes}
    (build_dir / "models.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# --- what the tests and the benchmark share ----------------------------------------------------


def write_y4m(frames, path, fps: int = 10) -> Path:
    """RGB uint8 frames (all one even size) as a YUV4MPEG2 clip (I420), what Chromium's fake
    camera plays (``--use-file-for-fake-video-capture``), looping."""
    import cv2
    import numpy as np

    path = Path(path)
    frames = [np.ascontiguousarray(frame, dtype=np.uint8) for frame in frames]
    height, width = frames[0].shape[:2]
    if height % 2 or width % 2 or any(frame.shape != frames[0].shape for frame in frames):
        raise WebDemoError(f"{path}: y4m (I420) frames must all share one even width and height; got "
                           f"{sorted({frame.shape for frame in frames})}.")
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@contextlib.contextmanager
def serve(directory, hidden=()):
    """A static server for ``directory`` on 127.0.0.1 in a thread: yields the page's base URL.

    Paths in ``hidden`` (relative, e.g. ``models/sinet.onnx``) answer 404: a page served without them.
    """
    import functools
    import http.server
    import threading

    hidden = {"/" + str(path).lstrip("/") for path in hidden}

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript",
                          ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json",
                          ".onnx": "application/octet-stream", ".tflite": "application/octet-stream"}

        def send_head(self):
            if self.path.split("?")[0] in hidden:
                self.send_error(404, "hidden for this test")
                return None
            return super().send_head()

        def log_message(self, format, *args):  # noqa: A002 - http.server's name
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selfieseg.webdemo", description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", help="folder to write (new, empty, or an earlier build)")
    parser.add_argument("--model", default="sinet", help="shipped model to export (default: sinet)")
    parser.add_argument("--anchors", help="folder with MediaPipe's .tflite (default: $SELFIESEG_ANCHORS)")
    parser.add_argument("--serve", action="store_true", help="then serve the page on http://127.0.0.1 until Ctrl-C")
    args = parser.parse_args(argv)
    from selfieseg.quiet import load_tensorflow_quietly

    load_tensorflow_quietly()  # the model registry loads Keras; without TensorFlow's start-up notices
    try:
        manifest = build(args.build_dir, model=args.model, anchors=args.anchors)
    except SelfieSegError as exc:
        print(f"selfieseg.webdemo: {exc}", file=sys.stderr)
        return 2
    for entry in manifest["models"]:
        size = entry["input"]
        print(f"  {entry['file']:48s} {entry['runtime']:16s} {size['width']}x{size['height']}x{size['channels']}")
    print(f"demo written to {args.build_dir}")
    if args.serve:
        import time

        with serve(args.build_dir) as url:
            print(f"serving {url}index.html (the camera works there: localhost counts as a secure page); Ctrl-C stops")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
