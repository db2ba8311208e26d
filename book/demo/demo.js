// The page: camera or photo in, every chosen model's mask and effect out, side by side.
//
// Frames go through one queue (a camera frame, a photo, a re-run after a control
// changes), so a model never sees two frames at once. Every model gets the same RGB
// frame and the same pre- and post-processing (segmentation.js); only the runtime
// differs (runtimes.js).
//
// window.selfiesegDemo is the hook the browser tests and benchmarks/browser.py read:
//   ready        true once every model has loaded or failed (models, failed say which)
//   messages     what the page shows the reader: [{kind, text}]
//   fps          {model id: frames per second}, loopFps (the whole camera loop), frames
//   stats        {model id: {frames, totalMs, modelMs}}: sums since the page opened
//   last         the last processed frame's index, source ("camera"/"photo"), size, smoothing
//   lastFrame()  the last processed frame: its RGB bytes (HxWx3) and each model's mask
//                (HxW, 0/1) and probability (HxW float32, little-endian), base64-encoded

import { Compositor } from "./effects.js";
import { loadManifest, missingFiles, openModel } from "./runtimes.js";
import {
  TemporalSmoother, blurredGrey, modelInput, restoreProbability, rgbFromRGBA, threshold, toBase64,
} from "./segmentation.js";

const BASE = new URL(".", import.meta.url);
const MAX_PIXELS = 100_000_000; // selfieseg.io.MAX_PIXELS: larger images are refused there too
const FPS_WINDOW = 30;

const $ = (id) => document.getElementById(id);
const ui = {
  messages: $("messages"), panels: $("panels"), modelChoice: $("model-choice"), video: $("camera"),
  cameraStart: $("camera-start"), cameraStop: $("camera-stop"), photo: $("photo-input"),
  blur: $("blur-strength"), colour: $("background-colour"), background: $("background-input"),
  smoothing: $("smoothing"), strength: $("smoothing-strength"), strengthValue: $("smoothing-value"),
};

const slots = []; // one per loaded model: runner, panel, smoother, timings
let lastRecord = null;
let backgroundImage = null;
let stream = null;
let cameraRun = 0; // incremented to stop the running camera loop
let queue = Promise.resolve();
const loopTimes = [];

const hook = {
  ready: false,
  models: [],
  failed: {},
  messages: [],
  fps: {},
  stats: {},
  loopFps: 0,
  frames: 0,
  last: null,
  settings: () => ({ ...settings(), backgroundImage: backgroundImage !== null }),
  lastFrame() {
    const record = lastRecord;
    if (!record) return null;
    const encode = (map, bytes) => Object.fromEntries(Object.entries(map).map(([id, value]) => [id, toBase64(bytes(value))]));
    return {
      index: record.index, source: record.source, width: record.width, height: record.height,
      smoothing: record.smoothing, rgb: toBase64(record.rgb),
      masks: encode(record.masks, (mask) => mask),
      probabilities: encode(record.probabilities, (p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)),
    };
  },
};
window.selfiesegDemo = hook;

// --- messages to the reader ------------------------------------------------------------

/** Show `text` under `kind` (one message per kind: a new one replaces the old). */
function say(kind, text, level = "error") {
  clear(kind);
  const item = document.createElement("li");
  item.dataset.kind = kind;
  item.className = level;
  item.setAttribute("role", level === "error" ? "alert" : "status");
  item.textContent = text;
  ui.messages.append(item);
  hook.messages.push({ kind, text, level });
}

function clear(kind) {
  for (const item of ui.messages.querySelectorAll(`[data-kind="${kind}"]`)) item.remove();
  hook.messages = hook.messages.filter((message) => message.kind !== kind);
}

/** An input the page refuses, with the reason to show. */
class RefusedInput extends Error {}

// --- settings ------------------------------------------------------------------------------

function settings() {
  return {
    effect: document.querySelector('input[name="effect"]:checked').value,
    blur: Number(ui.blur.value),
    colour: ui.colour.value,
    backgroundImage,
    smoothing: ui.smoothing.checked,
    strength: Number(ui.strength.value),
    models: slots.filter((slot) => slot.enabled()).map((slot) => slot.id),
  };
}

// --- one model's panel -----------------------------------------------------------------------

function panel(entry) {
  const figure = document.createElement("figure");
  figure.className = "panel";
  figure.dataset.model = entry.id;
  const target = document.createElement("canvas");
  target.width = 640;
  target.height = 480;
  const caption = document.createElement("figcaption");
  const label = document.createElement("strong");
  label.textContent = entry.label;
  const fps = document.createElement("span");
  fps.className = "fps";
  fps.textContent = "– fps";
  const detail = document.createElement("span");
  detail.className = "detail";
  detail.textContent = `${entry.input.width}x${entry.input.height} input, ${entry.runtime}`;
  caption.append(label, " ", fps, " ", detail);
  figure.append(target, caption);
  ui.panels.append(figure);

  const choice = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = true;
  box.dataset.model = entry.id;
  choice.append(box, ` ${entry.label}`);
  ui.modelChoice.append(choice);
  box.addEventListener("change", () => {
    figure.hidden = !box.checked;
    if (lastRecord?.source === "photo") rerunPhoto();
  });
  return { figure, target, fps, detail, box };
}

class Slot {
  constructor(runner, view) {
    Object.assign(this, { runner, view, id: runner.id });
    this.input = runner.input;
    this.output = runner.output;
    this.smoother = new TemporalSmoother({ strength: Number(ui.strength.value) });
    this.compositor = new Compositor(view.target);
    this.previous = null; // the last probability: the prior of a 4-channel model
    this.times = [];
    this.totals = { frames: 0, totalMs: 0, modelMs: 0 }; // since the page opened (benchmarks/browser.py)
    hook.stats[this.id] = this.totals;
  }

  enabled() {
    return this.view.box.checked;
  }

  record(total, model) {
    this.totals.frames += 1;
    this.totals.totalMs += total;
    this.totals.modelMs += model;
    this.times.push([total, model]);
    if (this.times.length > FPS_WINDOW) this.times.shift();
    const mean = (k) => this.times.reduce((sum, t) => sum + t[k], 0) / this.times.length;
    const fps = 1000 / mean(0);
    hook.fps[this.id] = fps;
    this.view.fps.textContent = `${fps.toFixed(1)} fps`;
    this.view.detail.textContent = `${mean(0).toFixed(1)} ms a frame, of which the model ${mean(1).toFixed(1)} ms`;
  }
}

// --- frames --------------------------------------------------------------------------------

const frameCanvas = document.createElement("canvas");
const frameContext = frameCanvas.getContext("2d", { willReadFrequently: true });

/** Draw an image or video frame as the frame to segment (over black: a transparent pixel
 * counts as black, as selfieseg.io.over_black makes it). */
function setFrame(source, width, height) {
  if (frameCanvas.width !== width || frameCanvas.height !== height) {
    frameCanvas.width = width;
    frameCanvas.height = height;
  }
  frameContext.fillStyle = "#000";
  frameContext.fillRect(0, 0, width, height);
  frameContext.drawImage(source, 0, 0, width, height);
}

/** Segment the frame on frameCanvas with every chosen model and draw each result. */
async function segmentFrame(source) {
  const { width, height } = frameCanvas;
  const rgb = rgbFromRGBA(frameContext.getImageData(0, 0, width, height).data, width, height);
  const chosen = settings();
  const smoothing = source === "camera" && chosen.smoothing;
  const greyStart = performance.now();
  const grey = smoothing ? blurredGrey(rgb, width, height) : null; // shared by every model's smoother
  const greyTime = performance.now() - greyStart; // ... and counted in each model's time
  const record = { index: hook.frames + 1, source, width, height, smoothing, rgb, masks: {}, probabilities: {} };
  for (const slot of slots) {
    if (!slot.enabled()) continue;
    const start = performance.now();
    // PortraitNet's 4th channel: the last camera frame's probability (none for a photo, or
    // when the frame size changed), as selfieseg.video.VideoSegmenter passes it
    const usable = source === "camera" && slot.previous?.length === width * height;
    const prior = slot.input.channels === 4 && usable ? slot.previous : null;
    const input = modelInput(rgb, width, height, slot.input, prior);
    const modelStart = performance.now();
    const output = await slot.runner.infer(input);
    const modelTime = performance.now() - modelStart;
    let probability = restoreProbability(output, slot.output.width, slot.output.height, width, height);
    let mask;
    if (smoothing) {
      slot.smoother.strength = chosen.strength;
      probability = slot.smoother.update(rgb, width, height, probability, grey);
      mask = slot.smoother.binary(probability);
    } else {
      slot.smoother.reset(); // a photo, or smoothing off: the next camera frame starts afresh
      mask = threshold(probability);
    }
    slot.record(performance.now() - start + greyTime, modelTime);
    slot.previous = source === "camera" ? probability : null;
    record.masks[slot.id] = mask;
    record.probabilities[slot.id] = probability;
    slot.compositor.draw(frameCanvas, probability, chosen);
  }
  hook.frames = record.index;
  hook.last = { index: record.index, source, width, height, smoothing, models: Object.keys(record.masks) };
  lastRecord = record;
}

/** Run `work` after everything queued before it; errors reach the reader and the console. */
function enqueue(work) {
  queue = queue.then(work).catch((error) => {
    say("runtime", `Segmentation failed: ${error.message}`);
    console.error(error);
  });
  return queue;
}

// --- camera --------------------------------------------------------------------------------

function cameraMessage(error) {
  switch (error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera access was refused. To use the camera, allow it for this page in the browser's site "
        + "settings and press Start camera again; uploading a photo works without it.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera was found on this device: upload a photo instead.";
    case "NotReadableError":
    case "AbortError":
      return "The camera could not be started (is another program using it?): close that program and press "
        + "Start camera again, or upload a photo.";
    default:
      return `The camera could not be started (${error.name}: ${error.message}); upload a photo instead.`;
  }
}

function nextVideoFrame() {
  return new Promise((resolve) => {
    if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) ui.video.requestVideoFrameCallback(() => resolve());
    else requestAnimationFrame(() => resolve());
  });
}

async function startCamera() {
  clear("camera");
  if (!navigator.mediaDevices?.getUserMedia) {
    say("camera", window.isSecureContext
      ? "This browser gives pages no camera access: upload a photo instead."
      : "The camera needs a secure page (https:// or http://localhost): open the page that way, or upload a photo.");
    return;
  }
  ui.cameraStart.disabled = true; // one camera at a time, even on a double click
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: false,
    });
  } catch (error) {
    ui.cameraStart.disabled = false;
    say("camera", cameraMessage(error));
    return;
  }
  ui.video.srcObject = stream;
  ui.video.hidden = false; // shown as a thumbnail: a video on screen gets its frames delivered
  await ui.video.play();
  ui.cameraStop.disabled = false;
  const run = ++cameraRun;
  loopTimes.length = 0;
  while (run === cameraRun) {
    await nextVideoFrame();
    if (run !== cameraRun || !ui.video.videoWidth) continue;
    await enqueue(async () => {
      if (run !== cameraRun) return;
      setFrame(ui.video, ui.video.videoWidth, ui.video.videoHeight);
      await segmentFrame("camera");
      loopTimes.push(performance.now());
      if (loopTimes.length > FPS_WINDOW) loopTimes.shift();
      if (loopTimes.length > 1) hook.loopFps = (1000 * (loopTimes.length - 1)) / (loopTimes.at(-1) - loopTimes[0]);
    });
  }
}

function stopCamera() {
  cameraRun++;
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  ui.video.srcObject = null;
  ui.video.hidden = true;
  ui.cameraStart.disabled = slots.length === 0;
  ui.cameraStop.disabled = true;
}

// --- uploads -------------------------------------------------------------------------------

/** The file as a decoded image (EXIF orientation applied, as selfieseg.io.read_image does),
 * or a RefusedInput saying why not. */
async function readImage(file) {
  if (file.type && !file.type.startsWith("image/")) {
    throw new RefusedInput(`${file.name} is not an image (its type is ${file.type}): choose a JPEG, PNG or WebP photo.`);
  }
  let image;
  try {
    image = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    throw new RefusedInput(`${file.name} could not be read as an image (damaged, or a format this browser `
      + "cannot decode): choose a JPEG, PNG or WebP photo.");
  }
  if (image.width * image.height > MAX_PIXELS) {
    image.close();
    throw new RefusedInput(`${file.name} has ${image.width}x${image.height} pixels, above the `
      + `${MAX_PIXELS.toLocaleString("en")} limit: downscale it first.`);
  }
  return image;
}

let photo = null;

function rerunPhoto() {
  if (!photo) return;
  enqueue(async () => {
    setFrame(photo, photo.width, photo.height);
    await segmentFrame("photo");
  });
}

async function uploadPhoto() {
  const file = ui.photo.files[0];
  if (!file) return;
  clear("upload");
  let image;
  try {
    image = await readImage(file);
  } catch (error) {
    if (!(error instanceof RefusedInput)) throw error;
    say("upload", error.message);
    return;
  }
  stopCamera();
  photo?.close();
  photo = image;
  rerunPhoto();
}

async function uploadBackground() {
  const file = ui.background.files[0];
  if (!file) return;
  clear("background");
  try {
    backgroundImage = await readImage(file);
  } catch (error) {
    if (!(error instanceof RefusedInput)) throw error;
    say("background", error.message);
    return;
  }
  document.querySelector('input[name="effect"][value="image"]').checked = true;
  redraw();
}

/** Draw the last photo's results again after an effect control changed (no new inference). */
function redraw() {
  if (lastRecord?.source !== "photo" || !photo) return;
  enqueue(async () => {
    setFrame(photo, photo.width, photo.height);
    for (const slot of slots) {
      const probability = lastRecord.probabilities[slot.id];
      if (probability && slot.enabled()) slot.compositor.draw(frameCanvas, probability, settings());
    }
  });
}

// --- start ---------------------------------------------------------------------------------

async function loadModels() {
  let manifest;
  try {
    manifest = await loadManifest(BASE);
  } catch (error) {
    say("models.json", error.message);
    return;
  }
  const needed = new Set();
  for (const entry of manifest.models) {
    needed.add(entry.file);
    for (const file of manifest.runtimes[entry.runtime]?.files ?? []) needed.add(file);
  }
  const missing = await missingFiles(BASE, [...needed]);
  for (const file of missing) say(`file:${file.path}`, file.message);
  const absent = new Set(missing.map((file) => file.path));
  for (const entry of manifest.models) {
    const view = panel(entry);
    const blocked = [entry.file, ...(manifest.runtimes[entry.runtime]?.files ?? [])].filter((file) => absent.has(file));
    try {
      if (blocked.length) throw new Error(`${blocked.join(", ")} ${blocked.length > 1 ? "are" : "is"} missing`);
      slots.push(new Slot(await openModel(BASE, entry, manifest), view));
    } catch (error) {
      hook.failed[entry.id] = error.message;
      view.fps.textContent = "unavailable";
      view.detail.textContent = error.message;
      view.box.disabled = true;
      view.box.checked = false;
      if (!blocked.length) say(`model:${entry.id}`, `${entry.label} could not be loaded: ${error.message}`);
    }
  }
}

async function start() {
  await loadModels();
  hook.models = slots.map((slot) => slot.id);
  const usable = slots.length > 0;
  ui.cameraStart.disabled = !usable;
  ui.photo.disabled = !usable;
  if (!usable) say("models", "No model could be loaded, so there is nothing to run: see the messages above.");
  hook.ready = true;
}

ui.cameraStart.addEventListener("click", () => startCamera());
ui.cameraStop.addEventListener("click", () => stopCamera());
ui.photo.addEventListener("change", () => uploadPhoto());
ui.background.addEventListener("change", () => uploadBackground());
for (const control of [ui.blur, ui.colour, ...document.querySelectorAll('input[name="effect"]')]) {
  control.addEventListener("input", () => redraw());
}
ui.strength.addEventListener("input", () => { ui.strengthValue.textContent = Number(ui.strength.value).toFixed(2); });

start();
