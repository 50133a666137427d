// Every op, one import.
export * from './creation.js';
export * from './copy.js';
export * from './views.js';
export * from './unary.js';
export * from './binary.js';
export * from './where.js';
export * from './reduce.js';
export * from './one-hot.js';
export * from './matmul.js';
export * from './softmax.js';
export * from './cat.js';
export * from './losses.js';
