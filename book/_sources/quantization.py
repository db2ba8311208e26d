"""Source of book/quantization.ipynb: `python book/_sources/quantization.py` regenerates it."""

from notebook_builder import code, md, preamble, solution, write

cells = preamble(
    "Quantization: post-training and quantization-aware",
    "book/quantization.ipynb",
    """
A phone wants a small file and integer arithmetic. This chapter shows what int8 does to a
trained model's weights and activations, exports a shipped model in every mode
(float16, dynamic range, full int8, quantization-aware int8), and measures what each
costs in accuracy on real PFCN test portraits and gains in size and speed.
""",
)

cells += [
    md("""
## Eight bits for a weight

An int8 tensor stores `q` in [-127, 127] and one float `scale`: the value is
`scale * q`. For weights TFLite uses one scale per **output channel** (symmetric), so a
channel with small weights is not rounded to zero because another channel is large.
Below: one trained convolution's kernel, rounded per tensor and per channel.
"""),
    code("""
import numpy as np
import matplotlib.pyplot as plt
import keras

from selfieseg import exercises, viz
from selfieseg.models import fastest_shipped_model
from selfieseg.models import load

MODEL = fastest_shipped_model()  # the registry ranks SINet fastest
model = load(MODEL)
conv = max((l for l in model.layers if isinstance(l, keras.layers.Conv2D) and not isinstance(l, keras.layers.DepthwiseConv2D)),
           key=lambda l: l.kernel.shape[-1])
kernel = np.asarray(conv.kernel)
print(f"{MODEL}: {conv.name}, kernel {kernel.shape}")

def round_int8(w, per_channel):
    bound = np.abs(w).max(axis=tuple(range(w.ndim - 1)), keepdims=True) if per_channel else np.abs(w).max()
    scale = bound / 127
    return np.round(w / scale).clip(-127, 127) * scale

errors = {mode: np.abs(round_int8(kernel, mode == "per channel") - kernel).reshape(-1, kernel.shape[-1]).mean(0)
          for mode in ("per tensor", "per channel")}
fig, axes = plt.subplots(1, 2, figsize=(11, 3))
axes[0].hist(kernel.ravel(), bins=80)
axes[0].set(title="weights of one layer", xlabel="value")
for mode, err in errors.items():
    axes[1].plot(err / np.abs(kernel).reshape(-1, kernel.shape[-1]).mean(0), ".", label=mode)
axes[1].set(title="relative rounding error per output channel", xlabel="channel", yscale="log")
axes[1].legend()
plt.show()
"""),
    md("""
## Activations need real images

Activations are rounded too, with one scale and zero point per tensor. Their range is
not in the file: the converter **calibrates** it by running real images through the
model (the *representative dataset*). Here is the range of one activation over
calibration images from the training data: the converter maps its min..max to 256 levels.
"""),
    code("""
from selfieseg.export import representative_images

size = tuple(model.input_shape[1:3])
calibration = representative_images(None, size=size, samples=8 if FAST else 32)
if model.input_shape[-1] == 4:
    calibration = np.concatenate([calibration, np.zeros(calibration.shape[:3] + (1,), np.float32)], axis=-1)
activation_layer = [l for l in model.layers if isinstance(l, (keras.layers.PReLU, keras.layers.ReLU))][len(model.layers) // 20]
probe = keras.Model(model.input, activation_layer.output)
values = np.asarray(probe.predict(calibration, verbose=0)).ravel()
low, high = values.min(), values.max()
plt.figure(figsize=(6, 2.8))
plt.hist(values, bins=100, log=True)
plt.axvline(low, color="r"); plt.axvline(high, color="r")
plt.title(f"{activation_layer.name}: {len(calibration)} calibration images, step {(high - low) / 255:.4f}")
plt.show()
"""),
    md("""
## Every export mode, measured

`selfieseg.export.export` (and `selfieseg export` on the command line) writes each file.
All take RGB float32 in [0, 1] and return the probability: int8 files quantize at the
input and dequantize at the output, so an app does not change. The IoU below is on PFCN
test portraits (a subset in the fast mode), through LiteRT, with the same code for all.
"""),
    code("""
import tempfile
import time
from pathlib import Path

from selfieseg.data import open_dataset
from selfieseg.export import export
from selfieseg.inference import Segmenter, TFLiteSegmenter
from selfieseg.profile import tflite_latencies
from selfieseg.evaluation import evaluate_split

test = open_dataset("pfcn", split="test")
test = test.subset(slice(None, None, 22 if FAST else 4))
folder = Path(tempfile.mkdtemp())
float_iou = evaluate_split(Segmenter(model), test, progress=False).mean_iou
rows = []
for mode, options in [("none", {}), ("fp16", {}), ("dynamic", {}), ("int8", {}), ("int8", {"per_channel": False})]:
    label = mode if options.get("per_channel", True) else "int8 per tensor"
    path = export(model, folder / f"{label.replace(' ', '_')}.tflite", quantize=mode, samples=16 if FAST else 64, **options)
    score = evaluate_split(TFLiteSegmenter(path), test, progress=False).mean_iou
    rows.append((label, path.stat().st_size / 1024, path, score))
# all five files timed together, in alternating rounds, so the machine's drift in speed
# over the minutes above cannot favour one mode
latencies = tflite_latencies([path for _, _, path, _ in rows], runs=10 if FAST else 100)
rows = [(label, kb, seconds * 1e3, score) for (label, kb, _, score), seconds in zip(rows, latencies)]
print(f"Keras float IoU on {len(test)} test portraits: {float_iou:.4f}")
viz.Table(["mode", "KB", "ms", "IoU", "drop from Keras float"],
          [[label, f"{kb:.0f}", f"{ms:.2f}", score, f"{float_iou - score:+.4f}"] for label, kb, ms, score in rows],
          caption="Every quantization mode: size, latency and PFCN test IoU")
"""),
    md("""
## Quantization-aware training

Post-training int8 rounds a network that never saw rounding. **QAT** fine-tunes it with
the rounding in the loop: `selfieseg.quantize` swaps every convolution for one whose
kernel is rounded to int8 per channel on the forward pass, and puts a fake-quant layer
(a moving-average range, 256 levels) after every activation, merge and pooling, using
`keras.quantizers.fake_quant_with_min_max_vars`, whose gradient passes straight through
the rounding. Batch norm is frozen. The fine-tuned weights then go through the same int8
converter. (tensorflow-model-optimization, the usual tool, does not accept Keras 3 models.)
"""),
    code("""
from selfieseg.quantize import quantization_aware_model

qat_view = quantization_aware_model(model)
print(f"{len(model.layers)} layers -> {len(qat_view.layers)} with fake quantization")
print(sorted({type(l).__name__ for l in qat_view.layers if "QAT" in type(l).__name__ or "FakeQuant" in type(l).__name__}))

started = time.time()
qat_path = export(model, folder / "qat.tflite", quantize="qat", qat_steps=3 if FAST else 60, samples=16 if FAST else 64, verbose=0)
qat_score = evaluate_split(TFLiteSegmenter(qat_path), test, progress=False).mean_iou
ptq_score = dict((r[0], r[3]) for r in rows)["int8"]
print(f"QAT fine-tune + export: {time.time() - started:.0f} s")
print(f"int8 IoU: post-training {ptq_score:.4f}, quantization-aware {qat_score:.4f} (float {float_iou:.4f})")

labels = [r[0] for r in rows] + ["qat int8"]
scores = [r[3] for r in rows] + [qat_score]
sizes = [r[1] for r in rows] + [qat_path.stat().st_size / 1024]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
axes[0].bar(labels, sizes); axes[0].set(ylabel="KB", title="file size")
axes[1].bar(labels, scores); axes[1].set(ylim=(min(scores) - 0.02, max(scores) + 0.01), ylabel="IoU", title="PFCN test IoU")
for ax in axes:
    ax.tick_params(axis="x", rotation=30)
plt.tight_layout()
plt.show()
"""),
    md("""
The full table for every shipped model, with ONNX Runtime and MediaPipe measured in the
same run, is `benchmarks/results/deploy.md`, written by `benchmarks/deploy.py`.

## Summary

* int8 stores a scale and 8-bit integers; per-channel scales keep small channels alive,
  per-tensor scales make a smaller file (for a tiny model the metadata is a large share).
* Activation ranges come from calibration on real images: the representative dataset
  should look like what the app will see.
* float16 halves the file at no measurable accuracy cost; full int8 quarters it.
* Smaller is not always faster: SINet's int8 file runs about six times slower than its
  float one on this CPU, because XNNPACK's int8 kernels here take neither PReLU nor
  average pooling (the Deployment chapter has the measurements).
* QAT in Keras 3: fake-quant layers and a short fine-tune, then the same converter.

## Exercises
"""),
    md("**1.** Write symmetric per-channel int8 rounding of a kernel (last axis = output channels, narrow range [-127, 127]) and check it against the library's."),
    code('''
def my_fake_quant(kernel):
    # your code here
    raise NotImplementedError
'''),
    solution('''
def my_fake_quant(kernel):
    bound = np.abs(kernel).max(axis=tuple(range(kernel.ndim - 1)), keepdims=True)
    scale = np.maximum(bound, 1e-8) / 127
    return np.round(kernel / scale).clip(-127, 127) * scale
'''),
    code('''
from selfieseg.quantize import fake_quant_kernel

# rounding ties may go either way: allow a few weights to differ by one step
differ = np.mean(np.abs(my_fake_quant(kernel) - np.asarray(fake_quant_kernel(kernel))) > 1e-6)
exercises.check_ratio(float(differ), 0.0, 0.01, "share of weights rounded differently from the library")
'''),
    md("**2.** Predict the int8 file size from the model: one byte per weight of every convolution, dense and PReLU layer. What share of the per-tensor int8 file is *not* weights (operators, tensor shapes, scales, biases)?"),
    code("answer_2 = None  # a share between 0 and 1"),
    solution('''
weight_bytes = sum(int(np.prod(w.shape)) for l in model.layers
                   if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense, keras.layers.PReLU)) for w in l.weights[:1])
per_tensor_kb = dict((r[0], r[1]) for r in rows)["int8 per tensor"]
answer_2 = 1 - weight_bytes / (per_tensor_kb * 1024)
'''),
    code('''
weights_in_file = sum(int(np.prod(w.shape)) for l in model.layers
                      if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense, keras.layers.PReLU)) for w in l.weights[:1])
exercises.check_close(answer_2, 1 - weights_in_file / (dict((r[0], r[1]) for r in rows)["int8 per tensor"] * 1024),
                      "share of the file that is not weights", rtol=0.01)
'''),
    md("**3.** How many times smaller than the float file is the per-tensor int8 file (float KB / int8 KB, from the table above)?"),
    code("answer_3 = None"),
    solution('answer_3 = dict((r[0], r[1]) for r in rows)["none"] / dict((r[0], r[1]) for r in rows)["int8 per tensor"]'),
    code('''
sizes_kb = dict((r[0], r[1]) for r in rows)
exercises.check_close(answer_3, sizes_kb["none"] / sizes_kb["int8 per tensor"], "float / int8 size", rtol=1e-3)
'''),
    md("**4.** Open question. Calibrate int8 with 4 images instead of 64, then with 64 images of one kind only (e.g. dark ones). How much IoU do you lose? What does that tell you about the representative dataset an app maker should use?"),
]

write(cells, "book/quantization.ipynb", tables=["Every quantization mode: size, latency and PFCN test IoU"])
