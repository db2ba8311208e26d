// The two runtimes behind one interface: `await runner.infer(Float32Array) -> Float32Array`.
//
// * onnxruntime-web (WebAssembly backend) runs selfieseg's model, exported to ONNX by
//   `selfieseg export` (the library's own export, the file `OnnxSegmenter` runs in Python);
// * LiteRT.js (WebAssembly, XNNPACK) runs MediaPipe's selfie segmenter .tflite as it ships.
//
// Both take RGB float32 in [0, 1], NHWC, batch 1, and return the person probability
// 1xHxWx1, so the page prepares and reads both with the same functions (segmentation.js).
// Both run on the CPU, one thread each: a page published without cross-origin isolation
// headers (GitHub Pages) cannot use WebAssembly threads, and one thread each keeps the
// comparison fair. Every file is served from this page's own folder (vendor/, models/):
// nothing is fetched from a CDN.

/** A file the page needs that is not there (its path relative to the page, and why). */
export class MissingFile extends Error {
  constructor(path, status) {
    super(`${path} is missing from this page's folder (HTTP ${status}). Rebuild the page: `
      + "python -m selfieseg.webdemo BUILD_DIR (it exports the model and copies the runtimes next to the page).");
    this.path = path;
  }
}

/** models.json: which models the build put next to the page, and the runtimes' files. */
export async function loadManifest(base) {
  const url = new URL("models.json", base);
  let response;
  try {
    response = await fetch(url, { cache: "no-cache" });
  } catch (error) {
    throw new Error(`models.json could not be fetched (${error.message}): open the page through a web server `
      + "(python -m selfieseg.webdemo BUILD_DIR --serve), not as a file.");
  }
  if (!response.ok) throw new MissingFile("models.json", response.status);
  return response.json();
}

/** The files among `paths` (relative to `base`) that the server says are not there. */
export async function missingFiles(base, paths) {
  const checks = await Promise.all(paths.map(async (path) => {
    try {
      const response = await fetch(new URL(path, base), { method: "HEAD", cache: "no-cache" });
      return response.status === 404 || response.status === 410 ? new MissingFile(path, response.status) : null;
    } catch (error) {
      return new MissingFile(path, `unreachable: ${error.message}`);
    }
  }));
  return checks.filter(Boolean);
}

async function fetchBytes(base, path) {
  const response = await fetch(new URL(path, base));
  if (!response.ok) throw new MissingFile(path, response.status);
  return new Uint8Array(await response.arrayBuffer());
}

// --- onnxruntime-web -----------------------------------------------------------------------

let ortModule = null;

async function onnxRuntime(base, runtime) {
  if (!ortModule) {
    ortModule = await import(new URL(runtime.module, base).href);
    ortModule.env.wasm.wasmPaths = new URL(runtime.wasm_paths, base).href;
    ortModule.env.wasm.numThreads = 1;
    ortModule.env.wasm.proxy = false;
  }
  return ortModule;
}

async function openOnnx(base, entry, runtime) {
  const ort = await onnxRuntime(base, runtime);
  const session = await ort.InferenceSession.create(await fetchBytes(base, entry.file), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const dims = inputDims(entry.input);
  return {
    async infer(data) {
      const results = await session.run({ [inputName]: new ort.Tensor("float32", data, dims) });
      return results[outputName].data;
    },
  };
}

// --- LiteRT.js -----------------------------------------------------------------------------

let liteRtModule = null;

/** LiteRT's WebAssembly writes its INFO log to stderr, which Emscripten sends to
 * console.error: its INFO lines go to console.debug, its WARNING lines to console.warn,
 * and anything else (a real error) stays on console.error. */
function liteRtLog(text) {
  if (!text.trim()) return;
  if (text.startsWith("INFO")) console.debug(`[LiteRT] ${text}`);
  else if (text.startsWith("WARNING")) console.warn(`[LiteRT] ${text}`);
  else console.error(`[LiteRT] ${text}`);
}

async function liteRt(base, runtime) {
  if (!liteRtModule) {
    const module = await import(new URL(runtime.module, base).href);
    globalThis.Module = { print: (text) => console.debug(`[LiteRT] ${text}`), printErr: liteRtLog };
    await module.loadLiteRt(new URL(runtime.wasm_paths, base).href);
    liteRtModule = module;
  }
  return liteRtModule;
}

async function openTflite(base, entry, runtime) {
  const litert = await liteRt(base, runtime);
  const model = await litert.loadAndCompile(await fetchBytes(base, entry.file), { accelerator: "wasm" });
  const dims = inputDims(entry.input);
  return {
    async infer(data) {
      const input = new litert.Tensor(data, dims);
      let outputs;
      try {
        outputs = await model.run(input);
        return Float32Array.from(outputs[0].toTypedArray());
      } finally {
        input.delete();
        for (const tensor of outputs ?? []) tensor.delete();
      }
    },
  };
}

// --- one door --------------------------------------------------------------------------------

function inputDims({ height, width, channels, layout }) {
  return layout === "NCHW" ? [1, channels, height, width] : [1, height, width, channels];
}

const OPENERS = { "onnxruntime-web": openOnnx, litert: openTflite };

/** A runner for one models.json entry; its files must be there (see missingFiles). */
export async function openModel(base, entry, manifest) {
  const opener = OPENERS[entry.runtime];
  if (!opener) throw new Error(`models.json: unknown runtime ${JSON.stringify(entry.runtime)} for ${entry.file}.`);
  const runner = await opener(base, entry, manifest.runtimes[entry.runtime]);
  return { ...entry, ...runner };
}
