// The decoders' output to canvas pixels.

/** A value in [0, 1] (clamped) as a byte: round(v * 255). The one clamp-and-scale of the components. */
export function unitByte(v) {
  return Math.round(Math.min(1, Math.max(0, v)) * 255);
}

/**
 * Write a (C, H, W) float32 image in [0, 1] (C = 1: grey, C >= 3: the first three planes as RGB) into `rgba`,
 * an ImageData's H*W*4 bytes: each value clamped to [0, 1], times 255, rounded; alpha 255.
 */
export function paintCHW(image, C, H, W, rgba) {
  const plane = H * W;
  for (let p = 0; p < plane; p++) {
    const r = image[p];
    const g = C >= 3 ? image[plane + p] : r;
    const b = C >= 3 ? image[2 * plane + p] : r;
    rgba[4 * p] = unitByte(r);
    rgba[4 * p + 1] = unitByte(g);
    rgba[4 * p + 2] = unitByte(b);
    rgba[4 * p + 3] = 255;
  }
}

/**
 * An onnxruntime output tensor (1, C, H, W) in [0, 1] as uint8 RGB planes: {image: Uint8Array(3*H*W), shape:
 * [3, H, W]}, each value unitByte'd (C = 1: the grey plane three times). The tensor is disposed: a worker posts the
 * planes (transferable), and the page paints them with paintRGB-style loops.
 */
export function rgbPlanes(out) {
  const [, C, H, W] = out.dims;
  const plane = H * W;
  const image = new Uint8Array(3 * plane);
  for (let i = 0; i < image.length; i++) image[i] = unitByte(out.data[C >= 3 ? i : i % plane]);
  out.dispose?.();
  return { image, shape: [3, H, W] };
}
