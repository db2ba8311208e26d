// Background effects on a 2D canvas: blur, a colour, an image, or the mask itself.
//
// The browser's counterpart of selfieseg.effects, drawn with the canvas's own operations
// so that it costs a few milliseconds a frame: the person is the frame masked by the
// feathered probability (`destination-in`), drawn over the new background. Two
// differences from the Python effects, both in the look only (the mask is the library's):
// * the blur is the frame shrunk by up to 8x (as blur_background does) and blurred with
//   the canvas filter, without blur_background's renormalisation by the blurred mask, so
//   a faint halo of the person's colours can show around them;
// * the feathering is the canvas filter's blur (3 px, selfieseg.effects.feather's radius);
//   browsers without canvas filters (older Safari) show the edge unfeathered.

function canvas(width, height) {
  const element = document.createElement("canvas");
  element.width = width;
  element.height = height;
  return element;
}

const filtersWork = (() => {
  const context = document.createElement("canvas").getContext("2d");
  return context !== null && "filter" in context;
})();

/** Draws one model's result into its panel's canvas; keeps its scratch canvases. */
export class Compositor {
  constructor(target) {
    this.target = target;
    this.maskCanvas = null;
    this.personCanvas = null;
  }

  _scratch(width, height) {
    if (!this.maskCanvas || this.maskCanvas.width !== width || this.maskCanvas.height !== height) {
      this.maskCanvas = canvas(width, height);
      this.personCanvas = canvas(width, height);
      this.maskPixels = new ImageData(width, height);
    }
  }

  /** `frame`: a canvas holding the frame; `probability`: Float32Array at its size. */
  draw(frame, probability, settings) {
    const { width, height } = frame;
    this._scratch(width, height);
    if (this.target.width !== width || this.target.height !== height) {
      this.target.width = width;
      this.target.height = height;
    }
    const pixels = this.maskPixels.data;
    for (let i = 0, j = 0; i < probability.length; i++, j += 4) {
      const value = Math.round(probability[i] * 255);
      pixels[j] = pixels[j + 1] = pixels[j + 2] = 255;
      pixels[j + 3] = value;
    }
    this.maskCanvas.getContext("2d").putImageData(this.maskPixels, 0, 0);
    const out = this.target.getContext("2d");
    out.save();
    if (settings.effect === "mask") {
      out.fillStyle = "#000";
      out.fillRect(0, 0, width, height);
      out.drawImage(this.maskCanvas, 0, 0);
      out.restore();
      return;
    }
    this._background(out, frame, settings);
    const person = this.personCanvas.getContext("2d");
    person.save();
    person.globalCompositeOperation = "copy";
    person.drawImage(frame, 0, 0);
    person.globalCompositeOperation = "destination-in";
    if (filtersWork) person.filter = "blur(3px)";
    person.drawImage(this.maskCanvas, 0, 0);
    person.restore();
    out.drawImage(this.personCanvas, 0, 0);
    out.restore();
  }

  _background(out, frame, settings) {
    const { width, height } = frame;
    if (settings.effect === "colour") {
      out.fillStyle = settings.colour;
      out.fillRect(0, 0, width, height);
    } else if (settings.effect === "image" && settings.backgroundImage) {
      const image = settings.backgroundImage;
      const scale = Math.max(width / image.width, height / image.height); // cover, centred
      const drawnWidth = image.width * scale, drawnHeight = image.height * scale;
      out.drawImage(image, (width - drawnWidth) / 2, (height - drawnHeight) / 2, drawnWidth, drawnHeight);
    } else { // blur (also "image" before one is chosen)
      const strength = settings.blur;
      const factor = Math.min(8, Math.max(1, Math.floor(strength / 3)));
      const small = canvas(Math.max(1, Math.floor(width / factor)), Math.max(1, Math.floor(height / factor)));
      const context = small.getContext("2d");
      const sigma = Math.max(strength / factor, 0.5);
      // drawn a little larger than the canvas, so the blur does not fade the borders to transparent
      const pad = filtersWork ? Math.ceil(2 * sigma) : 0;
      if (filtersWork) context.filter = `blur(${sigma}px)`;
      context.drawImage(frame, -pad, -pad, small.width + 2 * pad, small.height + 2 * pad);
      out.imageSmoothingQuality = "high";
      out.drawImage(small, 0, 0, width, height);
    }
  }
}
