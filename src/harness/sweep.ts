/**
 * The sweep: page-table bytes over process counts x region sizes for every design, from the counting
 * engine (simulated, exact), and its terminal rendering.
 */
import type { MemScenarioResult } from './types.js';
import type { PagingLevels } from '../arch/pgtable_64_types.js';
import { countScenario } from '../workload/pgtable_count.js';
import { bytesSI, iec, int, plainTable } from '../lib/format.js';
import type { RunEnvironment } from './env.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { designByName } from '../share/index.js';
import { sgaScenario, type PageSize, type RegionKind } from '../workload/sga.js';
import { renderAscii, renderBars, seriesOf } from './chart.js';
import type { KernelConfig } from '../mm/kernel_profile.js';

export const SWEEP_SCHEMA = 'ptbench-sweep/1';

/** The default grid: 12 process counts x 6 sizes (GB = 10^9 bytes, GiB = 2^30). */
export const SWEEP_DEFAULT_PROCS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1500];

export const SWEEP_DEFAULT_SIZES = ['1GiB', '4GiB', '16GiB', '64GiB', '300GB', '1TiB'];

export interface SweepFile {
  schema: typeof SWEEP_SCHEMA;
  tool: 'ptbench sweep';
  figures: 'simulated';
  engine: 'count';
  date: string;
  environment: RunEnvironment;
  config: { procs: number[]; sizes: Array<{ text: string; bytes: number }>; designs: string[]; kind: RegionKind; page: PageSize; levels: PagingLevels; kernel?: KernelConfig };
  /** Measured: wall-clock milliseconds the counting took. */
  elapsedMs: number;
  /** The same rows as a results file's memory scenarios (scenario = sweep/KIND-PAGE-SIZE). */
  memory: MemScenarioResult[];
  /** Designs that refuse the scenario, with the rule. */
  notApplicable: Array<{ design: string; reason: string }>;
}

export function runSweep(o: { procs: number[]; sizes: Array<{ text: string; bytes: number }>; designs: PtShareDesign[]; kind: RegionKind; page: PageSize; levels: PagingLevels }): Omit<SweepFile, 'date' | 'environment'> {
  const t0 = performance.now();
  const memory: MemScenarioResult[] = [];
  const notApplicable: SweepFile['notApplicable'] = [];
  const designs = o.designs.filter((d) => {
    const reason = d.checkScenario?.({ kind: o.kind, page: o.page }) ?? null;
    if (reason !== null) notApplicable.push({ design: d.name, reason });
    return reason === null;
  });
  for (const size of o.sizes) {
    for (const procs of o.procs) {
      const count = (design: PtShareDesign) => {
        const { scenario, mapped } = sgaScenario({ design, procs, size: size.bytes, kind: o.kind, page: o.page, offset: 0, touch: 'all', write: true, levels: o.levels });
        return { c: countScenario(scenario), mapped };
      };
      const priv = count(designByName('private'));
      for (const d of designs) {
        const { c, mapped } = d.name === 'private' ? priv : count(d);
        memory.push({
          scenario: `sweep/${o.kind}-${o.page}-${size.text}`, design: d.name, procs, kind: o.kind, page: o.page, bytes: mapped, engine: 'count',
          tables: c.tables, pageTableBytes: c.pageTableBytes, sharedTables: c.sharedTables,
          privateBytes: priv.c.pageTableBytes, savingVsPrivate: 1 - c.pageTableBytes / priv.c.pageTableBytes,
        });
      }
    }
  }
  return {
    schema: SWEEP_SCHEMA, tool: 'ptbench sweep', figures: 'simulated', engine: 'count',
    config: { procs: o.procs, sizes: o.sizes, designs: designs.map((d) => d.name), kind: o.kind, page: o.page, levels: o.levels },
    elapsedMs: performance.now() - t0, memory, notApplicable,
  };
}

export function renderSweep(s: Omit<SweepFile, 'date' | 'environment'>, height: number, color: boolean): string {
  const out: string[] = [];
  const cells = s.memory.length;
  out.push(`ptbench sweep: page-table bytes machine-wide, every shared table once (simulated, exact; counting engine)`);
  out.push(`scenario  N processes map one ${s.config.kind === 'anon' ? 'private anonymous region each' : `MAP_SHARED ${s.config.kind} region`}, ${s.config.page} pages, all written, ${s.config.levels}-level paging`);
  out.push(`${int(cells)} cells counted in ${s.elapsedMs.toFixed(1)} ms (measured wall-clock)`);
  for (const series of seriesOf(s)) {
    const rows = s.memory.filter((m) => m.scenario === series.scenario);
    const t = plainTable(['processes', ...series.designs.map((d) => d.name)], ['right', ...series.designs.map(() => 'right' as const)]);
    for (const p of series.procs) t.push([int(p), ...series.designs.map((d) => iec(rows.find((m) => m.design === d.name && m.procs === p)!.pageTableBytes))]);
    out.push('', `${series.scenario}: ${int(rows[0]!.bytes)} B mapped per process (${bytesSI(rows[0]!.bytes)}, ${iec(rows[0]!.bytes)})`, t.toString());
  }
  const all = seriesOf(s);
  const last = all[all.length - 1];
  if (last !== undefined && last.procs.length > 1) out.push('', renderAscii(last, { height, width: 60, log: true, color }), '', renderBars(last));
  for (const n of s.notApplicable) out.push(`n/a  ${n.design}: ${n.reason}`);
  return out.join('\n');
}
