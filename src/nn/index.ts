export { Module } from './module.js';
export { Linear } from './linear.js';
export { Optimizer, type ParamGroup } from './optim/optimizer.js';
export { SGD, type SgdOptions, type SgdVariant, type SgdKernel, type SgdHyper } from './optim/sgd.js';
export { Adam, type AdamOptions, type AdamKernel, type AdamHyper } from './optim/adam.js';
export { learningRate, type LrPolicy, type LrSchedule } from './optim/schedule.js';
