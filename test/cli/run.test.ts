/** `ptbench run FILE`: the example as written, the library, and one line for every bad file. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { tempDir } from '../helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const ptbench = (args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8' });

test('the example file runs as written; --json has the documented shape', () => {
  const r = ptbench(['run', 'test/fixtures/scenario-example.json', '--design', 'private,mshare', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { tool: string; kernel: { profile: string }; snapshots: Array<{ label: string; designs: Record<string,
    { tables: object; pageTableBytes: number; processes: Array<{ name: string; index: number; vmpteBytes: number; rssBytes: number }>; faults: number; tlbFlushes: number; ipis: number;
      refused: unknown[] }> }> };
  assert.equal(j.tool, 'ptbench run');
  assert.equal(j.kernel.profile, '6.18');
  assert.deepEqual(j.snapshots.map((s) => s.label), ['touched', 'forked', 'after dontneed']);
  const d = j.snapshots[1]!.designs.private!;
  assert.deepEqual(Object.keys(d).sort(), ['faults', 'ipis', 'pageTableBytes', 'processes', 'refused', 'sharedTables', 'tables', 'tlbFlushes']);
  assert.deepEqual(d.processes.map((p) => [p.name, p.index]), [['db', 0], ['child', 0]]);
  assert.equal(j.snapshots[2]!.designs.mshare!.refused.length, 1);
});

test('every library scenario names its source and runs under every design', () => {
  const files = readdirSync('scenarios').filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 7, files.join(', '));
  for (const f of files) {
    const r = ptbench(['run', join('scenarios', f), '--json']);
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    const j = JSON.parse(r.stdout) as { description?: string; source?: string; snapshots: Array<{ designs: Record<string, unknown> }> };
    assert.ok(j.description && j.source, `${f}: description and source`);
    assert.deepEqual(Object.keys(j.snapshots[0]!.designs), ['private', 'hugetlb-pmd', 'ptshare', 'mshare', 'mshare-protect-all', 'file-pt'], f);
  }
});

test('bad scenario files: one line with the JSON path and what was expected, exit 2', () => {
  const dir = tempDir('ptbench-run-');
  const file = (name: string, body: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
    return p;
  };
  const ok = { objects: { s: { kind: 'shmem', size: '2MiB' } }, timeline: [{ op: 'spawn', name: 'p', count: 1 }] };
  const cases: Array<[string[], RegExp]> = [
    [['run'], /run: give one scenario file \(got 0\)/],
    [['run', join(dir, 'missing.json')], /scenario file .*missing\.json: cannot read it \(ENOENT\)/],
    [['run', file('a.json', '{ "objects": ')], /not valid JSON/],
    [['run', file('b.json', { objects: {} })], /: \/ must have required property 'timeline'/],
    [['run', file('c.json', { ...ok, timeline: [{ op: 'jump' }] })], /\/timeline\/0\/op must be equal to one of the allowed values: "spawn", "mmap", .*"snapshot"/],
    [['run', file('c2.json', { ...ok, timeline: [{ op: 'spawn', name: 'p', count: 1, cnt: 2 }] })], /\/timeline\/0 must NOT have additional properties \('cnt'\)/],
    [['run', file('d.json', { ...ok, timeline: [...ok.timeline, { op: 'mmap', proc: 'p', addr: '0x1000' }] })], /\/timeline\/1 must have required property 'length'/],
    [['run', file('e.json', { objects: { s: { kind: 'shmem', size: '12 parsecs' } }, timeline: ok.timeline })], /\/objects\/s\/size: '12 parsecs' is not a size/],
    [['run', file('f.json', { ...ok, timeline: [{ op: 'exit', proc: 'ghost' }] })], /\/timeline\/0 \(exit\): no live process group 'ghost'/],
    [['run', file('g.json', { ...ok, timeline: [...ok.timeline, { op: 'mmap', proc: 'p', object: 'nope', addr: '0x7f0000000000', length: '2MiB', flags: 'shared' }] })], /no object 'nope'; objects: s/],
    [['run', file('h.json', { ...ok, timeline: [...ok.timeline, ...ok.timeline] })], /the process group name 'p' is taken/],
    [['run', file('i.json', { ...ok, timeline: [...ok.timeline, { op: 'touch', proc: 'p', addr: '0x7f0000000001', length: 4096 }] })], /addr 0x7f0000000001 must be a multiple of 4096/],
    [['run', 'test/fixtures/scenario-example.json', '--design', 'threads'], /--design threads: its processes are threads of one mm/],
    [['run', 'test/fixtures/scenario-example.json', '--kernel', '5.4'], /unknown kernel profile '5\.4'; profiles: 6\.12, 6\.18/],
    [['run', file('k1.json', { ...ok, kernel: { profile: '5.4' } })], /k1\.json: \/kernel\/profile: unknown kernel profile '5\.4'; profiles: 6\.12, 6\.18/],
    [['run', file('k2.json', { ...ok, kernel: { profile: '6.12', ptReclaim: true } })], /k2\.json: \/kernel\/ptReclaim: CONFIG_PT_RECLAIM does not exist in Linux 6\.12/],
    [['run', file('k3.json', { ...ok, kernel: { profile: '6.18', pti: 'yes' } })], /\/kernel\/pti must be boolean/],
  ];
  for (const [args, re] of cases) {
    const r = ptbench(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '');
  }
});

test('a file\'s kernel member is the run\'s kernel unless an option overrides a knob, and run says which', () => {
  const dir = tempDir('ptbench-run-kernel-');
  const p = join(dir, 'k.json');
  // One process, one 4 KiB page at 0x7f0000000000: a PGD, one PUD, PMD and PTE table.
  writeFileSync(p, JSON.stringify({
    kernel: { profile: '6.18', pti: true, ptReclaim: false },
    objects: {}, timeline: [{ op: 'spawn', name: 'p', count: 1 }, { op: 'mmap', proc: 'p', addr: '0x7f0000000000', length: 4096 }, { op: 'touch', proc: 'p', addr: '0x7f0000000000', length: 4096, write: true }, { op: 'snapshot', label: 's' }],
  }));
  const bytes = (args: string[]) => {
    const r = ptbench(['run', p, '--design', 'private', '--json', ...args]);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { kernel: { profile: string; pti: boolean; ptReclaim: boolean }; kernelFrom: string; snapshots: Array<{ designs: Record<string, { pageTableBytes: number }> }> };
    return { k: j.kernel, from: j.kernelFrom, b: j.snapshots[0]!.designs.private!.pageTableBytes };
  };
  // PTI on 6.18: an 8 KiB PGD (pgd_allocation_order() = 1) + 3 x 4 KiB tables.
  const rec = bytes([]);
  assert.deepEqual([rec.k.profile, rec.k.pti, rec.k.ptReclaim, rec.b], ['6.18', true, false, 8192 + 3 * 4096]);
  assert.equal(rec.from, 'as the scenario file records it; --kernel, --pti, --pt-reclaim override');
  const off = bytes(['--pti', 'off']);
  assert.deepEqual([off.k.pti, off.k.ptReclaim, off.b], [false, false, 4096 + 3 * 4096]);
  // --kernel 6.12 drops the recorded PT_RECLAIM knob (6.12 has none) and keeps PTI; 6.12's PGD is 8 KiB either way.
  const old = bytes(['--kernel', '6.12']);
  assert.deepEqual([old.k.profile, old.k.pti, old.k.ptReclaim, old.b], ['6.12', true, false, 8192 + 3 * 4096]);
  const text = ptbench(['run', p, '--design', 'private']);
  assert.match(text.stdout, /PTI active, PGD 8 KiB \(as the scenario file records it; --kernel, --pti, --pt-reclaim override\)/);
});
