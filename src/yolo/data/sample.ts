// One training sample from file to network input: decode, augment, truth. The same function runs in
// the loader's worker threads and in its in-process reference path, so both give identical bytes for
// the same job (the job carries its own seed).

import { Rng } from '../../tensor/random.js';
import { augmentSample, type AugmentOptions } from './augment.js';
import { ImageDecodeError, loadImage } from './image.js';
import type { LabelBox } from './labels.js';
import { fillRegionTruth, REGION_TRUTH_STRIDE } from './truth.js';

/** Augmentation settings shared by every sample of a loader (the size comes with each job). */
export type SampleAugment = Omit<AugmentOptions, 'width' | 'height'>;

export interface SampleJob {
  image: string;
  boxes: LabelBox[];
  seed: number;
  width: number;
  height: number;
  augment: SampleAugment;
  maxBoxes: number;
  /** Pixel limit of the decode (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

export interface SampleOutput {
  /** 3×height×width floats, CHW. */
  image: Float32Array;
  /** maxBoxes×5 floats in the region truth layout. */
  truth: Float32Array;
  /** Boxes written to `truth`. */
  count: number;
}

/** True for the errors of an image that cannot be used at all (loadImage's ImageDecodeError). */
export function isUndecodable(e: unknown): boolean {
  return e instanceof ImageDecodeError;
}

export async function loadSample(job: SampleJob): Promise<SampleOutput> {
  const im = await loadImage(job.image, job.maxPixels === undefined ? {} : { maxPixels: job.maxPixels });
  const rng = new Rng(job.seed);
  const r = augmentSample(im, job.boxes, { ...job.augment, width: job.width, height: job.height }, rng);
  const truth = new Float32Array(job.maxBoxes * REGION_TRUTH_STRIDE);
  const count = fillRegionTruth(r.boxes, job.maxBoxes, truth);
  return { image: r.image.data, truth, count };
}
