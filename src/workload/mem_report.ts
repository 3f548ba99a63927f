/**
 * `ptbench mem`'s figures: one scenario's page-table accounting from the materialized machine or the
 * counting engine, and the grid of designs x process counts. Every figure is simulated.
 */
import type { PagingLevels } from '../arch/pgtable_64_types.js';
import { totalTables, type TableCounts } from '../mm/accounting.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { designByName } from '../share/index.js';
import { countScenario } from './pgtable_count.js';
import { materializeBytes, MATERIALIZE_LIMIT_BYTES, runSga, sgaScenario, teardownSga, type PageSize, type RegionKind, type SgaScenario } from './sga.js';
import { kernelConfig, type KernelConfig } from '../mm/kernel_profile.js';

export type Engine = 'count' | 'materialize' | 'auto';

export interface MemReport {
  tool: 'ptbench mem';
  /** Every figure here comes from the simulator. */
  figures: 'simulated';
  /** Which engine produced the figures (both are exact and agree to the byte). */
  engine: 'materialize' | 'count';
  /** The kernel the figures follow (src/mm/kernel_profile.ts). */
  kernel: KernelConfig;
  design: string;
  scenario: {
    procs: number; kind: RegionKind; page: PageSize; requestedBytes: number; mappedBytes: number;
    address: string; offset: number; touch: string; touchedPages: number; faults: 'write' | 'read'; levels: PagingLevels;
  };
  /** Distinct table pages machine-wide, by level (each shared table once). */
  tables: TableCounts;
  tablePages: number;
  pageTableBytes: number;
  sharedTables: number;
  /** PTE tables alone, in bytes (the figure the mshare cover letter quotes). */
  pteTableBytes: number;
  folios: number;
  framePages: number;
  /** materialize only: the machine's event counters (faults, flushes, ...). */
  events?: Record<string, number>;
  /**
   * Per process, as runs of `count` processes with the same figures starting at `pid` (the counting
   * engine reports its groups, so a report costs O(groups), not O(processes)); the materialized
   * machine reports every process (count 1) with its mm, rss and hugetlbPages.
   */
  processes: Array<{ pid: number; count: number; mm?: number; tables: TableCounts; pageTableBytes: number; vmPTEBytes: number; rss?: Record<string, number>; hugetlbPages?: number }>;
  /** materialize only: what exit of every process left behind (check_mm); empty when clean. */
  leakCheck?: string[];
}

export function memReport(s: SgaScenario, engine: Engine = 'materialize'): MemReport {
  const head = (which: MemReport['engine'], mapped: number, addr: number, touchedPages: number) => ({
    tool: 'ptbench mem' as const,
    figures: 'simulated' as const,
    engine: which,
    kernel: s.kernel ?? kernelConfig(),
    design: s.design.name,
    scenario: {
      procs: s.procs, kind: s.kind, page: s.page, requestedBytes: s.size, mappedBytes: mapped,
      address: `0x${addr.toString(16)}`, offset: s.offset, touch: String(s.touch), touchedPages,
      faults: (s.write ? 'write' : 'read') as 'write' | 'read', levels: s.levels,
    },
  });
  if (engine !== 'materialize') {
    const { scenario, mapped, addr, touchedPages } = sgaScenario(s);
    const c = countScenario(scenario);
    // `auto` materializes when the tables and pages fit in the memory limit; the count says whether.
    if (engine === 'count' || materializeBytes(scenario, c) > MATERIALIZE_LIMIT_BYTES) {
      let pid = 1;
      return {
        ...head('count', mapped, addr, touchedPages),
        tables: c.tables, tablePages: c.tablePages, pageTableBytes: c.pageTableBytes, sharedTables: c.sharedTables,
        pteTableBytes: c.tables.pte * 4096, folios: c.folios, framePages: c.framePages,
        processes: c.processes.map(({ count, ...x }) => {
          const first = pid;
          pid += count;
          return { pid: first, count, ...x };
        }),
      };
    }
  }
  const r = runSga(s, 'use --engine count, or a smaller --size or --procs');
  const acc = r.machineAcc;
  const report: MemReport = {
    ...head('materialize', r.mapped, r.addr, r.touchedPages),
    tables: acc.tables,
    tablePages: totalTables(acc.tables),
    pageTableBytes: acc.pageTableBytes,
    sharedTables: acc.sharedTables,
    pteTableBytes: acc.tables.pte * 4096,
    folios: acc.folios,
    framePages: acc.framePages,
    events: r.machine.events.snapshot(),
    processes: r.perProcess.map((p, i) => ({ pid: i + 1, count: 1, mm: p.mm, tables: p.tables, pageTableBytes: p.pageTableBytes, vmPTEBytes: p.vmPTEBytes, rss: p.rss, hugetlbPages: p.hugetlbPages })),
    leakCheck: [],
  };
  report.leakCheck = teardownSga(r);
  return report;
}

export interface GridCell { design: string; procs: number; engine?: 'count' | 'materialize'; pageTableBytes: number | null; privateBytes: number; saving: number | null; note?: string }

/**
 * Every design x process count: page-table bytes (simulated, exact) and the saving against private.
 * Under `auto` the grid is counted (the counting engine agrees with the materialized tables to the
 * byte, test/workload/pgtable_count.test.ts, and a grid needs only the bytes). `onCell` hears of
 * each cell before it is computed.
 */
export function memGrid(base: SgaScenario, designs: PtShareDesign[], procsList: number[], engine: Engine = 'materialize', onCell?: (done: number, total: number, what: string) => void): GridCell[] {
  const out: GridCell[] = [];
  const cellEngine: Engine = engine === 'auto' ? 'count' : engine;
  const total = procsList.length * designs.length;
  for (const procs of procsList) {
    onCell?.(out.length, total, `private x${procs}`);
    const priv = memReport({ ...base, design: designByName('private'), procs }, cellEngine);
    for (const d of designs) {
      onCell?.(out.length, total, `${d.name} x${procs}`);
      const refusal = d.checkScenario?.({ kind: base.kind, page: base.page }) ?? null;
      if (refusal !== null) {
        out.push({ design: d.name, procs, pageTableBytes: null, privateBytes: priv.pageTableBytes, saving: null, note: refusal });
        continue;
      }
      const rep = d.name === 'private' ? priv : memReport({ ...base, design: d, procs }, cellEngine);
      if (rep.leakCheck && rep.leakCheck.length > 0) throw new Error(`${d.name} x${procs}: ${rep.leakCheck.join('; ')}`);
      out.push({ design: d.name, procs, engine: rep.engine, pageTableBytes: rep.pageTableBytes, privateBytes: priv.pageTableBytes, saving: 1 - rep.pageTableBytes / priv.pageTableBytes });
    }
  }
  return out;
}
