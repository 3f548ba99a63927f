/**
 * ptbench validate on a busy machine: a page-table-heavy load (test/fixtures/validate/ptload.c) runs
 * beside it, moving the machine-wide PageTables by megabytes many times a second. validate reads the
 * VmPTE of its own probe processes, which the load cannot move, so every case still agrees exactly;
 * the one machine-wide case (hugetlb mprotect) repeats until two runs agree, or says the machine was
 * too busy. Before, a PageTables differential turned agreements into DIFFERS under such a load.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { meminfo } from '../../src/harness/validate/procfs.js';
import { tempDir } from '../helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

test('validate agrees while a page-table-heavy load runs beside it (live)', async (t) => {
  if (process.platform !== 'linux') {
    t.skip('reads /proc of a live Linux kernel');
    return;
  }
  const dir = tempDir('ptbench-busy-');
  const exe = join(dir, 'ptload');
  const cc = spawnSync(process.env.CC ?? 'cc', ['-O2', '-o', exe, 'test/fixtures/validate/ptload.c'], { encoding: 'utf8' });
  if (cc.error !== undefined || cc.status !== 0) {
    t.skip(`no C compiler to build the load (.ci/run installs gcc): ${(cc.stderr || String(cc.error)).trim().split('\n')[0]}`);
    return;
  }
  const load = spawn(exe, ['150'], { stdio: 'ignore' });
  try {
    // The load is there: PageTables moves between readings.
    const seen = new Set<number>();
    for (let i = 0; i < 20 && seen.size < 3; i++) {
      seen.add(meminfo('PageTables'));
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(seen.size >= 2, `PageTables did not move under the load: ${[...seen].join(', ')}`);
    // Shared shmem (8 processes), anonymous memory and fork (the probe process and its child), and the
    // two shared hugetlb cases where this machine can reserve the pages. (The machine-wide hugetlb
    // mprotect case also agrees under this load, but waits for PageTables to settle: minutes.)
    const j: { scenarios: Array<{ name: string; status: string; reason?: string; agrees?: boolean; predictedBytes?: number; measuredBytes?: number[] }> } = { scenarios: [] };
    for (const only of ['shmem 256 MiB x8', 'anon 1024 MiB, after fork', 'hugetlb 2 MiB pages']) {
      const out = join(dir, 'v.json');
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [...CLI, 'validate', '--only', only, '--reps', '2', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
        p.on('exit', (status) => resolve({ status, stderr }));
      });
      assert.equal(r.status, 0, `${only}: ${r.stderr}`);
      j.scenarios.push(...(JSON.parse(readFileSync(out, 'utf8')) as typeof j).scenarios);
    }
    const ran = j.scenarios.filter((s) => s.status === 'ran');
    assert.ok(ran.length >= 2, JSON.stringify(j.scenarios));
    for (const s of ran) {
      // VmPTE sums are exact: every repetition equals the prediction, not just the median.
      assert.deepEqual(s.measuredBytes, s.measuredBytes!.map(() => s.predictedBytes), s.name);
      assert.equal(s.agrees, true, s.name);
    }
    // 8 processes x 256 MiB of shmem at 16 TiB: 8 x (128 PTE + 1 PMD + 1 PUD) tables.
    assert.equal(ran.find((s) => s.name === 'shmem 256 MiB x8')?.predictedBytes, 8 * 130 * 4096);
    // 1 GiB written then forked: parent and child each 512 PTE + 1 PMD + 1 PUD tables.
    assert.equal(ran.find((s) => s.name === 'anon 1024 MiB, after fork')?.predictedBytes, 2 * 514 * 4096);
    for (const s of j.scenarios.filter((x) => x.status === 'skipped')) assert.match(s.reason!, /\S/);
  } finally {
    load.kill('SIGKILL');
  }
});
