/**
 * The memory scenarios of `ptbench bench`: the database workload (N processes touching one shared
 * region) for every design, with exact page-table bytes and the saving against `private`.
 */
import { totalTables, type TableCounts } from '../src/mm/accounting.js';
import { bytesIEC, int } from '../src/lib/format.js';
import type { PtShareDesign } from '../src/share/design.js';
import { privateDesign } from '../src/share/private.js';
import { runSga, teardownSga, type PageSize, type RegionKind } from '../src/workload/sga.js';

export interface MemScenarioResult {
  scenario: string;
  design: string;
  procs: number;
  kind: RegionKind;
  page: PageSize;
  bytes: number;
  /** Simulated, exact: distinct table pages machine-wide by level, and their bytes. */
  tables: TableCounts;
  pageTableBytes: number;
  sharedTables: number;
  /** pageTableBytes of `private` for the same scenario, and the saving against it (1 - this/private). */
  privateBytes: number;
  savingVsPrivate: number;
}

export function memScenarios(designs: readonly PtShareDesign[], quick: boolean, log: (s: string) => void): MemScenarioResult[] {
  const GiB = 2 ** 30;
  const procsList = quick ? [1, 16] : [1, 2, 16, 128];
  const shapes: Array<{ kind: RegionKind; page: PageSize; bytes: number }> = [
    { kind: 'shmem', page: '4k', bytes: GiB },
    { kind: 'hugetlb', page: '2m', bytes: 2 * GiB },
  ];
  const out: MemScenarioResult[] = [];
  for (const shape of shapes) {
    for (const procs of procsList) {
      const run = (design: PtShareDesign) => {
        const r = runSga({ design, procs, size: shape.bytes, kind: shape.kind, page: shape.page, offset: 0, touch: 'all', write: true, levels: 4 });
        const acc = r.machineAcc;
        const leaks = teardownSga(r);
        if (leaks.length) throw new Error(`memory scenario leaked: ${leaks.join('; ')}`);
        return acc;
      };
      const base = run(privateDesign);
      for (const d of designs) {
        const refusal = d.checkScenario?.({ kind: shape.kind, page: shape.page }) ?? null;
        if (refusal !== null) {
          log(`${`sga/${shape.kind}-${shape.page}-${shape.bytes / GiB}GiB x${procs} [${d.name}]`.padEnd(42)} not applicable: ${refusal}`);
          continue;
        }
        const acc = d === privateDesign ? base : run(d);
        const scenario = `sga/${shape.kind}-${shape.page}-${shape.bytes / GiB}GiB`;
        const rec: MemScenarioResult = {
          scenario, design: d.name, procs, kind: shape.kind, page: shape.page, bytes: shape.bytes,
          tables: acc.tables, pageTableBytes: acc.pageTableBytes, sharedTables: acc.sharedTables,
          privateBytes: base.pageTableBytes, savingVsPrivate: 1 - acc.pageTableBytes / base.pageTableBytes,
        };
        out.push(rec);
        log(`${`${scenario} x${procs} [${d.name}]`.padEnd(42)} ${int(totalTables(acc.tables)).padStart(9)} tables  ${bytesIEC(acc.pageTableBytes)}  saving ${(rec.savingVsPrivate * 100).toFixed(1)}% vs private (simulated)`);
      }
    }
  }
  return out;
}
