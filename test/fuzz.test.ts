// The fuzzer's bounded sample (test/fuzz/fuzz.ts): a fixed seed, three damaged inputs of each kind (cfg,
// weights, image, labels, training state) run through the CLI, and one kill -9 loop of a training run.
// Every case must end in success or a clean error: no crash, no hang. The long sample is
// `node dist/test/fuzz/fuzz.js --cases 40 --kills 5` (README, "Reliability").

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { formatFuzzReport, runFuzz } from './fuzz/fuzz.js';

test('fuzz, bounded sample (seed 1: 3 cases per kind, one kill -9 loop of 2 kills): no crash and no hang', async (t) => {
  const report = await runFuzz({ seed: 1, casesPerKind: 3, killLoops: 1, killsPerLoop: 2, timeoutMs: 60_000 });
  t.diagnostic(formatFuzzReport(report));
  let cases = 0;
  for (const byOutcome of Object.values(report.counts)) cases += Object.values(byOutcome).reduce((a, b) => a + b, 0);
  assert.equal(cases, 3 * 5 + 1);
  assert.deepEqual(report.findings, [], formatFuzzReport(report));
});
