// Network inputs: raw float32 files and images prepared the way Darknet's front ends do (SEMANTICS.md 9):
//   [region] nets and classifiers   letterbox_image to the network size (detector.c, classifier.c)
//   [detection] nets (YOLOv1)       resize_image to the network size (yolo.c)

import { readInputBytes, regularFileSize } from '../../io/input.js';

import { fromHost } from '../../tensor/ops/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { letterboxImage, loadImage, resizeImage, type FloatImage } from '../data/image.js';
import { layersOfType, type Network } from './network.js';

export type InputMethod = 'letterbox' | 'resize';

export interface PreparedInput {
  /** c×h×w float32 values in CHW order, the network's input size. */
  data: Float32Array;
  /** Size of the original image (the network size for a raw input). */
  imageW: number;
  imageH: number;
  method: InputMethod | 'raw';
}

/** 'resize' for YOLOv1 nets (a [detection] layer and no [region] layer), else 'letterbox'. */
export function inputMethod(net: Network): InputMethod {
  return layersOfType(net, 'detection').length > 0 && layersOfType(net, 'region').length === 0 ? 'resize' : 'letterbox';
}

/** Reads a raw little-endian float32 file that must hold exactly one network input. */
export function readRawInput(net: Network, file: string): PreparedInput {
  const [c, h, w] = net.inputShape;
  const need = net.cfg.inputs;
  // A regular file of the wrong size is reported from its size, without reading it.
  const size = regularFileSize(file);
  const bytes = size !== null && size !== need * 4 ? Buffer.alloc(0) : readInputBytes(file, 'input file', need * 4 + 1);
  const length = size !== null && size !== need * 4 ? size : bytes.byteLength;
  if (length !== need * 4) {
    throw new Error(`${file}: ${length} bytes, but the network input ${c}×${h}×${w} needs ${need} float32 values (${need * 4} bytes)`);
  }
  const data = new Float32Array(need);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < need; i++) data[i] = dv.getFloat32(i * 4, true);
  return { data, imageW: w, imageH: h, method: 'raw' };
}

/** Letterboxes or resizes an image to the network input (by `method`, default inputMethod(net)). */
export function prepareImage(net: Network, im: FloatImage, method: InputMethod = inputMethod(net)): PreparedInput {
  const [c, h, w] = net.inputShape;
  if (im.channels !== c) throw new Error(`the image has ${im.channels} channels, the network input ${c}×${h}×${w} needs ${c}`);
  const sized = method === 'letterbox' ? letterboxImage(im, w, h).image : resizeImage(im, w, h);
  return { data: sized.data, imageW: im.width, imageH: im.height, method };
}

/** Loads an image file and prepares it for `net`. */
export async function imageInput(net: Network, file: string, method?: InputMethod): Promise<PreparedInput> {
  return prepareImage(net, await loadImage(file), method);
}

/** The prepared values as a [1, c, h, w] tensor of the network's dtype on its device. */
export function inputTensor(net: Network, input: PreparedInput): Tensor {
  const [c, h, w] = net.inputShape;
  const host = net.dtype === 'float64' ? Float64Array.from(input.data) : input.data;
  return fromHost(host, [1, c, h, w], { device: net.device });
}
