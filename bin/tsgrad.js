#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';
// Output piped into a command that stops reading (`tsgrad detector --help | head -3`) is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`error: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
