/**
 * Fuzzing what a user can type (fast-check, fixed seeds so a failure reproduces):
 *   1. scenario files built from the scenario schema's vocabulary (its ops, kinds, page sizes, protections,
 *      patterns and advices) with hostile values mixed in, run through `ptbench run`'s reading and every
 *      design in-process: each either runs or is refused with a UsageError, never another exception;
 *   2. command lines built from each command's own option table (the --option names its --help lists),
 *      with good and hostile values, run as the real CLI (one bundled file, so a run costs ~0.2 s): exit
 *      0 or 2, never a stack trace or an internal error, never past the time limit (a hang), and an
 *      --out file either absent (exit 2) or whole JSON or text (exit 0).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test, { after } from 'node:test';
import fc from 'fast-check';
import { buildSync } from 'esbuild';
import { UsageError } from '../../src/lib/errors.js';
import { KernelError } from '../../src/mm/errno.js';
import { kernelConfig } from '../../src/mm/kernel_profile.js';
import { designByName } from '../../src/share/index.js';
import { loadScenarioFile } from '../../src/harness/scenario_file.js';
import { runTimeline } from '../../src/workload/timeline.js';
import { tempDir } from '../helpers.js';

const schema = JSON.parse(readFileSync('schema/ptbench-scenario-1.schema.json', 'utf8')) as {
  properties: { objects: { additionalProperties: { properties: { kind: { enum: string[] }; pagesize: { enum: string[] } } } } };
  $defs: Record<string, unknown>;
};
const KINDS = schema.properties.objects.additionalProperties.properties.kind.enum;
const PAGESIZES = schema.properties.objects.additionalProperties.properties.pagesize.enum;
// The enums wherever the schema defines them (the timeline items, $defs).
const defs = JSON.stringify(schema);
const enumOf = (key: string): string[] => {
  const m = new RegExp(`"${key}":\\{"enum":(\\[[^\\]]*\\])`).exec(defs);
  assert.ok(m, `the schema has an enum for ${key}`);
  return JSON.parse(m[1]!) as string[];
};
const OPS = enumOf('op');
const PROTS = enumOf('prot');
const PATTERNS = enumOf('pattern');
const ADVICES = enumOf('advice');

const HOSTILE = ['', '-1', '0', 'NaN', '1e400', '18446744073709551616', '0x', '\u001b[2J', 'x'.repeat(300), '1.5', '2MiB ', '7 parsecs'];
/** Mostly `good`, one time in forty a hostile value (a timeline has dozens of fields). */
const mostly = <T>(good: fc.Arbitrary<T>, hostile: fc.Arbitrary<unknown> = fc.constantFrom(...HOSTILE)) => fc.oneof({ arbitrary: good, weight: 39 }, { arbitrary: hostile, weight: 1 });
const base = 0x7f0000000000;
const sizeArb = mostly(fc.constantFrom<number | string>(4096, 8192, 2 ** 21, 2 ** 22, '2MiB', '64KiB', '4MiB'), fc.constantFrom(...HOSTILE, 0, -4096, 2 ** 60, 4097, 2 ** 64));
const addrArb = mostly(fc.constantFrom<number | string>(base, base + 2 ** 21, base + 4096, '0x7f0000000000', '0x7f0000200000'), fc.constantFrom(...HOSTILE, base + 1, 0, 2 ** 47, -1));
const procArb = mostly(fc.constantFrom('p', 'p', 'c'), fc.constantFrom('ghost', '', 'p\u0000'));
const ranged = { proc: procArb, addr: addrArb, length: sizeArb };

// One generator per op, with the keys the schema gives that op.
const stepArb = fc.oneof(
  fc.record({ op: fc.constant('spawn'), name: mostly(fc.constantFrom('q', 'r'), fc.constantFrom('p', '')), count: mostly(fc.constantFrom(1, 2, 3), fc.constantFrom(0, -1, 1.5, 1e7)) }),
  fc.record({ ...ranged, op: fc.constant('mmap'), object: fc.constantFrom('s', 'f', 'h', 'nope'), flags: mostly(fc.constantFrom('shared', 'private'), fc.constant('weird')), prot: mostly(fc.constantFrom(...PROTS), fc.constant('wx')) }, { requiredKeys: ['op', 'proc', 'addr', 'length'] }),
  fc.record({ ...ranged, op: fc.constant('touch'), write: fc.boolean(), pattern: mostly(fc.constantFrom(...PATTERNS), fc.constant('spiral')), fraction: mostly(fc.constantFrom(0.1, 0.5, 1), fc.constantFrom(0, 2, -1)), seed: fc.constantFrom(1, 7) }, { requiredKeys: ['op', 'proc', 'addr', 'length'] }),
  fc.record({ ...ranged, op: fc.constant('touch'), write: fc.boolean(), pattern: fc.constant('pages'), pages: mostly(fc.constantFrom([[0, 1]], [[0, 2], [4, 1]], [[5, 3]]), fc.constantFrom([[0, 1e9]], [[2, 1], [0, 1]])) }),
  fc.record({ op: fc.constant('fork'), proc: procArb, name: fc.constantFrom('c', 'd', 'p'), count: mostly(fc.constantFrom(1, 2), fc.constantFrom(0, -2)) }, { requiredKeys: ['op', 'proc', 'name'] }),
  fc.record({ ...ranged, op: fc.constant('mprotect'), prot: mostly(fc.constantFrom(...PROTS), fc.constant('wx')) }),
  fc.record({ ...ranged, op: fc.constant('munmap') }),
  fc.record({ ...ranged, op: fc.constant('madvise'), advice: mostly(fc.constantFrom(...ADVICES), fc.constant('free')) }),
  fc.record({ ...ranged, op: fc.constant('uffd-wp') }),
  fc.record({ op: fc.constant('exit'), proc: procArb }),
  fc.record({ op: fc.constant('snapshot'), label: fc.constantFrom('s', 'mid', '\u001b[31m') }),
);
assert.deepEqual([...OPS].sort(), ['exit', 'fork', 'madvise', 'mmap', 'mprotect', 'munmap', 'snapshot', 'spawn', 'touch', 'uffd-wp'], 'a generator for every op the schema has');

// s is shmem (or memfd, sometimes MAP_SHARED | MAP_ANONYMOUS), f a file, h hugetlb: every kind the schema has.
const objectsArb = fc.record({
  s: fc.record({ kind: mostly(fc.constantFrom('shmem', 'memfd'), fc.constant('tmpfs')), size: sizeArb, anonymous: fc.boolean() }, { requiredKeys: ['kind', 'size'] }),
  f: fc.record({ kind: mostly(fc.constant('file')), size: sizeArb }),
  h: fc.record({ kind: mostly(fc.constant('hugetlb')), size: mostly(fc.constantFrom(2 ** 21, 2 ** 22, '1GiB')), pagesize: mostly(fc.constantFrom(...PAGESIZES), fc.constant('4KiB')) }, { requiredKeys: ['kind', 'size'] }),
}, { requiredKeys: [] });
assert.deepEqual([...KINDS].sort(), ['file', 'hugetlb', 'memfd', 'shmem'], 'an object for every kind the schema has');
const scenarioArb = fc.record({
  objects: objectsArb,
  // Most timelines start sensibly, so that later steps get exercised.
  timeline: fc.tuple(fc.constant({ op: 'spawn', name: 'p', count: 2 }), fc.constant({ op: 'mmap', proc: 'p', addr: base, length: 2 ** 22 }), fc.array(stepArb, { maxLength: 10 }), fc.constant({ op: 'snapshot', label: 'end' }))
    .map(([a, b, rest, z]) => [a, b, ...rest, z]),
});

test('fuzz: generated scenario files either run under every design or are refused with one UsageError', () => {
  const dir = tempDir('ptbench-fuzz-');
  const file = join(dir, 'f.json');
  const designs = ['private', 'hugetlb-pmd', 'ptshare', 'mshare', 'file-pt'].map(designByName);
  const kernel = kernelConfig('6.18');
  let ran = 0;
  let refused = 0;
  fc.assert(fc.property(scenarioArb, (sc) => {
    writeFileSync(file, JSON.stringify(sc));
    try {
      const t = loadScenarioFile(file);
      for (const d of designs) runTimeline(t, d, kernel);
      ran++;
    } catch (e) {
      if (!(e instanceof UsageError || e instanceof KernelError)) throw e;
      assert.equal(e.message.split('\n').length, 1, e.message);
      refused++;
    }
  }), { seed: 20261208, numRuns: 300 });
  // Both outcomes are exercised, not only refusals.
  assert.ok(ran > 20 && refused > 20, `ran ${ran}, refused ${refused}`);
});

/**
 * The CLI as one file (esbuild), so that each fuzzed command line starts in a fraction of a second. It
 * goes three levels below the checkout (dist/fuzz/PID/), where repoFile() finds schema/ as it does
 * from dist/src/cli/.
 */
function bundle(): string {
  const dir = resolve('dist', 'fuzz', String(process.pid));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'ptbench.mjs');
  buildSync({
    entryPoints: ['src/cli/main.ts'], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: out, logLevel: 'error',
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return out;
}

/** A command's options as its --help lists them (its option table, as parseArgs is given it). */
function optionsOf(cli: string, cmd: string): string[] {
  const r = spawnSync(process.execPath, [cli, cmd, '--help'], { encoding: 'utf8', cwd: process.cwd() });
  assert.equal(r.status, 0, `${cmd} --help: ${r.stderr}`);
  return [...new Set([...r.stdout.matchAll(/(?:^|[\s[])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!))].filter((o) => o !== '--help');
}

// Commands whose every run is short; bench, smp, validate, covary and capture run for seconds to minutes
// by design and are covered by their own tests and the bad-input tests.
const COMMANDS = ['mem', 'sweep', 'tlb', 'reclaim', 'matrix', 'run', 'chart', 'export', 'compare', 'history'];
// Each command starts from a small run, so that a line the fuzzer leaves valid finishes in seconds (the
// defaults of tlb and reclaim are full experiments); a fuzzed option that repeats one is refused, which
// is fine (an option given twice is one line).
const SMALL: Record<string, string[]> = {
  tlb: ['--size', '64MiB', '--procs', '2', '--accesses', '2000', '--no-probes'],
  reclaim: ['--procs', '4', '--size', '2MiB'],
  mem: ['--size', '64MiB'],
  sweep: ['--sizes', '64MiB', '--procs', '1,2'],
};
const VALUES = ['1', '2', '16', '0', '-3', '2MiB', '64MiB', '1TiB', '18446744073709551616', 'all', 'private', 'ptshare,mshare', 'both', '4k', 'zipf', 'strided', 'on', 'off', '6.12', '6.18', '5.4', 'abc', '', '\u001b]0;x\u0007', '1e9', '0.5', 'NaN', 'scenarios/postgres.json', '/dev/zero', 'OUT'];

test('fuzz: command lines from each command\'s option table exit 0 or 2, without traces, hangs or partial files', () => {
  const dir = tempDir('ptbench-fuzz-cli-');
  const cli = bundle();
  const table = new Map(COMMANDS.map((c) => [c, optionsOf(cli, c)]));
  assert.ok([...table.values()].every((o) => o.length >= 2), JSON.stringify([...table]));
  const out = join(dir, 'out');
  const lineArb = fc.constantFrom(...COMMANDS).chain((cmd) => fc.tuple(
    fc.constant(cmd),
    fc.array(fc.tuple(fc.constantFrom(...table.get(cmd)!, '--bogus'), fc.constantFrom(...VALUES), fc.boolean()), { maxLength: 4 }),
    fc.constantFrom([], ['scenarios/postgres.json'], ['/dev/zero'], ['a', 'b', 'c']),
  ));
  let zero = 0;
  fc.assert(fc.property(lineArb, ([cmd, opts, positionals]) => {
    rmSync(out, { recursive: true, force: true });
    const args = [cmd, ...(cmd === 'run' ? positionals.slice(0, 1) : positionals.length > 2 ? positionals : []), ...(SMALL[cmd] ?? []),
      ...opts.flatMap(([o, v, sep]) => { const val = v === 'OUT' ? out : v; return sep ? [`${o}=${val}`] : [o, val]; })];
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000, cwd: process.cwd() });
    const what = `ptbench ${JSON.stringify(args)}`;
    assert.notEqual(r.signal, 'SIGTERM', `${what}: no answer within 30 s`);
    assert.ok(r.status === 0 || r.status === 2, `${what}: exit ${r.status}: ${r.stderr.slice(0, 400)}`);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at |RangeError|TypeError/, what);
    if (r.status === 2) {
      assert.match(r.stderr, /^ptbench: error: [^\n]*\n$/, what);
      assert.ok(!existsSync(out) || (statIsDir(out) && readdirSync(out).length === 0), `${what}: exit 2 left ${out}`);
    } else {
      zero++;
      if (existsSync(out) && !statIsDir(out)) {
        const text = readFileSync(out, 'utf8');
        assert.ok(text.endsWith('\n'), `${what}: ${out} is not whole`);
        if (text.startsWith('{')) JSON.parse(text);
      }
    }
    // No temporary file is left beside the output.
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], what);
  }), { seed: 42, numRuns: 60 });
  assert.ok(zero > 5, `only ${zero} command lines ran; the fuzzer exercises refusals only`);
});

function statIsDir(p: string): boolean {
  try {
    return readdirSync(p) !== undefined;
  } catch {
    return false;
  }
}
