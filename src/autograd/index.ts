export { backward } from './engine.js';
export { gradcheck, GRADCHECK_DEFAULTS, type GradcheckOptions, type GradcheckResult, type Mismatch } from './gradcheck.js';
export { noGrad, isGradEnabled, withGradMode } from './grad-mode.js';
export { record, needsGrad } from './record.js';
export type { GradNode, BackwardFn } from './node.js';
