"""Source of the four architecture chapters: `python book/_sources/models.py` regenerates them."""

from notebook_builder import code, md, preamble, solution, write

COST = """
## Cost on this CPU, beside MediaPipe

Parameters (trainable), multiply-accumulates of one frame, and the median latency of one
frame through Keras and through the float TFLite file on LiteRT (2 threads), measured in
the same run as Google's MediaPipe selfie segmenter (256x256). Latency depends on the
machine; compare rows, not absolute numbers, between machines.
"""

COST_CODE = '''
from selfieseg.profile import mediapipe_row, profile, time_together

runs = 5 if FAST else 30
rows = [profile(model, runs=runs, timed=False)]
anchors = os.environ.get("SELFIESEG_ANCHORS")
if anchors and os.path.isdir(anchors):
    rows.append(mediapipe_row(anchors, timed=False))
else:
    print("MediaPipe's model not found: set SELFIESEG_ANCHORS to the folder holding mediapipe_selfie_segmentation.tflite")
# time the files together, in alternating rounds: a laptop's or Colab's speed drifts
# between two measurements minutes apart, and the ratio below should not
time_together(rows, runs=runs * 2)


def show(value, fmt):
    return "-" if value is None else format(value, fmt)


if len(rows) == 2:
    print(f"TFLite latency ratio to MediaPipe: {rows[0]['tflite_ms'] / rows[1]['tflite_ms']:.2f}")
viz.Table(["model", "input", "params", "MMACs", "Keras ms", "TFLite KB", "TFLite ms"],
          [[r["model"], r["input"], show(r["params"], ",d"), show(r["MMACs"], ".0f"), show(r["keras_ms"], ".1f"),
            show(r["tflite_kb"], ".0f"), show(r["tflite_ms"], ".1f")] for r in rows],
          caption=COST_CAPTION)
'''

COST_CAPTION = "Cost on this CPU, beside MediaPipe"

CHECK_FULL = '''
import numpy as np
import matplotlib.pyplot as plt
import keras

from selfieseg import exercises, viz
from selfieseg.models import build

model = selfieseg.load("{name}", weights=None)
x = np.random.default_rng(0).random((1, *model.input_shape[1:])).astype("float32")
y = model.predict(x, verbose=0)
print(f"input {{model.input_shape}} -> output {{y.shape}}, values in [{{y.min():.2f}}, {{y.max():.2f}}]")
print(f"{{exercises.trainable_params(model):,}} trainable parameters")
'''

SHIPPED = """
## The shipped weights on real portraits

The package ships trained weights for this architecture (when this version has them),
with a model card written by the script that trained and evaluated them. Three PFCN
*test* portraits, never seen in training:
"""

SHIPPED_CODE = '''
import json

from selfieseg.data import open_dataset
from selfieseg.demo import shipped_models
from selfieseg.metrics import iou
from selfieseg.models import WEIGHTS_DIR

if "{name}" in shipped_models():
    card = json.loads((WEIGHTS_DIR / "{name}.json").read_text())
    print(f"{{card['model']}} at {{card['input_size']}} px: PFCN test IoU {{card['pfcn_test_iou']:.4f}} "
          f"(MediaPipe {{card['mediapipe']['pfcn_test_iou']:.4f}}); last stage {{card['training']['epochs']}} epochs "
          f"in {{card['training']['wall_minutes']:.0f}} min on {{card['training']['machine']}}, "
          f"{{card['training'].get('total_epochs', card['training']['epochs'])}} epochs in all")
    trained = selfieseg.Segmenter("{name}")
    test = open_dataset("pfcn", split="test")
    panels, titles = [], []
    for index in (0, 100, 200):
        sample = test[index]
        probability = trained.predict(sample.image)
        panels += [sample.image, viz.overlay(sample.image, probability > 0.5)]
        titles += [sample.name, f"IoU {{iou(sample.mask, probability):.3f}}"]
    viz.image_grid(panels, columns=6, titles=titles, size=2.0)
    plt.show()
else:
    print("This version of selfieseg ships no weights for {name}.")
'''

SUMMARY_HEAD = "## Summary\n\n"
EXERCISES_HEAD = """
## Exercises

Each has a check that says what is wrong. Solutions are in hidden cells;
`selfieseg exercises <chapter>.ipynb -o student.ipynb` removes them.
"""


def chapter(name, title, intro, design, diagram, block, summary, exercises):
    cells = preamble(title, f"book/models_{name}.ipynb", intro)
    cells += [md("## The model in one call"), code(CHECK_FULL.format(name=name))]
    cells += [md("## Design\n\n" + design.strip()), code(diagram)]
    cells += block
    cells += [md(COST), code(COST_CODE.replace("COST_CAPTION", f'"{COST_CAPTION}"'))]
    cells += [md(SHIPPED), code(SHIPPED_CODE.format(name=name))]
    cells += [md(SUMMARY_HEAD + summary.strip()), md(EXERCISES_HEAD)]
    cells += exercises
    write(cells, f"book/models_{name}.ipynb", tables=[COST_CAPTION])


# ----------------------------------------------------------------------------------------
chapter(
    "mnv2_unet",
    "MobileNetV2 U-Net: 128x128 in a few milliseconds",
    """
The seed project's workhorse: a MobileNetV2 encoder at width 0.5 and a U-Net decoder,
at 128x128. Small inputs make it fast; skips from the encoder give back the edges that
downsampling loses.
""",
    """
*What problem does it answer?* A segmentation network must both understand the image
(is this a person?) and locate edges precisely. An ImageNet encoder does the first and
throws away resolution; the **U-Net** decoder climbs back up with **stride-2 transposed
convolutions**, concatenating at each level the encoder's activation of the same size.

The skips tap the encoder's **expand-ReLU** outputs (`block_1_expand_relu`, ...): inside
MobileNetV2's inverted residuals these are the widest, non-linear activations, before the
linear bottleneck projects them down. **Dropout** in the decoder regularises a model
trained on a few thousand portraits.

*Where do the encoder's weights come from?* Keras publishes ImageNet weights for width
0.5, but they are downloaded on first use, and the machines this course was built on
have only the width-1.0 file. A width-0.5 network has exactly the layers of the width-1.0
one with about half the channels in each, so `encoder_weights="imagenet_sliced"` copies
the *first* channels of every width-1.0 tensor. Keeping the leading channels everywhere
is consistent along the chain (what one layer keeps is what the next one reads, residual
additions included), so the narrow encoder starts from ImageNet filters, not noise;
training adapts the rest. `selfieseg train --model mnv2_unet` does this by default.
""",
    '''
from selfieseg.models.mnv2_unet import SKIP_TAPS, BOTTLENECK

encoder = [("stem", 1, 3)] + [(tap.replace("_expand_relu", ""), 2 ** (i + 1), model.get_layer(tap).output.shape[-1])
                               for i, tap in enumerate(SKIP_TAPS)]
encoder.append(("bottleneck", 32, model.get_layer(BOTTLENECK).output.shape[-1]))
decoder = [(f"decoder_{i}", 2 ** (4 - i), model.get_layer(f"decoder_{i}_conv").output.shape[-1]) for i in range(5)]
fig = viz.unet_diagram(encoder, decoder[::-1], skip="concat", title="MobileNetV2-0.5 U-Net (128x128)",
                       extra="each decoder step: transposed conv x2 -> BN -> ReLU -> concat skip -> 3x3 conv -> BN -> ReLU -> dropout")
plt.show()
''',
    [
        md("""
## One decoder block, built small

`upsample_block` is the decoder's unit. Below it is rebuilt from plain Keras layers on a
tiny input, the library's weights are copied in, and the outputs compared.
"""),
        code('''
from selfieseg.models.mnv2_unet import upsample_block

low, skip = keras.Input((8, 8, 16)), keras.Input((16, 16, 8))
library_block = keras.Model([low, skip], upsample_block(low, skip, 12, 0.2, "demo"))

low2, skip2 = keras.Input((8, 8, 16)), keras.Input((16, 16, 8))
h = keras.layers.Conv2DTranspose(12, 3, strides=2, padding="same", use_bias=False)(low2)
h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
h = keras.layers.Concatenate()([h, skip2])
h = keras.layers.Conv2D(12, 3, padding="same", use_bias=False)(h)
h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
mine = keras.Model([low2, skip2], keras.layers.Dropout(0.2)(h))
mine.set_weights(library_block.get_weights())

rng = np.random.default_rng(1)
inputs = [rng.random((2, 8, 8, 16)).astype("float32"), rng.random((2, 16, 16, 8)).astype("float32")]
exercises.check_same_output(mine, library_block, inputs)
'''),
    ],
    """
* A width-0.5 MobileNetV2 encoder plus a transposed-convolution U-Net decoder; skips from
  the expand-ReLU taps, concatenated.
* Normalisation lives inside the model: it takes RGB in [0, 1], like MediaPipe's.
* Without the width-0.5 ImageNet file, the encoder starts from width 1.0's weights sliced
  to its width.
* The table above gives its size, multiply-adds and latency beside MediaPipe's.
""",
    [
        md("**1.** How many trainable parameters does `decoder_0_up` (the first transposed convolution) hold? Compute it from its kernel size and channel counts."),
        code("answer_1 = None  # your number"),
        solution('''
layer = model.get_layer("decoder_0_up")
answer_1 = 3 * 3 * layer.input.shape[-1] * layer.filters  # no bias: batch norm follows
'''),
        code('exercises.check_param_count(answer_1, model.get_layer("decoder_0_up"))'),
        md("**2.** Halve every decoder width, `decoder_filters=(48, 32, 24, 16, 8)`. Predict the trainable parameter count of that model before building it (the encoder does not change)."),
        code("answer_2 = None  # your number"),
        solution('''
decoder_params = sum(exercises.trainable_params(l) for l in model.layers if l.name.startswith(("decoder_", "head_")))
encoder_params = exercises.trainable_params(model) - decoder_params
narrow = (48, 32, 24, 16, 8)
skip_channels = [model.get_layer(t).output.shape[-1] for t in reversed(SKIP_TAPS)] + [0]
inputs = [model.get_layer(BOTTLENECK).output.shape[-1]] + list(narrow[:-1])
new_decoder = 0
for f, c_in, c_skip in zip(narrow, inputs, skip_channels):
    new_decoder += 9 * c_in * f + 2 * f          # transposed conv + its BN (gamma, beta)
    new_decoder += 9 * (f + c_skip) * f + 2 * f  # 3x3 conv + its BN
new_decoder += narrow[-1] + 1                     # 1x1 head with bias
answer_2 = encoder_params + new_decoder
'''),
        code('exercises.check_param_count(answer_2, build("mnv2_unet", decoder_filters=(48, 32, 24, 16, 8)), "narrow decoder")'),
        md("**3.** What share of the model's multiply-adds is in the decoder? Use `selfieseg.models.profile.count_macs` on the whole model and count the decoder's layers."),
        code("answer_3 = None  # a fraction between 0 and 1"),
        solution('''
from selfieseg.models.profile import count_macs

total = count_macs(model)
encoder_only = keras.Model(model.input, model.get_layer(BOTTLENECK).output)
answer_3 = 1 - count_macs(encoder_only) / total
'''),
        code('''
from selfieseg.models.profile import count_macs

truth = 1 - count_macs(keras.Model(model.input, model.get_layer(BOTTLENECK).output)) / count_macs(model)
exercises.check_close(answer_3, truth, "decoder share of MACs")
'''),
    ],
)

# ----------------------------------------------------------------------------------------
chapter(
    "mnv3_unet",
    "MobileNetV3 U-Net: the encoder MediaPipe chose",
    """
The same U-Net decoder on a MobileNetV3-Large encoder at width 0.5 and 224x224.
MobileNetV3 was found by architecture search for phone latency; Google's own selfie
segmenter builds on it.
""",
    """
*What problem does it answer?* MobileNetV2 spends the same care on every channel.
MobileNetV3 adds **squeeze-and-excitation** (a tiny global-pool gate that reweights
channels by what the whole image contains) and **hard-swish** (a piecewise-linear
swish that quantizes well) to the inverted residuals, with kernel sizes and widths picked
by search for latency on phones.

Keras publishes ImageNet weights only for widths 0.75 and 1.0, so the width-0.5 encoder
here starts from random weights: `encoder_weights="imagenet"` says so clearly instead of
silently initialising at random. Skips are taken, by position, from the last activation
at each stride, since Keras's MobileNetV3 names some activations by counter; the library
renames those deterministically.
""",
    '''
from selfieseg.models.common import taps_by_stride

encoder_model = keras.Model(model.input, model.get_layer("decoder_0_up").input)
taps = taps_by_stride(encoder_model, 224)
encoder = [("stem", 1, 3)] + [(f"stride {s}", s, taps[s].shape[-1]) for s in (2, 4, 8, 16, 32)]
decoder = [(f"decoder_{i}", 2 ** (4 - i), model.get_layer(f"decoder_{i}_conv").output.shape[-1]) for i in range(5)]
fig = viz.unet_diagram(encoder, decoder[::-1], skip="concat", title="MobileNetV3-Large-0.5 U-Net (224x224)",
                       extra="encoder blocks: inverted residual + squeeze-and-excitation + hard-swish")
plt.show()
''',
    [
        md("""
## A squeeze-and-excitation gate, built small

SE pools each channel to one number, passes the vector through two 1x1 convolutions
(reduce, then expand) and multiplies the features by the resulting gate in [0, 1]. Here
one is built from Keras layers and checked against the same computation in numpy.
"""),
        code('''
features = keras.Input((14, 14, 32))
s = keras.layers.GlobalAveragePooling2D(keepdims=True)(features)
s = keras.layers.Conv2D(8, 1, activation="relu")(s)
s = keras.layers.Conv2D(32, 1, activation="hard_sigmoid")(s)
se = keras.Model(features, keras.layers.Multiply()([features, s]))

w1, b1, w2, b2 = se.get_weights()


def se_numpy(x):
    pooled = x.mean(axis=(1, 2))
    hidden = np.maximum(pooled @ w1[0, 0] + b1, 0)
    gate = np.clip((hidden @ w2[0, 0] + b2) / 6 + 0.5, 0, 1)  # Keras 3's hard sigmoid
    return x * gate[:, None, None, :]


inputs = np.random.default_rng(2).random((2, 14, 14, 32)).astype("float32")
exercises.check_same_output(se_numpy, lambda t: se.predict(t, verbose=0), inputs, atol=1e-5)
'''),
    ],
    """
* MobileNetV3-Large at width 0.5 with squeeze-and-excitation and hard-swish, the same
  transposed-convolution decoder as the MobileNetV2 U-Net.
* No published ImageNet weights at width 0.5: the model trains from scratch (or is
  distilled); the library refuses to pretend otherwise. The shipped weights started from
  scratch (6 epochs at 160x160 on a CPU), then trained 37 epochs at 192 on an H100, 6
  milder ones on the CPU and 49 more on an H200, distilled from PortraitNet, and a last
  30 on the CPU at 224, the size they are served at, with the rate held for weight
  averaging: PFCN test IoU 0.9506 (0.8889 after the first CPU stage, 0.9435 after the
  H100, 0.9444 after the CPU, 0.9478 after the H200). A seventh stage on all four
  labelled sets, tilted towards portraits and shipped a quarter of the way along its
  weight interpolation (the Training chapter), brought 0.9516. They still lag the
  ImageNet-started models in accuracy per multiply-add: pretraining matters most when
  the training set is a few thousand portraits.
""",
    [
        md("**1.** How many trainable parameters do all squeeze-and-excitation blocks of the encoder hold together? (Their layers have `squeeze_excite` in their names.)"),
        code("answer_1 = None"),
        solution('answer_1 = sum(exercises.trainable_params(l) for l in model.layers if "squeeze_excite" in l.name)'),
        code('''
truth = sum(exercises.trainable_params(l) for l in model.layers if "squeeze_excite" in l.name)
exercises.check_close(answer_1, truth, "SE parameters", rtol=0.0)
'''),
        md("**2.** Build the model at width 0.75 (`alpha=0.75`) and predict its trainable parameter count relative to width 0.5 as a ratio. Why is it less than (0.75/0.5)^2 = 2.25?"),
        code("answer_2 = None  # ratio of trainable parameters, alpha 0.75 / alpha 0.5"),
        solution('answer_2 = exercises.trainable_params(build("mnv3_unet", alpha=0.75)) / exercises.trainable_params(model)'),
        code('exercises.check_close(answer_2, exercises.trainable_params(build("mnv3_unet", alpha=0.75)) / exercises.trainable_params(model), "width ratio")'),
        md("**3.** Latency is not MACs. Measure the TFLite latency of this model at 160x160 and at 224x224 and give the ratio 224/160. Compare with the MAC ratio (224/160)^2 = 1.96."),
        code("answer_3 = None"),
        solution('''
from selfieseg.profile import tflite_latency, to_tflite

small = tflite_latency(to_tflite(build("mnv3_unet", input_size=160)), runs=10)
large = tflite_latency(to_tflite(model), runs=10)
answer_3 = large / small
'''),
        code('exercises.check_ratio(answer_3, 1.0, 4.0, "latency ratio 224/160")'),
    ],
)

# ----------------------------------------------------------------------------------------
chapter(
    "portraitnet",
    "PortraitNet: a prior channel, add skips and a boundary head",
    """
PortraitNet (Zhang et al., 2019) was designed for video on phones. It feeds the previous
frame's mask back in as a fourth input channel, keeps the decoder light with depthwise
residual blocks and additive skips, and trains with two auxiliary losses that cost
nothing at inference.
""",
    """
*What problem does it answer?* Frame-by-frame segmentation flickers, and phone budgets
leave little for the decoder. PortraitNet answers with:

* **RGB + prior**: 4 input channels; the 4th is the previous frame's mask (training
  simulates it by deforming the ground truth; the first frame gets zeros).
* **D-blocks**: residual blocks of two depthwise-separable convolutions with a 1x1
  shortcut, at each decoder level, then a transposed convolution x2.
* **Element-wise add skips**: the decoder's widths equal the encoder's stage widths, so
  features are added rather than concatenated: no wider convolutions after the merge.
* **Boundary head**: a second 1x1 head predicts mask edges (trained with a focal loss);
  with `with_boundary=False` (inference) it is not even built.
""",
    '''
from selfieseg.models.portraitnet import SKIP_TAPS, BOTTLENECK

strides = [16, 8, 4, 2]
encoder = [("RGB + prior", 1, 4)] + [(t, s, model.get_layer(t).output.shape[-1]) for t, s in zip(SKIP_TAPS[::-1], strides[::-1])]
encoder.append(("bottleneck", 32, model.get_layer(BOTTLENECK).output.shape[-1]))
decoder = [(f"D-block {i}", s, model.get_layer(f"decoder_{i}_up").output.shape[-1]) for i, s in enumerate([16, 8, 4, 2, 1])]
fig = viz.unet_diagram(encoder, decoder[::-1], skip="add", title="PortraitNet (224x224, 4 channels)",
                       extra="each level: D-block (2 depthwise-separable convs + 1x1 shortcut) -> transposed conv x2 -> add skip")
plt.show()
training_model = selfieseg.load("portraitnet", weights=None, with_boundary=True)
print("training outputs:", list(training_model.output))
''',
    [
        md("## A D-block, built small\n\nRebuilt from Keras layers, with the library's weights copied in."),
        code('''
from selfieseg.models.portraitnet import depthwise_residual_block

features = keras.Input((16, 16, 24))
library_block = keras.Model(features, depthwise_residual_block(features, 32, "demo"))

f = keras.Input((16, 16, 24))
shortcut = keras.layers.BatchNormalization()(keras.layers.Conv2D(32, 1, use_bias=False)(f))
y = keras.layers.ReLU()(keras.layers.BatchNormalization()(keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(f)))
y = keras.layers.ReLU()(keras.layers.BatchNormalization()(keras.layers.Conv2D(24, 1, use_bias=False)(y)))
y = keras.layers.ReLU()(keras.layers.BatchNormalization()(keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(y)))
y = keras.layers.BatchNormalization()(keras.layers.Conv2D(32, 1, use_bias=False)(y))
mine = keras.Model(f, keras.layers.ReLU()(keras.layers.Add()([y, shortcut])))
# same weights, listed in the library's creation order: shortcut first, then the main path
mine.set_weights(library_block.get_weights())
inputs = np.random.default_rng(3).random((2, 16, 16, 24)).astype("float32")
exercises.check_same_output(mine, library_block, inputs)
'''),
    ],
    """
* Four input channels (RGB + previous mask), a MobileNetV2 encoder, D-blocks, add skips.
* The boundary head exists only in the training model; inference pays nothing for it.
* Add skips keep the decoder narrow; exercise 3 measures what concatenation would cost.
""",
    [
        md("**1.** How many trainable parameters does the first convolution (`Conv1`) hold now that the input has 4 channels instead of 3?"),
        code("answer_1 = None"),
        solution("answer_1 = 3 * 3 * 4 * model.get_layer('Conv1').filters"),
        code('exercises.check_param_count(answer_1, model.get_layer("Conv1"))'),
        md("**2.** How many parameters does the boundary head add to the *training* model?"),
        code("answer_2 = None"),
        solution("answer_2 = exercises.trainable_params(training_model) - exercises.trainable_params(model)"),
        code('exercises.check_param_count(answer_2, training_model.get_layer("boundary_conv"), "boundary head")'),
        md("**3.** Replace the add skips with concatenation (`skip_mode=\"concat\"`) and measure the relative increase in multiply-adds."),
        code("answer_3 = None  # (MACs concat - MACs add) / MACs add"),
        solution('''
from selfieseg.models.profile import count_macs

answer_3 = count_macs(build("portraitnet", skip_mode="concat")) / count_macs(model) - 1
'''),
        code('''
from selfieseg.models.profile import count_macs

exercises.check_close(answer_3, count_macs(build("portraitnet", skip_mode="concat")) / count_macs(model) - 1, "extra MACs of concatenation")
'''),
    ],
)

# ----------------------------------------------------------------------------------------
chapter(
    "sinet",
    "SINet: 87K parameters",
    """
SINet (Park et al., WACV 2020) asks how small a portrait model can be. Its answer has
about 87 thousand parameters, 40 times fewer than PortraitNet, and about 64 million
multiply-adds per 224x224 frame.
""",
    """
*What problem does it answer?* Tiny models lack receptive field and lose boundaries.

* **Spatial squeeze (S2) blocks**: average-pool by 1, 2 or 4, run a depthwise
  convolution there, upsample back. A 5x5 kernel at pool 4 sees 20x20 pixels for the cost
  of a 5x5 kernel on a 16x smaller map.
* **S2 modules**: a grouped 1x1 convolution, a channel shuffle, two S2 blocks with
  different kernel/pool pairs side by side, concatenated and added to the input.
* **SE blocks, PReLU, depthwise-separable downsampling** throughout.
* **Information blocking**: the coarse (1/8) prediction is upsampled, and the 1/4
  features are added only where it is unsure, weighted by `1 - confidence`.
""",
    '''
encoder = [("stem (CBR)", 2, 12), ("SE separable down", 4, 16), ("2 x S2 module", 4, 48),
           ("SE separable down", 8, 48), ("8 x S2 module", 8, 96), ("classifier", 8, 2)]
decoder = [("output", 1, 1), ("x2 up, 3x3 conv", 2, 2), ("+ gated level-2", 4, 2), ("x2 up", 8, 2)]
fig = viz.unet_diagram(encoder, decoder[::-1], skip="gate", title="SINet (224x224)", skip_strides={4},
                       extra="level-2 detail enters only where 1 - max softmax(coarse) is high")
plt.show()
''',
    [
        md("## An S2 block, built small\n\nPool by 2, depthwise 3x3, PReLU, 1x1, bilinear upsample, batch norm: from Keras layers, checked against the library."),
        code('''
from selfieseg.models.sinet import s2_block

features = keras.Input((16, 16, 8))
library_block = keras.Model(features, s2_block(features, 12, 3, 2, "demo"))
f = keras.Input((16, 16, 8))
y = keras.layers.AveragePooling2D(2)(f)
y = keras.layers.BatchNormalization(epsilon=1e-3)(keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(y))
y = keras.layers.PReLU(shared_axes=[1, 2])(y)
y = keras.layers.Conv2D(12, 1, use_bias=False)(y)
y = keras.layers.UpSampling2D(2, interpolation="bilinear")(y)
mine = keras.Model(f, keras.layers.BatchNormalization(epsilon=1e-3)(y))
mine.set_weights(library_block.get_weights())
inputs = np.random.default_rng(4).random((2, 16, 16, 8)).astype("float32")
exercises.check_same_output(mine, library_block, inputs)
print(f"SINet here: {exercises.trainable_params(model):,} trainable parameters; the paper: 86.9K")
'''),
    ],
    """
* S2 modules buy receptive field with pooling, not parameters; SE and PReLU are cheap.
* Information blocking lets high-resolution detail in only where the coarse prediction
  is unsure; it has no parameters at all (exercise 2).
* About 87K trainable parameters and 64M multiply-adds at 224x224.
""",
    [
        md("**1.** A depthwise 5x5 convolution over 48 channels at 56x56: how many multiply-adds at pool 1, and how many at pool 4? Give the ratio pool-1 / pool-4."),
        code("answer_1 = None"),
        solution("answer_1 = (56 * 56 * 48 * 25) / (14 * 14 * 48 * 25)"),
        code('exercises.check_close(answer_1, 16.0, "MAC ratio of pool 1 to pool 4", rtol=0.0)'),
        md("**2.** How many parameters does information blocking cost? Build `information_blocking=False` and compare."),
        code("answer_2 = None"),
        solution('answer_2 = exercises.trainable_params(model) - exercises.trainable_params(build("sinet", information_blocking=False))'),
        code('exercises.check_close(answer_2, exercises.trainable_params(model) - exercises.trainable_params(build("sinet", information_blocking=False)), "parameters of information blocking")'),
        md("**3.** Double the level-3 width (`widths=(12, 16, 48, 192)`): predict the new trainable parameter count. Is the growth closer to 2x or 4x, and why?"),
        code("answer_3 = None"),
        solution('answer_3 = exercises.trainable_params(build("sinet", widths=(12, 16, 48, 192)))'),
        code('exercises.check_param_count(answer_3, build("sinet", widths=(12, 16, 48, 192)), "wider SINet")'),
    ],
)
