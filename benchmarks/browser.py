"""Frames per second of the live browser demo (book/demo), our model and MediaPipe's, in headless Chromium.

The page is built as the book publishes it (``python -m selfieseg.webdemo``) and opened in
Debian's Chromium with its fake camera playing DAVIS parkour frames (a real clip, 854x480;
the table says at what size Chromium hands the frames to the page). Both models run on
every frame, one after the other, on one WebAssembly thread each (onnxruntime-web for ours,
LiteRT.js for MediaPipe's). For each model, over ``--seconds`` after a warm-up:

* frames/s: 1000 / the mean time a frame takes for that model: preparing the input
  (INTER_AREA squash), running the model, restoring the probability (bilinear) and, with
  smoothing on, the temporal smoother (the page's own FPS readout, averaged over the run);
* the model alone: the runtime's call, in ms.

The page's loop (both models plus drawing both effects) is the last line; the camera plays
30 frames/s, which caps it. Software rendering (--disable-gpu), so drawing is slower than
on a desktop with a GPU.

    SELFIESEG_DATA=../shared/data SELFIESEG_ANCHORS=../shared/anchors \\
        .venv/bin/python benchmarks/browser.py --out benchmarks/results
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import mediapipe_files, parser, write_result


def measure(browser, url: str, smoothing: bool, seconds: float, warmup_frames: int = 5) -> dict:
    """One page, camera on, for ``seconds`` after ``warmup_frames``: per-model means and the loop's rate."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    try:
        page.goto(url + "index.html")
        page.wait_for_function("window.selfiesegDemo && window.selfiesegDemo.ready", timeout=180_000)
        failed = page.evaluate("selfiesegDemo.failed")
        if failed:
            raise SystemExit(f"the page could not load every model: {failed}")
        if not smoothing:
            page.uncheck("#smoothing")
        page.click("#camera-start")
        page.wait_for_function(f"selfiesegDemo.frames >= {warmup_frames}", timeout=180_000)
        snapshot = ("({stats: JSON.parse(JSON.stringify(selfiesegDemo.stats)), frames: selfiesegDemo.frames, "
                    "last: selfiesegDemo.last, now: performance.now()})")
        start = page.evaluate(snapshot)
        time.sleep(seconds)
        end = page.evaluate(snapshot)
    finally:
        page.close()
    if errors:
        raise SystemExit(f"the page logged errors: {errors[:5]}")
    results = {"loop_fps": 1000 * (end["frames"] - start["frames"]) / (end["now"] - start["now"]), "models": {},
               "frame": f"{end['last']['width']}x{end['last']['height']}"}
    for name, totals in end["stats"].items():
        frames = totals["frames"] - start["stats"][name]["frames"]
        total = (totals["totalMs"] - start["stats"][name]["totalMs"]) / frames
        model = (totals["modelMs"] - start["stats"][name]["modelMs"]) / frames
        results["models"][name] = {"frames": frames, "fps": 1000 / total, "total_ms": total, "model_ms": model}
    return results


def main(argv=None) -> int:
    options = parser(__doc__, limit=False)
    options.add_argument("--seconds", type=float, default=20.0, help="measured seconds per configuration")
    options.add_argument("--model", default="sinet", help="shipped model exported for the page (default: sinet)")
    options.add_argument("--build", help="an existing build of the page (default: build one in a temporary folder)")
    options.add_argument("--frames", type=int, default=30, help="DAVIS parkour frames in the fake camera's clip")
    args = options.parse_args(argv)

    from selfieseg.data import open_dataset
    from selfieseg.webdemo import CHROMIUM, CHROMIUM_FLAGS, serve, write_y4m

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("the playwright package is not installed: pip install playwright (Chromium is Debian's: "
                         "apt-get install chromium; never `playwright install`).") from None
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium.")
    work = Path(tempfile.mkdtemp(prefix="browser-bench-"))
    build = Path(args.build) if args.build else work / "demo"
    if not args.build:
        anchors = mediapipe_files(args.anchors)[0][1].parent
        done = subprocess.run([sys.executable, "-m", "selfieseg.webdemo", str(build), "--model", args.model,
                               "--anchors", str(anchors)], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr.strip()[-2000:])
    manifest = json.loads((build / "models.json").read_text())
    davis = open_dataset("davis")
    clip = write_y4m([davis[i].image for i in range(min(args.frames, len(davis)))], work / "parkour.y4m", fps=30)
    version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True).stdout.strip()

    flags = [*CHROMIUM_FLAGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={clip}"]
    runs = {}
    load = os.getloadavg()[0]  # this shared machine's other work slows a run: recorded with it
    with serve(build) as url, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        try:
            for smoothing in (False, True):
                runs[smoothing] = measure(browser, url, smoothing, args.seconds)
                print(f"smoothing {'on' if smoothing else 'off'}: {json.dumps(runs[smoothing])}")
        finally:
            browser.close()

    runtimes = manifest["runtimes"]
    lines = [
        f"The live demo page in headless {version} (software rendering, {os.cpu_count()} cores, load average "
        f"{load:.1f} at the start), fake camera playing "
        f"{min(args.frames, len(davis))} DAVIS parkour frames at 30 frames/s (854x480; the page gets {runs[False]['frame']} frames); "
        f"{args.seconds:.0f} s measured per row after a "
        "5-frame warm-up. Both models run on every frame, in turn, one WebAssembly thread each: "
        f"onnxruntime-web {runtimes['onnxruntime-web']['version']} (ours), LiteRT.js {runtimes['litert']['version']} "
        "(MediaPipe's). frames/s = 1000 / mean ms a frame for that model (input squash, model, bilinear restore, "
        "smoothing when on; drawing not counted).",
        "",
        # _common.run_line's line, for the weights this build exported (read from models.json:
        # the benchmark itself loads no TensorFlow)
        f"Run {time.strftime('%Y-%m-%d')}; weights (sha256 prefix): {manifest['model']} `{manifest['weights_sha256'][:12]}`.",
        "",
        "| model | runtime | input | smoothing | frames | frames/s | ms a frame | model alone (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for smoothing, run in runs.items():
        for entry in manifest["models"]:
            row = run["models"][entry["id"]]
            size = entry["input"]
            lines.append(f"| {entry['label']} | {entry['runtime']} | {size['width']}x{size['height']} | "
                         f"{'on' if smoothing else 'off'} | {row['frames']} | {row['fps']:.1f} | {row['total_ms']:.1f} | "
                         f"{row['model_ms']:.1f} |")
    lines += ["", "The page's whole loop (both models and both effects drawn, software rendering): "
              + ", ".join(f"{run['loop_fps']:.1f} frames/s with smoothing {'on' if smoothing else 'off'}"
                          for smoothing, run in runs.items()) + "."]
    table = "\n".join(lines)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "browser" if args.model == "sinet" else f"browser_{args.model}"
    write_result(out / f"{stem}.md", table + "\n")
    print(table)
    print(f"wrote {out / f'{stem}.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
