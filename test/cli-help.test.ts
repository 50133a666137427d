// `tsgrad --version`, `tsgrad <command> --help` and every subcommand's --help, from real processes:
// each lists what it should, shows every option with its default, and cites no file outside the repository.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CommandGroup, CommandSpec } from '../src/cli/args.js';
import { classifierGroup } from '../src/cli/classifier-commands.js';
import { buildNativeSpec } from '../src/cli/build-native.js';
import { checkRefsSpec } from '../src/cli/check-refs.js';
import { darknetGroup } from '../src/cli/darknet-commands.js';
import { dataGroup } from '../src/cli/data-commands.js';
import { detectorGroup } from '../src/cli/detector-commands.js';
import { exportGroup } from '../src/cli/export-commands.js';
import { infoSpec } from '../src/cli/info.js';
import { REPO_ROOT, tsgrad, tsgradAsync } from './helpers/cli.js';

const GROUPS: CommandGroup[] = [detectorGroup, classifierGroup, darknetGroup, dataGroup, exportGroup];
const SINGLE: CommandSpec[] = [checkRefsSpec, infoSpec, buildNativeSpec];
const ALL: CommandSpec[] = [...GROUPS.flatMap((g) => g.subcommands.map((s) => s.command)), ...SINGLE];

/** Help text must not send the reader outside the repository: no ../, no absolute paths, only files that exist. */
function assertCitesOnlyRepoFiles(text: string, what: string): void {
  assert.doesNotMatch(text, /\.\.\//, `${what} cites a path outside the repository`);
  assert.doesNotMatch(text, /(^|\s)\/(work|home|tmp|usr)\//m, `${what} cites an absolute path`);
  assert.doesNotMatch(text, /SEMANTICS\.md|shared\//, `${what} cites the shared notes`);
  for (const m of text.matchAll(/[\w./-]+\.md\b/g)) assert.ok(existsSync(join(REPO_ROOT, m[0])), `${what} cites ${m[0]}, which is not in the repository`);
}

test('tsgrad --version prints the package version and exits 0', () => {
  const r = tsgrad(['--version']);
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^tsgrad ${pkg.version.replace(/\./g, '\\.')} \\(node v\\d+`));
});

test('tsgrad --help lists every command with one line and the exit codes; tsgrad alone prints it on stderr and exits 2', () => {
  const r = tsgrad(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const name of ['detector', 'classifier', 'darknet', 'data', 'export', 'check-refs', 'info', 'build-native']) assert.match(r.stdout, new RegExp(`^  ${name} +\\S`, 'm'), name);
  assert.match(r.stdout.replace(/\s+/g, ' '), /exit codes: 0 done, 1 the job failed, 2 usage error, 3 the --device asked for is not available here, 130 training interrupted/);
  assertCitesOnlyRepoFiles(r.stdout, 'tsgrad --help');
  const bare = tsgrad([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, '');
  assert.match(bare.stderr, /^usage: tsgrad <command>/);
});

test('tsgrad <command> --help lists each subcommand on one line (aliases named), and points at the subcommand --help', async () => {
  const runs = await Promise.all(GROUPS.map((g) => tsgradAsync([g.path, '--help'])));
  GROUPS.forEach((g, k) => {
    const r = runs[k]!;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: tsgrad ${g.path} <subcommand>`));
    const listed = r.stdout.split('\n').filter((l) => /^ {2}\S/.test(l));
    assert.deepEqual(
      listed.map((l) => l.trim().split(/\s+/)[0]),
      g.subcommands.map((s) => s.name),
      `${g.path}: one line per subcommand, in order`,
    );
    assert.match(r.stdout, new RegExp(`Run 'tsgrad ${g.path} <subcommand> --help'`));
    assertCitesOnlyRepoFiles(r.stdout, `${g.path} --help`);
  });
  assert.match(runs[0]!.stdout, /calc-anchors .*\(also: calc_anchors\)/);
});

test('every subcommand --help exits 0 with its usage and every option, each value option with its default (or "required")', async () => {
  const runs = await Promise.all(ALL.map((c) => tsgradAsync([...c.path.split(' '), '--help'])));
  ALL.forEach((c, k) => {
    const r = runs[k]!;
    assert.equal(r.code, 0, `${c.path} --help: ${r.stderr}`);
    assert.equal(r.stderr, '', c.path);
    assert.match(r.stdout, new RegExp(`^usage: tsgrad ${c.path} `), c.path);
    for (const p of c.positionals ?? []) assert.ok(r.stdout.includes(p.optional ? `[${p.name}]` : `<${p.name}`), `${c.path}: positional ${p.name}`);
    // One entry per option: "  --name V   help ... (default X)" possibly over several lines.
    const entries = r.stdout.split(/\n(?= {2}-)/);
    for (const [name, o] of Object.entries(c.options)) {
      const entry = entries.find((e) => e.startsWith(`  --${name} `) || e.startsWith(`  --${name}\n`) || e === `  --${name}`);
      assert.ok(entry !== undefined, `${c.path} --help lists --${name}`);
      if (o.type === 'string') assert.match(entry.replace(/\s+/g, ' '), /\((default[ :][^)]*|required)\)/, `${c.path} --${name} shows its default`);
    }
    assertCitesOnlyRepoFiles(r.stdout, `${c.path} --help`);
  });
});

test('the defaults the help shows for --workers, --save-every, --seed and --batch are the ones the commands use', () => {
  const train = tsgrad(['detector', 'train', '--help']).stdout.replace(/\s+/g, ' ');
  assert.match(train, /--workers N data loader worker threads \(default: CPU cores - 1, at most 4; 0 loads in the main thread\)/);
  assert.match(train, /--save-every N checkpoint every N iterations \(default 100\)/);
  assert.match(train, /--seed S seed of the initialisation, data order, augmentation and multi-scale sizes \(default 0\)/);
  assert.match(train, /--batch N images per iteration \(default: the cfg's batch\)/);
  const map = tsgrad(['detector', 'map', '--help']).stdout.replace(/\s+/g, ' ');
  assert.match(map, /--batch N images per forward pass \(default 4\)/);
});

test('check-refs --help and info --help print their options instead of crashing or being ignored', () => {
  const refs = tsgrad(['check-refs', '--help']);
  assert.equal(refs.code, 0, refs.stderr);
  assert.match(refs.stdout, /^usage: tsgrad check-refs <dir> \[options\]/);
  assert.match(refs.stdout, /--dtype float32\|float64 +dtype the op runs in \(default float32\)/);
  const info = tsgrad(['info', '--help']);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /^usage: tsgrad info \[options\]/);
  assert.match(info.stdout, /--json +print it as one JSON object/);
});

test("each command's --help lists the Darknet flags it accepts, with what they map to", () => {
  const t = tsgrad(['detector', 'test', '--help']).stdout;
  assert.match(t, /-thresh T +(= )?--thresh T/);
  assert.match(t, /-ext_output +accepted, no effect: the box of every detection is always printed/);
  assert.match(t, /-gpus 0 += --device cuda \(one GPU for now: only -gpus 0\)/);
  const m = tsgrad(['detector', 'map', '--help']).stdout;
  assert.match(m, /-points N +0 = --ap voc10, 11 = --ap voc07-darknet, 101 = --ap coco101/);
  assert.match(m, /-iou_thresh T += --iou T/);
  assert.match(tsgrad(['detector', 'calc_anchors', '--help']).stdout, /-num_of_clusters N += --num N/);
});

test("export onnx --help states the exporter's own opset range and default", async () => {
  const { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } = await import('../src/yolo/onnx/export.js');
  const r = tsgrad(['export', 'onnx', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.replace(/\s+/g, ' '), new RegExp(`--opset K ONNX opset, ${MIN_OPSET}\\.\\.${MAX_OPSET} \\(default ${DEFAULT_OPSET}\\)`));
});
