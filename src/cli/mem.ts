/**
 * `ptbench mem`: a scenario's page-table accounting, as a table (default) or JSON (--json), from the
 * materialized page-table machine or from the counting engine (--engine; both exact, and held equal
 * by test/workload/pgtable_count.test.ts). Every figure is simulated.
 */
import { bytesIEC, iec, int, plainTable } from '../lib/format.js';
import { parseSize, procsCount } from '../lib/size.js';
import { totalTables } from '../mm/accounting.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { designByName, designsByList, DESIGNS } from '../share/index.js';
import { MATERIALIZE_LIMIT_BYTES, parseRegionShape, type SgaScenario } from '../workload/sga.js';
import { UsageError } from '../lib/errors.js';
import { type Engine, type MemReport, memReport, type GridCell, memGrid } from '../workload/mem_report.js';
import { parseOptions } from '../lib/cli_args.js';
import { progressLine } from '../lib/progress.js';
import { describeKernel, kernelConfig } from '../mm/kernel_profile.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp } from './options/kernel.js';

export const MEM_HELP = `usage: ptbench mem [options]

Map one region into N processes, touch it, and print the page-table memory (simulated, exact).

  --design NAME      sharing design: ${DESIGNS.map((d) => d.name).join(', ')} (default private);
                     a comma list or 'all' prints a grid of bytes and savings against private
  --procs N          number of processes (default 1); a comma list (1,2,16,128,1024) prints a grid
  --size SIZE        region size: 4096, 2MiB, 1GiB, 300GB (GB = 10^9, GiB = 2^30); rounded up to
                     the page size as mmap does (default 1GiB)
  --kind KIND        shmem | anon | file | hugetlb (default shmem; anon is private per process)
  --page SIZE        4k | 2m | 1g (2m and 1g need --kind hugetlb; default 4k, or 2m for hugetlb)
  --offset SIZE      mapping address offset from a 1 GiB-aligned base (default 0)
  --touch WHAT       all | none | FRACTION of the pages, from the start (default all)
  --read             touch with read faults instead of write faults
  --levels 4|5       4-level or 5-level (LA57) paging (default 4)
  --fault-around SIZE  fault_around_bytes (default 64KiB, the kernel's)
  --engine E         count: interval arithmetic, no tables built (any size: 1,500 x 300GB in
                     milliseconds); materialize: build the tables and run every fault; auto
                     (default): materialize when it fits in ${MATERIALIZE_LIMIT_BYTES / 2 ** 30} GiB of simulator memory, else count
${kernelHelp()}
  --json             print JSON instead of a table
`;

export interface MemRequest {
  scenario: SgaScenario;
  engine: Engine;
  json: boolean;
  /** Several designs or process counts: a grid of page-table bytes and savings instead of one report. */
  grid?: { designs: PtShareDesign[]; procs: number[] };
}

export function parseMemArgs(argv: string[]): MemRequest | 'help' {
  const { values } = parseOptions({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      design: { type: 'string', default: 'private' },
      procs: { type: 'string', default: '1' },
      size: { type: 'string', default: '1GiB' },
      kind: { type: 'string', default: 'shmem' },
      page: { type: 'string' },
      offset: { type: 'string', default: '0' },
      touch: { type: 'string', default: 'all' },
      read: { type: 'boolean', default: false },
      levels: { type: 'string', default: '4' },
      'fault-around': { type: 'string', default: '64KiB' },
      engine: { type: 'string', default: 'auto' },
      ...KERNEL_OPTIONS,
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const designs = designsByList(values.design);
  const design = designs[0]!;
  const procsList = values.procs.split(',').map((p) => procsCount(p));
  const procs = procsList[0]!;
  const { kind, page, levels } = parseRegionShape(values.kind, values.page, values.levels);
  let touch: SgaScenario['touch'];
  if (values.touch === 'all' || values.touch === 'none') touch = values.touch;
  else if (/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(values.touch)) touch = Number(values.touch);
  else throw new UsageError(`--touch: '${values.touch}' is not all, none, or a fraction between 0 and 1`);
  const fab = parseSize(values['fault-around'], '--fault-around');
  if (fab < 4096 || fab > 2 ** 21 || (fab & (fab - 1)) !== 0) throw new UsageError(`--fault-around: must be a power of two from 4KiB to 2MiB, got ${fab}`);
  if (!['count', 'materialize', 'auto'].includes(values.engine)) throw new UsageError(`--engine: '${values.engine}' is not one of count, materialize, auto`);
  return {
    engine: values.engine as Engine,
    json: values.json,
    grid: designs.length > 1 || procsList.length > 1 ? { designs, procs: procsList } : undefined,
    scenario: {
      design, procs, kind, page,
      size: parseSize(values.size, '--size'),
      offset: parseSize(values.offset, '--offset'),
      touch, write: !values.read, levels, faultAroundBytes: fab, kernel: kernelFromOptions(values),
    },
  };
}

const LEVELS = ['pgd', 'p4d', 'pud', 'pmd', 'pte'] as const;

export function renderMem(rep: MemReport): string {
  const s = rep.scenario;
  const pageName = { '4k': '4 KiB', '2m': '2 MiB', '1g': '1 GiB' }[s.page];
  const region = s.kind === 'anon' ? 'private anonymous memory (each process its own)' : `MAP_SHARED ${s.kind === 'hugetlb' ? 'hugetlbfs' : s.kind === 'file' ? 'regular file' : 'shmem'}`;
  const lines: string[] = [];
  lines.push(`ptbench mem: page-table memory (simulated, exact; ${rep.engine === 'count' ? 'counting engine, no tables built' : 'materialized tables'})`);
  lines.push(`design    ${rep.design}: ${designByName(rep.design).summary}`);
  lines.push(`kernel    ${describeKernel(rep.kernel)}`);
  lines.push(`scenario  ${int(s.procs)} process(es), ${region} of ${bytesIEC(s.mappedBytes)} at ${s.address}, ${pageName} pages,`);
  lines.push(`          ${int(s.touchedPages)} page(s) touched per process by ${s.faults} accesses, ${s.levels}-level paging`);
  lines.push('');
  const procs = rep.processes;
  const t = plainTable(['level', 'tables (machine)', 'bytes (machine)', 'tables per process'], ['left', 'right', 'right', 'right']);
  const range = (f: (p: MemReport['processes'][number]) => number): string => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const p of procs) { const v = f(p); lo = Math.min(lo, v); hi = Math.max(hi, v); }
    return lo === hi ? int(lo) : `${int(lo)}..${int(hi)}`;
  };
  for (const l of LEVELS) {
    if (l === 'p4d' && s.levels === 4) continue;
    t.push([l, int(rep.tables[l]), bytesIEC(rep.tables[l] * (l === 'pgd' ? rep.kernel.pgdBytes : 4096)), range((p) => p.tables[l])]);
  }
  t.push(['total', int(rep.tablePages), bytesIEC(rep.pageTableBytes), range((p) => totalTables(p.tables))]);
  lines.push(t.toString());
  lines.push('');
  lines.push(`per process  page tables ${range((p) => p.pageTableBytes)} B; VmPTE (PTE+PMD+PUD) ${range((p) => p.vmPTEBytes)} B`);
  const pageTables = rep.pageTableBytes - (rep.kernel.pgdInPageTables ? 0 : rep.tables.pgd * rep.kernel.pgdBytes);
  lines.push(`PageTables in /proc/meminfo  ${int(pageTables)} B (${rep.kernel.pgdInPageTables ? 'PGDs included, as since 6.14' : 'PGDs left out, as before 6.14'})`);
  lines.push(`shared tables  ${int(rep.sharedTables)} (pt_share_count > 0)`);
  lines.push(`page-table bytes per mapped byte  ${(rep.pageTableBytes / (s.mappedBytes * (rep.design === 'threads' ? 1 : s.procs)) * 100).toFixed(4)} % (all processes' mappings)`);
  lines.push(`PTE tables  ${int(rep.pteTableBytes)} B = ${(rep.pteTableBytes / 1e9).toFixed(1)} GB (10^9 B) = ${(rep.pteTableBytes / 2 ** 30).toFixed(1)} GiB (2^30 B)`);
  lines.push(`memory  ${int(rep.folios)} folio(s), ${bytesIEC(rep.framePages * 4096)}${rep.events ? `; ${int(rep.events.pgfault!)} simulated faults` : ''}`);
  if (rep.leakCheck) lines.push(`exit of every process: ${rep.leakCheck.length === 0 ? 'no table or page left (check_mm clean)' : rep.leakCheck.join('; ')}`);
  return lines.join('\n');
}

export function renderGrid(base: SgaScenario, cells: GridCell[], designs: PtShareDesign[], procsList: number[]): string {
  const region = base.kind === 'anon' ? 'private anonymous memory' : `MAP_SHARED ${base.kind}`;
  const t = plainTable(['design', ...procsList.map((p) => `${p} process${p > 1 ? 'es' : ''}`)], ['left', ...procsList.map(() => 'right' as const)]);
  for (const d of designs) {
    t.push([d.name, ...procsList.map((p) => {
      const c = cells.find((x) => x.design === d.name && x.procs === p)!;
      return c.pageTableBytes === null ? 'n/a' : `${iec(c.pageTableBytes)} (${(c.saving! * 100).toFixed(1)} %)`;
    })]);
  }
  const notes = [...new Set(cells.filter((c) => c.note).map((c) => `${c.design}: ${c.note}`))];
  return [
    `ptbench mem: page-table bytes machine-wide and saving against private (simulated, exact; ${[...new Set(cells.map((c) => c.engine).filter((e) => e))].map((e) => (e === 'count' ? 'counting engine' : 'materialized tables')).join(' and ')})`,
    `kernel    ${describeKernel(base.kernel ?? kernelConfig())}`,
    `scenario  N processes, ${region} of ${bytesIEC(roundUpTo(base))}, ${base.page} pages, touched by ${base.write ? 'write' : 'read'} accesses, ${base.levels}-level paging`,
    '',
    t.toString(),
    ...notes.map((n) => `n/a  ${n}`),
  ].join('\n');
}

function roundUpTo(s: SgaScenario): number {
  const pb = s.page === '4k' ? 4096 : s.page === '2m' ? 2 ** 21 : 2 ** 30;
  return Math.ceil(s.size / pb) * pb;
}

export function memMain(argv: string[]): number {
  const parsed = parseMemArgs(argv);
  if (parsed === 'help') {
    process.stdout.write(MEM_HELP);
    return 0;
  }
  if (parsed.grid) {
    const progress = progressLine('ptbench mem', parsed.grid.designs.length * parsed.grid.procs.length);
    const cells = memGrid(parsed.scenario, parsed.grid.designs, parsed.grid.procs, parsed.engine, (done, _total, what) => progress.update(done, what));
    progress.end();
    process.stdout.write(parsed.json ? `${JSON.stringify({ tool: 'ptbench mem', figures: 'simulated', kernel: parsed.scenario.kernel, scenario: { ...parsed.scenario, design: undefined }, cells }, null, 2)}\n` : `${renderGrid(parsed.scenario, cells, parsed.grid.designs, parsed.grid.procs)}\n`);
    return 0;
  }
  const rep = memReport(parsed.scenario, parsed.engine);
  process.stdout.write(parsed.json ? `${JSON.stringify(rep, null, 2)}\n` : `${renderMem(rep)}\n`);
  return (rep.leakCheck?.length ?? 0) === 0 ? 0 : 1;
}
