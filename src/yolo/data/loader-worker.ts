// Worker thread of the batch loader (loader.ts): runs sample jobs and posts the results back, the
// float buffers transferred (not copied). A failing job is answered with its error message; the
// worker keeps running. A 'close' message closes the port, which lets the thread exit.

import { parentPort } from 'node:worker_threads';
import { isUndecodable, loadSample, type SampleJob } from './sample.js';

export type WorkerRequest = { type: 'job'; id: number; job: SampleJob } | { type: 'close' };

export type WorkerReply =
  | { type: 'done'; id: number; image: Float32Array; truth: Float32Array; count: number }
  | { type: 'error'; id: number; message: string; undecodable: boolean };

const port = parentPort;
if (port === null) throw new Error('loader-worker.js must run in a worker thread');

port.on('message', (msg: WorkerRequest) => {
  if (msg.type === 'close') {
    port.close();
    return;
  }
  loadSample(msg.job).then(
    (out) => {
      const reply: WorkerReply = { type: 'done', id: msg.id, image: out.image, truth: out.truth, count: out.count };
      port.postMessage(reply, [out.image.buffer as ArrayBuffer, out.truth.buffer as ArrayBuffer]);
    },
    (err: unknown) => {
      const reply: WorkerReply = { type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err), undecodable: isUndecodable(err) };
      port.postMessage(reply);
    },
  );
});
