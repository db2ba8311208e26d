"""Source of book/deployment.ipynb: `python book/_sources/deployment.py` regenerates it."""

from notebook_builder import code, md, preamble, solution, write

cells = preamble(
    "Deployment: TFLite (LiteRT) and ONNX",
    "book/deployment.ipynb",
    """
An app does not import selfieseg. It loads one file and runs it. This chapter exports a
shipped model to a `.tflite` and an `.onnx` file, then runs each in plain numpy with
LiteRT and ONNX Runtime, as an app would, checks them against Keras, and times them
beside MediaPipe's model.
""",
)

cells += [
    md("""
## Export

Two commands (or `selfieseg.export.export(...)` in Python):

```bash
selfieseg export --model sinet -o sinet.tflite                       # float
selfieseg export --model sinet --quantize int8 --per-tensor -o sinet_int8.tflite
selfieseg export --model sinet -o sinet.onnx
```

Every file takes **RGB float32 in [0, 1], NHWC, batch 1** (PortraitNet: RGB plus the
previous frame's mask as a 4th channel) and returns the **person probability**
`1 x H x W x 1`: the same contract as MediaPipe's selfie segmenter.
"""),
    code("""
import subprocess
import sys
import tempfile
from pathlib import Path

from selfieseg.models import fastest_shipped_model

MODEL = fastest_shipped_model()  # the registry ranks SINet fastest
folder = Path(tempfile.mkdtemp())
for args in (["-o", str(folder / "model.tflite")], ["--quantize", "int8", "--samples", "16", "-o", str(folder / "model_int8.tflite")],
             ["-o", str(folder / "model.onnx")]):
    result = subprocess.run([sys.executable, "-m", "selfieseg", "export", "--model", MODEL, *args], capture_output=True, text=True)
    print(result.stdout.strip() or result.stderr.strip().splitlines()[-1])
"""),
    md("""
## Run the `.tflite` with LiteRT, in plain numpy

Nothing below imports selfieseg: this is all an app needs. The photo is resized to the
model's input, scaled to [0, 1], run, and the probability is resized back to the photo.
The first interpreter of a process makes LiteRT write one line to standard error,
`INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` (its fast CPU kernels); an app
sees it in its console, and this page leaves it out (the cell's `remove-stderr` tag).
"""),
    code("""
import numpy as np
import cv2
from ai_edge_litert.interpreter import Interpreter
from skimage import data as skimage_data

photo = skimage_data.astronaut()  # RGB uint8, 512x512

interpreter = Interpreter(model_path=str(folder / "model.tflite"), num_threads=2)
interpreter.allocate_tensors()
source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
_, height, width, channels = source["shape"]
print("input", source["shape"], source["dtype"].__name__, "-> output", target["shape"], target["dtype"].__name__)

x = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
if channels == 4:  # PortraitNet: no previous frame yet
    x = np.concatenate([x, np.zeros((height, width, 1), np.float32)], axis=-1)
interpreter.set_tensor(source["index"], x[None])
interpreter.invoke()
probability = interpreter.get_tensor(target["index"])[0, ..., 0]
lite_mask = cv2.resize(probability, photo.shape[1::-1], interpolation=cv2.INTER_LINEAR) > 0.5
""", tags=("remove-stderr",)),
    md("## Run the `.onnx` with ONNX Runtime"),
    code("""
import onnxruntime

options = onnxruntime.SessionOptions()
options.intra_op_num_threads = 2
session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
onnx_probability = session.run(None, {name: x[None]})[0][0, ..., 0]
onnx_mask = cv2.resize(onnx_probability, photo.shape[1::-1], interpolation=cv2.INTER_LINEAR) > 0.5

import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
for ax, shown, title in zip(axes, [photo, lite_mask, onnx_mask], ["photo", "LiteRT mask", "ONNX Runtime mask"]):
    ax.imshow(shown, cmap="gray"); ax.set_title(title); ax.axis("off")
plt.show()
print("largest probability difference, TFLite vs ONNX:", float(np.abs(probability - onnx_probability).max()))
"""),
    md("""
## Agreement with Keras, and speed beside MediaPipe

The library's own `Segmenter` (Keras) is the reference. Latency is the median of many
invokes after warm-up, batch 1, 2 threads, on this machine; the TFLite files (MediaPipe's
included) are timed in interleaved rounds, ONNX Runtime after them.
"""),
    code("""
import os

from selfieseg.inference import Segmenter
from selfieseg.metrics import iou
from selfieseg.profile import onnx_latency, tflite_latencies

keras_probability = Segmenter(MODEL).predict(photo)
for label, mask in (("TFLite", lite_mask), ("ONNX", onnx_mask)):
    print(f"{label}: mask IoU with Keras {iou(keras_probability > 0.5, mask):.5f}")

runs = 10 if FAST else 200
lite_files = {"float TFLite": folder / "model.tflite", "int8 TFLite": folder / "model_int8.tflite"}
anchors = os.environ.get("SELFIESEG_ANCHORS")
if anchors:
    lite_files["MediaPipe TFLite"] = Path(anchors) / "mediapipe_selfie_segmentation.tflite"
# the .tflite files are timed together, in alternating rounds, so that a laptop's or
# Colab's drift in speed does not favour one of them
timings = dict(zip(lite_files, tflite_latencies(list(lite_files.values()), runs=runs)))
timings["ONNX Runtime"] = onnx_latency(folder / "model.onnx", runs=runs)
for label, seconds in timings.items():
    print(f"{label:18s} {seconds * 1e3:6.2f} ms")
plt.figure(figsize=(6, 2.5))
plt.barh(list(timings), [s * 1e3 for s in timings.values()])
plt.xlabel("ms per frame (this CPU, 2 threads)")
plt.show()
"""),
    md("""
## Why the graph's shape matters as much as its size

LiteRT hands the operators its XNNPACK delegate supports to XNNPACK, in connected pieces,
and runs the rest itself; every hand-over costs time. Two measurements on SINet at 192
(2-core CPU, 2 threads, files timed side by side):

* Its channel shuffles were exported as gathers, which XNNPACK does not take: the float
  graph ran in 11 pieces, 2.84 ms. The exporter now folds each shuffle into the weights of
  the layers after it (pooling, depthwise conv, batch norm and PReLU work channel by
  channel, so permuting their weights is the same function): one piece, 1.93 ms, with
  MediaPipe's file at 1.81-1.85 ms in the same rounds.
* In int8, this LiteRT's XNNPACK takes neither PReLU nor average pooling (probed one
  operator at a time). SINet has 37 PReLUs and 6 pools, so its int8 graph runs in 32
  pieces, about 12 ms: six times its float file. The U-Nets and PortraitNet, built on
  ReLU, run faster in int8. An int8 file is always smaller; whether it is faster depends
  on what the target's kernels support, so time it where it will run.
* Two threads that synchronise after every small operator suffer when something else
  takes a core: with a busy loop on the other core, SINet's float file went from 1.04x
  to 1.33x MediaPipe's time, while with one thread it stayed at 1.0x. A benchmark on a
  shared machine should be read as a range.

## What an app does with these files

* **Android / iOS**: LiteRT (`org.tensorflow:tensorflow-lite` / `TensorFlowLiteSwift`)
  loads the `.tflite` from the app's assets; a camera frame (usually YUV) is converted to
  RGB, resized to the model's input and scaled to [0, 1]; the output is resized to the
  preview and used as an alpha mask on the GPU. The GPU delegate runs the float file;
  int8 files run on the CPU (XNNPACK) or an NPU delegate.
* **Browser**: `onnxruntime-web` runs the `.onnx` (WebAssembly or WebGPU); the same
  pre- and post-processing in JavaScript.
* **Video**: keep the previous mask. PortraitNet takes it as its 4th input channel; for
  every model, smooth it over time (the Video chapter).
* Keep the file's contract in one place in the app, so a MediaPipe file and ours can be
  swapped and compared.

## Summary

* One export function, two runtimes, one contract (RGB float in [0, 1] in, probability out).
* LiteRT and ONNX Runtime agree with Keras to float precision; int8 trades a little IoU
  for a file a quarter the size.
* The app's work is pre-processing, one `invoke`, and post-processing: a dozen lines.

## Exercises
"""),
    md("**1.** Write the pre-processing an app needs: photo (RGB uint8, any size) to the model's input batch. Check it against the library's."),
    code('''
def prepare(photo, height, width):
    # your code here: returns float32 1 x height x width x 3 in [0, 1]
    raise NotImplementedError
'''),
    solution('''
def prepare(photo, height, width):
    return (cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)[None]
'''),
    code('''
from selfieseg import exercises
from selfieseg.inference import TFLiteSegmenter

reference = TFLiteSegmenter(folder / "model.tflite")
mine = prepare(photo, *reference.input_hw)
exercises.check_close(float(np.abs(mine[..., :3] - reference._prepare(photo)[..., :3]).max()) + 1.0, 1.0,
                      "largest difference from the library's input (+1)", rtol=1e-6)
'''),
    md("**2.** How many times slower (or faster) than MediaPipe is the int8 file on this machine? Give the ratio of the medians measured above."),
    code("answer_2 = None"),
    solution('answer_2 = timings["int8 TFLite"] / timings.get("MediaPipe TFLite", timings["float TFLite"])'),
    code('exercises.check_close(answer_2, timings["int8 TFLite"] / timings.get("MediaPipe TFLite", timings["float TFLite"]), "latency ratio", rtol=1e-6)'),
    md("**3.** Write the post-processing: the model's `1 x h x w x 1` probability to a boolean mask at the photo's size. Check it against LiteRT's mask above."),
    code('''
def to_mask(output, photo_shape):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def to_mask(output, photo_shape):
    probability = np.asarray(output, np.float32)[0, ..., 0]
    return cv2.resize(probability, (photo_shape[1], photo_shape[0]), interpolation=cv2.INTER_LINEAR) > 0.5
'''),
    code('''
interpreter.set_tensor(source["index"], x[None]); interpreter.invoke()
exercises.check_ratio(iou(to_mask(interpreter.get_tensor(target["index"]), photo.shape), lite_mask), 0.999, 1.0, "mask IoU with the app's mask")
'''),
    md("**4.** Open question. Export PortraitNet and feed it its own previous output as the 4th channel over a few frames of a clip (see the Video chapter). What must an app keep between frames, and what happens at a scene cut?"),
]

write(cells, "book/deployment.ipynb")
