// The data pipeline of the YOLO stack: image decoding and Darknet's resize/letterbox, dataset formats
// (YOLO-txt, Pascal VOC, COCO, Darknet classifier lists), augmentation, truth layouts, the threaded
// batch loader and the synthetic data sets.

export * from './image.js';
export * from './color.js';
export * from './labels.js';
export * from './write.js';
export * from './voc.js';
export * from './coco.js';
export * from './classification.js';
export * from './augment.js';
export * from './multiscale.js';
export * from './truth.js';
export * from './seed.js';
export * from './sample.js';
export * from './loader.js';
export * from './shapes.js';
export * from './synth.js';
