// selfieseg's pre- and post-processing, written once in JavaScript for every model on the page.
//
// Each function mirrors the Python that the library runs, so that a mask made here is the
// mask `selfieseg.inference.OnnxSegmenter` makes for the same frame:
//
//   resizeArea        cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA) on uint8 RGB
//                     (`_Resizing._prepare`: the frame is squashed to the model's input size)
//   modelInput        ... / 255 as float32, NHWC (or NCHW), plus PortraitNet's prior channel
//   resizeBilinear    cv2.resize(probability, (W, H), interpolation=cv2.INTER_LINEAR) on
//                     float32, then clipped to [0, 1] (`_Resizing._restore`)
//   TemporalSmoother  selfieseg.video.TemporalSmoother: motion-adaptive moving average on the
//                     gaussian-blurred grey frame, scene-cut reset, hysteresis low/high
//
// Exactness, measured against OpenCV 5.0 (the library's cv2) on DAVIS parkour frames and
// PFCN test portraits; tests/web/test_browser_demo.py checks it on every run:
// * resizeArea gives OpenCV's bytes, in all three of its cases: integer factors (the sum
//   of each cell times float32 1/area, rounded half to even, except 2x2 cells, which
//   OpenCV's vectorised path rounds half up), other downscales (fractional cell weights
//   accumulated in float32 in OpenCV's order, via Math.fround), and enlarging along either
//   axis (OpenCV's area-mode bilinear taps in its 11-bit fixed point);
// * resizeBilinear is OpenCV's float path to within 2e-7 (source coordinates in float64,
//   as OpenCV 5 computes them; in float32 the values moved by up to 1e-5);
// * the smoother's grey frame (OpenCV's fixed-point RGB2GRAY, then its 5x5 gaussian for
//   sigma 0, [1 4 6 4 1]/16 with a reflect-101 border) is bit for bit, and its float32
//   arithmetic (Math.fround at every numpy step) gives numpy's values exactly.
// Camera frames and photos larger than the model's input take the first two paths.
//
// Nothing here touches the DOM: the module runs in a page, a worker, or Node.

const DBL_EPSILON = 2.220446049250313e-16;
const f32 = Math.fround;

/** Round half to even, as OpenCV's cvRound (the SSE conversion) does. */
function roundHalfEven(value) {
  const rounded = Math.round(value); // rounds .5 up
  return rounded - value === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
}

/** saturate_cast<uchar>: rounded half to even, clamped to 0..255. */
function roundToByte(value) {
  const rounded = roundHalfEven(value);
  return rounded < 0 ? 0 : rounded > 255 ? 255 : rounded;
}

/** RGB bytes (HxWx3) from canvas RGBA bytes; the canvas was filled black first, so a
 * transparent pixel is composited over black, as selfieseg.io.over_black does. */
export function rgbFromRGBA(rgba, width, height) {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    rgb[3 * i] = rgba[j];
    rgb[3 * i + 1] = rgba[j + 1];
    rgb[3 * i + 2] = rgba[j + 2];
  }
  return rgb;
}

// --- INTER_AREA --------------------------------------------------------------------------

/** OpenCV's scale and its "integer factor" test for one axis (resize.cpp, cv::resize). */
function axisScale(sourceSize, targetSize) {
  const inverse = targetSize / sourceSize;
  const scale = 1 / inverse;
  const integer = Math.round(scale);
  return { scale, inverse, integer, isInteger: Math.abs(scale - integer) < DBL_EPSILON };
}

/** OpenCV's computeResizeAreaTab: for each target index, the source indices and weights
 * of the cell it covers (partial first and last source pixels weighted by their share). */
function areaWeights(sourceSize, targetSize, scale) {
  const target = [], source = [], weight = [];
  for (let d = 0; d < targetSize; d++) {
    const start = d * scale;
    const end = start + scale;
    const cell = Math.min(scale, sourceSize - start);
    let first = Math.ceil(start);
    let last = Math.floor(end);
    last = Math.min(last, sourceSize - 1);
    first = Math.min(first, last);
    if (first - start > 1e-3) {
      target.push(d); source.push(first - 1); weight.push(f32((first - start) / cell));
    }
    for (let s = first; s < last; s++) {
      target.push(d); source.push(s); weight.push(f32(1 / cell));
    }
    if (end - last > 1e-3) {
      target.push(d); source.push(last); weight.push(f32(Math.min(Math.min(end - last, 1), cell) / cell));
    }
  }
  return { target, source, weight };
}

/** Integer factors (OpenCV's resizeAreaFast_): the sum of each cell times the float32
 * 1/area, rounded half to even; for 2x2 cells, (sum + 2) >> 2. */
function areaDownscaleInteger(src, sw, sh, channels, dw, dh, fx, fy) {
  const out = new Uint8Array(dw * dh * channels);
  const inverseArea = f32(1 / (fx * fy));
  const halving = fx === 2 && fy === 2;
  for (let dy = 0; dy < dh; dy++) {
    for (let dx = 0; dx < dw; dx++) {
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let y = dy * fy; y < dy * fy + fy; y++) {
          let index = (y * sw + dx * fx) * channels + c;
          for (let x = 0; x < fx; x++, index += channels) sum += src[index];
        }
        // halving both axes takes OpenCV's vectorised path, which rounds half up
        out[(dy * dw + dx) * channels + c] = halving ? (sum + 2) >> 2 : roundToByte(f32(sum * inverseArea));
      }
    }
  }
  return out;
}

/** Fractional factors (OpenCV's ResizeArea_Invoker<uchar, float>): each source row is
 * weighted across x into a float32 row buffer, rows are weighted into a float32 sum, in
 * OpenCV's order, and a target row is rounded when the next one starts. */
function areaDownscaleFractional(src, sw, sh, channels, dw, dh, sx, sy) {
  const xs = areaWeights(sw, dw, sx.scale);
  const ys = areaWeights(sh, dh, sy.scale);
  const out = new Uint8Array(dw * dh * channels);
  const width = dw * channels;
  const row = new Float32Array(width);
  const sum = new Float32Array(width);
  let previous = ys.target[0];
  for (let j = 0; j < ys.target.length; j++) {
    const beta = ys.weight[j];
    const dy = ys.target[j];
    const base = ys.source[j] * sw * channels;
    row.fill(0);
    for (let k = 0; k < xs.target.length; k++) {
      const s = base + xs.source[k] * channels;
      const d = xs.target[k] * channels;
      const alpha = xs.weight[k];
      for (let c = 0; c < channels; c++) row[d + c] = row[d + c] + f32(src[s + c] * alpha);
    }
    if (dy !== previous) {
      const offset = previous * width;
      for (let i = 0; i < width; i++) {
        out[offset + i] = roundToByte(sum[i]);
        sum[i] = f32(beta * row[i]);
      }
      previous = dy;
    } else {
      for (let i = 0; i < width; i++) sum[i] = sum[i] + f32(beta * row[i]);
    }
  }
  const offset = previous * width;
  for (let i = 0; i < width; i++) out[offset + i] = roundToByte(sum[i]);
  return out;
}

/** OpenCV's INTER_AREA when enlarging along either axis: bilinear with area-mode offsets
 * (a source pixel covers whole target pixels; only those straddling two blend). */
function areaModeTaps(sourceSize, targetSize, scale, inverse) {
  const index = new Int32Array(targetSize);
  const weight = new Float32Array(targetSize);
  for (let d = 0; d < targetSize; d++) {
    let s = Math.floor(d * scale);
    let t = (d + 1) - (s + 1) * inverse;
    t = t <= 0 ? 0 : f32(t - Math.floor(t));
    if (s < 0) { t = 0; s = 0; }
    if (s >= sourceSize - 1) { t = 0; s = sourceSize - 1; }
    index[d] = s;
    weight[d] = t;
  }
  return { index, weight };
}

function areaUpscale(src, sw, sh, channels, dw, dh, sx, sy) {
  const xs = areaModeTaps(sw, dw, sx.scale, sx.inverse);
  const ys = areaModeTaps(sh, dh, sy.scale, sy.inverse);
  // OpenCV's 11-bit fixed-point weights for uint8 (INTER_RESIZE_COEF_SCALE = 2048)
  const fixed = (w) => [roundHalfEven(f32(1 - w) * 2048), roundHalfEven(w * 2048)];
  const out = new Uint8Array(dw * dh * channels);
  const top = new Int32Array(dw * channels), bottom = new Int32Array(dw * channels);
  for (let dy = 0; dy < dh; dy++) {
    const y0 = ys.index[dy], y1 = Math.min(y0 + 1, sh - 1);
    const [b0, b1] = fixed(ys.weight[dy]);
    for (let dx = 0; dx < dw; dx++) {
      const x0 = xs.index[dx], x1 = Math.min(x0 + 1, sw - 1);
      const [a0, a1] = fixed(xs.weight[dx]);
      for (let c = 0; c < channels; c++) {
        top[dx * channels + c] = src[(y0 * sw + x0) * channels + c] * a0 + src[(y0 * sw + x1) * channels + c] * a1;
        bottom[dx * channels + c] = src[(y1 * sw + x0) * channels + c] * a0 + src[(y1 * sw + x1) * channels + c] * a1;
      }
    }
    const offset = dy * dw * channels;
    for (let i = 0; i < dw * channels; i++) {
      // OpenCV's vectorised vertical pass (VResizeLinearVec_32s8u)
      const value = (((b0 * (top[i] >> 4)) >> 16) + ((b1 * (bottom[i] >> 4)) >> 16) + 2) >> 2;
      out[offset + i] = value < 0 ? 0 : value > 255 ? 255 : value;
    }
  }
  return out;
}

/** cv2.resize(src, (dw, dh), interpolation=cv2.INTER_AREA) for uint8 HxWxC bytes. */
export function resizeArea(src, sw, sh, dw, dh, channels = 3) {
  if (sw === dw && sh === dh) return Uint8Array.from(src);
  const sx = axisScale(sw, dw);
  const sy = axisScale(sh, dh);
  if (sx.scale >= 1 && sy.scale >= 1) {
    if (sx.isInteger && sy.isInteger) return areaDownscaleInteger(src, sw, sh, channels, dw, dh, sx.integer, sy.integer);
    return areaDownscaleFractional(src, sw, sh, channels, dw, dh, sx, sy);
  }
  return areaUpscale(src, sw, sh, channels, dw, dh, sx, sy);
}

// --- INTER_LINEAR on float32 -------------------------------------------------------------

function linearTaps(sourceSize, targetSize) {
  const scale = 1 / (targetSize / sourceSize);
  const index = new Int32Array(targetSize);
  const weight = new Float32Array(targetSize);
  for (let d = 0; d < targetSize; d++) {
    const position = (d + 0.5) * scale - 0.5; // float64, as OpenCV 5 computes it
    let s = Math.floor(position);
    let t = f32(position - s);
    if (s < 0) { t = 0; s = 0; }
    if (s >= sourceSize - 1) { t = 0; s = sourceSize - 1; }
    index[d] = s;
    weight[d] = t;
  }
  return { index, weight };
}

/** cv2.resize(src, (dw, dh), interpolation=cv2.INTER_LINEAR) for a float32 HxW plane:
 * half-pixel centres, edges clamped. */
export function resizeBilinear(src, sw, sh, dw, dh) {
  const out = new Float32Array(dw * dh);
  if (sw === dw && sh === dh) { out.set(src); return out; }
  const xs = linearTaps(sw, dw);
  const ys = linearTaps(sh, dh);
  const top = new Float32Array(dw), bottom = new Float32Array(dw);
  for (let dy = 0; dy < dh; dy++) {
    const y0 = ys.index[dy], y1 = Math.min(y0 + 1, sh - 1), b = ys.weight[dy];
    for (let dx = 0; dx < dw; dx++) {
      const x0 = xs.index[dx], x1 = Math.min(x0 + 1, sw - 1), a = xs.weight[dx];
      top[dx] = src[y0 * sw + x0] * f32(1 - a) + src[y0 * sw + x1] * a;
      bottom[dx] = src[y1 * sw + x0] * f32(1 - a) + src[y1 * sw + x1] * a;
    }
    const offset = dy * dw;
    for (let dx = 0; dx < dw; dx++) out[offset + dx] = top[dx] * f32(1 - b) + bottom[dx] * b;
  }
  return out;
}

// --- a model's input and output ------------------------------------------------------------

/** The model input for one RGB frame: squashed with INTER_AREA, /255, float32, in the
 * model's layout; a 4-channel model (PortraitNet) gets the previous probability, resized
 * with INTER_LINEAR, as its 4th channel (zeros for the first frame). */
export function modelInput(rgb, width, height, input, prior = null) {
  const { width: iw, height: ih, channels, layout } = input;
  const small = resizeArea(rgb, width, height, iw, ih, 3);
  const priorPlane = channels === 4 && prior ? resizeBilinear(prior, width, height, iw, ih) : null;
  const data = new Float32Array(iw * ih * channels);
  const planar = layout === "NCHW";
  for (let i = 0; i < iw * ih; i++) {
    for (let c = 0; c < channels; c++) {
      const value = c < 3 ? f32(small[3 * i + c] / 255) : priorPlane ? priorPlane[i] : 0;
      data[planar ? c * iw * ih + i : i * channels + c] = value;
    }
  }
  return data;
}

/** The person probability at the frame's size from the model's output plane. */
export function restoreProbability(output, outputWidth, outputHeight, width, height) {
  const probability = resizeBilinear(output, outputWidth, outputHeight, width, height);
  for (let i = 0; i < probability.length; i++) {
    const p = probability[i];
    probability[i] = p < 0 ? 0 : p > 1 ? 1 : p;
  }
  return probability;
}

/** probability > threshold as 0/1 bytes. */
export function threshold(probability, level = 0.5) {
  const mask = new Uint8Array(probability.length);
  for (let i = 0; i < probability.length; i++) mask[i] = probability[i] > level ? 1 : 0;
  return mask;
}

// --- temporal smoothing --------------------------------------------------------------------

/** cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) on uint8: OpenCV's 14-bit fixed-point weights. */
export function greyFromRGB(rgb, width, height) {
  const grey = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < grey.length; i++, j += 3) {
    grey[i] = (rgb[j] * 4899 + rgb[j + 1] * 9617 + rgb[j + 2] * 1868 + 8192) >> 14;
  }
  return grey;
}

function reflect101(index, size) {
  if (size === 1) return 0;
  while (index < 0 || index >= size) index = index < 0 ? -index : 2 * size - 2 - index;
  return index;
}

/** cv2.GaussianBlur(grey, (5, 5), 0) on uint8: sigma 0 picks OpenCV's fixed 5-tap kernel
 * [1 4 6 4 1]/16, applied along x then y, reflect-101 border, rounded once at the end. */
export function gaussian5(grey, width, height) {
  const column = new Int32Array(width + 4); // x - 2 .. x + 2, reflected at the borders
  for (let x = -2; x < width + 2; x++) column[x + 2] = reflect101(x, width);
  const horizontal = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      horizontal[row + x] = grey[row + column[x]] + 4 * grey[row + column[x + 1]] + 6 * grey[row + x]
        + 4 * grey[row + column[x + 3]] + grey[row + column[x + 4]];
    }
  }
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const r0 = reflect101(y - 2, height) * width, r1 = reflect101(y - 1, height) * width, r2 = y * width;
    const r3 = reflect101(y + 1, height) * width, r4 = reflect101(y + 2, height) * width;
    for (let x = 0; x < width; x++) {
      out[r2 + x] = (horizontal[r0 + x] + 4 * horizontal[r1 + x] + 6 * horizontal[r2 + x] + 4 * horizontal[r3 + x]
        + horizontal[r4 + x] + 128) >> 8;
    }
  }
  return out;
}

/** The smoother's view of a frame: its grey levels, blurred (computed once a frame and
 * shared by every model's smoother). */
export function blurredGrey(rgb, width, height) {
  return gaussian5(greyFromRGB(rgb, width, height), width, height);
}

/** selfieseg.video.TemporalSmoother, rule for rule (its docstring gives the reasons and the
 * defaults' measurements): where a pixel of the blurred grey frame is unchanged, keep
 * `strength` of the previous probability; where it moved by `motion` grey levels or more,
 * take the new one; forget the past when more than `cut` of the pixels moved. */
export class TemporalSmoother {
  constructor({ strength = 0.95, motion = 25.0, cut = 0.5, low = 0.4, high = 0.6 } = {}) {
    if (!(strength >= 0 && strength < 1)) throw new RangeError(`strength must be in [0, 1), got ${strength}.`);
    if (!(low > 0 && low <= 0.5 && high >= 0.5 && high < 1)) {
      throw new RangeError(`need 0 < low <= 0.5 <= high < 1, got low=${low}, high=${high}.`);
    }
    Object.assign(this, { strength, motion, cut, low, high });
    this.reset();
  }

  reset() {
    this.grey = this.probability = this.mask = null;
    this.size = null;
  }

  /** The smoothed probability for this frame (also remembered for the next); `grey` is
   * blurredGrey(rgb, width, height), passed in when it was computed already. */
  update(rgb, width, height, probability, grey = blurredGrey(rgb, width, height)) {
    const size = `${width}x${height}`;
    let smoothed;
    if (this.grey === null || this.size !== size) {
      smoothed = Float32Array.from(probability);
    } else {
      const motion = f32(this.motion);
      let moving = 0;
      for (let i = 0; i < grey.length; i++) if (Math.abs(grey[i] - this.grey[i]) > motion) moving++;
      if (moving / grey.length > this.cut) { // a new scene: forget the past
        smoothed = Float32Array.from(probability);
        this.mask = null;
      } else {
        smoothed = new Float32Array(grey.length);
        const strength = f32(this.strength);
        for (let i = 0; i < grey.length; i++) {
          const change = Math.abs(grey[i] - this.grey[i]);
          const still = f32(1 - f32(change / motion));
          const keep = f32(strength * (still < 0 ? 0 : still > 1 ? 1 : still));
          smoothed[i] = f32(keep * this.probability[i]) + f32(f32(1 - keep) * probability[i]);
        }
      }
    }
    this.grey = grey;
    this.size = size;
    this.probability = smoothed;
    return smoothed;
  }

  /** The binary mask with hysteresis: a pixel turns to person above `high` and back to
   * background below `low` only. */
  binary(probability) {
    let mask;
    if (this.mask === null || this.mask.length !== probability.length) {
      mask = threshold(probability, 0.5);
    } else {
      mask = new Uint8Array(probability.length);
      for (let i = 0; i < probability.length; i++) {
        mask[i] = this.mask[i] ? (probability[i] > this.low ? 1 : 0) : (probability[i] > this.high ? 1 : 0);
      }
    }
    this.mask = mask;
    return mask;
  }
}

// --- bytes for the test hook ---------------------------------------------------------------

/** Base64 of raw bytes (the hook's transport for frames and masks). */
export function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** Raw bytes from base64 (for feeding this module real frames from a test). */
export function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
