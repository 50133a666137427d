// Small shared pieces of the test files: a command IO that captures its output, and the tiny [region]
// network the evaluation tests use.

import type { CommandIO } from '../../src/cli/darknet.js';

/** A CommandIO that keeps what a command prints. */
export function captureIO(): CommandIO & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => void (out += t), err: (t) => void (err += t), stdout: () => out, stderr: () => err };
}

/** A tiny [region] net: 64×64 input, 8×8 grid (stride 8), 2 anchors, 2 classes. */
export const TINY_CFG = `[net]
batch=1
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=14
size=1
stride=1
pad=1
activation=linear

[region]
anchors = 1.5,1.5, 3.5,3
bias_match=1
classes=2
coords=4
num=2
softmax=1
`;
