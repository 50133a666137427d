// The fuzz driver's child process (fuzz.ts): runs `tsgrad` command lines in-process, one at a time,
// with stdout and stderr captured, and answers each with its exit code and output. A command that
// throws out of main(), or an uncaught exception or rejection at any time, is reported as such; the
// driver kills this process when a command does not answer in time (a hang).

import { main } from '../../src/cli/main.js';

export interface FuzzRequest {
  id: number;
  argv: string[];
}

export type FuzzReply =
  | { type: 'done'; id: number; code: number; stdout: string; stderr: string }
  | { type: 'threw'; id: number; stack: string; stdout: string; stderr: string }
  | { type: 'fatal'; stack: string }
  | { type: 'ready' };

const send = (r: FuzzReply): void => void process.send!(r);
const stack = (e: unknown): string => (e instanceof Error ? (e.stack ?? e.message) : String(e));

process.on('uncaughtException', (e) => {
  send({ type: 'fatal', stack: stack(e) });
  process.exit(70);
});
process.on('unhandledRejection', (e) => {
  send({ type: 'fatal', stack: stack(e) });
  process.exit(70);
});

const out = process.stdout.write.bind(process.stdout);
const err = process.stderr.write.bind(process.stderr);
let queue = Promise.resolve();

process.on('message', (msg: FuzzRequest) => {
  queue = queue.then(async () => {
    let stdout = '';
    let stderr = '';
    process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
    let reply: FuzzReply;
    try {
      const code = await main(msg.argv);
      reply = { type: 'done', id: msg.id, code, stdout, stderr };
    } catch (e) {
      reply = { type: 'threw', id: msg.id, stack: stack(e), stdout, stderr };
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
    }
    send(reply);
  });
});

send({ type: 'ready' });
