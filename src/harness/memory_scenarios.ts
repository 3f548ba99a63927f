/**
 * The memory scenarios of `ptbench bench`: the database workload (N processes touching one shared
 * region) for every design, with exact page-table bytes and the saving against `private`.
 */
import { totalTables, type TableCounts } from '../mm/accounting.js';
import { bytesIEC, int } from '../lib/format.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { privateDesign } from '../share/private.js';
import { countScenario } from '../workload/pgtable_count.js';
import { runSga, sgaScenario, teardownSga, type PageSize, type RegionKind } from '../workload/sga.js';
import { kernelConfig, type KernelConfig } from '../mm/kernel_profile.js';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { repoFile } from '../lib/repo_file.js';
import { loadScenarioFile } from './scenario_file.js';
import { countableScenario, runTimeline } from '../workload/timeline.js';
import type { MemScenarioResult } from './types.js';

export function memScenarios(designs: readonly PtShareDesign[], quick: boolean, log: (s: string) => void, kernel: KernelConfig = kernelConfig()): MemScenarioResult[] {
  const GiB = 2 ** 30;
  // Materialized (every fault run; the counting engine agrees, test/workload/pgtable_count.test.ts), then the mshare
  // cover letter's 300 GB region up to 1,500 processes, which only the counting engine can reach.
  const shapes: Array<{ kind: RegionKind; page: PageSize; bytes: number; label: string; engine: 'materialize' | 'count'; procs: number[] }> = [
    { kind: 'shmem', page: '4k', bytes: GiB, label: '1GiB', engine: 'materialize', procs: quick ? [1, 16] : [1, 2, 16, 128] },
    { kind: 'hugetlb', page: '2m', bytes: 2 * GiB, label: '2GiB', engine: 'materialize', procs: quick ? [1, 16] : [1, 2, 16, 128] },
    { kind: 'shmem', page: '4k', bytes: 300e9, label: '300GB', engine: 'count', procs: [1, 16, 128, 1500] },
  ];
  const out: MemScenarioResult[] = [];
  for (const shape of shapes) {
    for (const procs of shape.procs) {
      const run = (design: PtShareDesign): Figures => {
        const s = { design, procs, size: shape.bytes, kind: shape.kind, page: shape.page, offset: 0, touch: 'all' as const, write: true, levels: 4 as const, kernel };
        if (shape.engine === 'count') return countScenario(sgaScenario(s).scenario);
        const r = runSga(s);
        const acc = r.machineAcc;
        const leaks = teardownSga(r);
        if (leaks.length) throw new Error(`memory scenario leaked: ${leaks.join('; ')}`);
        return acc;
      };
      const scenario = `sga/${shape.kind}-${shape.page}-${shape.label}`;
      const base = run(privateDesign);
      for (const d of designs) {
        const refusal = d.checkScenario?.({ kind: shape.kind, page: shape.page }) ?? null;
        if (refusal !== null) {
          log(`${`${scenario} x${procs} [${d.name}]`.padEnd(42)} not applicable: ${refusal}`);
          continue;
        }
        const what = { scenario, procs, kind: shape.kind, page: shape.page, bytes: shape.bytes, engine: shape.engine };
        out.push(record(what, d, d === privateDesign ? base : run(d), base, log));
      }
    }
  }
  return out;
}

type Figures = { tables: TableCounts; pageTableBytes: number; sharedTables: number };

/** One design's memory record for a scenario, with its saving against private, logged as one line. */
function record(what: Pick<MemScenarioResult, 'scenario' | 'procs' | 'kind' | 'page' | 'bytes' | 'engine'>, d: PtShareDesign, acc: Figures, base: Figures, log: (s: string) => void): MemScenarioResult {
  const rec: MemScenarioResult = {
    ...what, design: d.name, tables: acc.tables, pageTableBytes: acc.pageTableBytes, sharedTables: acc.sharedTables,
    privateBytes: base.pageTableBytes, savingVsPrivate: 1 - acc.pageTableBytes / base.pageTableBytes,
  };
  log(`${`${what.scenario} x${what.procs} [${d.name}]`.padEnd(42)} ${int(totalTables(acc.tables)).padStart(11)} tables  ${bytesIEC(acc.pageTableBytes)}  saving ${(rec.savingVsPrivate * 100).toFixed(1)}% vs private (simulated${what.engine === 'count' ? ', counting engine' : ''})`);
  return rec;
}

/**
 * The library's scenario files (scenarios/*.json) as memory scenarios: each file's last snapshot under
 * every design whose processes have their own mms, with the saving against private (simulated,
 * exact). `quick` keeps the files the counting engine takes (they cost milliseconds).
 */
export function libraryScenarios(designs: readonly PtShareDesign[], quick: boolean, log: (s: string) => void, kernel: KernelConfig = kernelConfig()): MemScenarioResult[] {
  const dir = repoFile('scenarios');
  const out: MemScenarioResult[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const t = loadScenarioFile(join(dir, f));
    if (quick && countableScenario(t, privateDesign, 4, kernel) === null) continue;
    const runOf = (d: PtShareDesign) => {
      const r = runTimeline(t, d, kernel);
      return { engine: r.engine, f: r.snapshots[r.snapshots.length - 1]!.figures };
    };
    const base = runOf(privateDesign);
    const procs = base.f.processes.length;
    if (procs === 0) continue;
    const objects = Object.values(t.objects);
    const kind = objects[0]?.kind ?? 'anon';
    const page = objects[0]?.page ?? '4k';
    const bytes = objects.reduce((n, o) => n + o.size, 0);
    const scenario = `run/${basename(f, '.json')}`;
    for (const d of designs) {
      if (!d.mmPerProcess) continue;
      const r = d === privateDesign ? base : runOf(d);
      out.push(record({ scenario, procs, kind, page, bytes, engine: r.engine }, d, r.f, base.f, log));
    }
  }
  return out;
}
