/** `ptbench run FILE`: a user's workload from a scenario file, every design, one table per snapshot. */
import { parseOptions } from '../lib/cli_args.js';
import { progressLine } from '../lib/progress.js';
import { UsageError } from '../lib/errors.js';
import { printable } from '../lib/terminal.js';
import { bytesIEC, iec, int, plainTable } from '../lib/format.js';
import { describeKernel, type KernelConfig } from '../mm/kernel_profile.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp, kernelOptionsGiven } from './options/kernel.js';
import { DESIGNS, designsByList } from '../share/index.js';
import { loadScenarioFile } from '../harness/scenario_file.js';
import { checkTimelineDesign, runTimeline, type DesignRun, type DesignSnapshot } from '../workload/timeline.js';

export const RUN_HELP = `usage: ptbench run FILE [options]    (npm run ptbench -- run FILE ...)

Runs the timeline of a scenario file (docs/scenarios.md; examples in scenarios/) under every design:
named groups of processes spawn, mmap, touch, fork, mprotect, munmap, madvise, register uffd-wp and
exit; each snapshot prints the page tables machine-wide and every process's VmPTE. Every figure is
simulated and exact. A timeline of spawn, mmap, whole sequential touches and one final snapshot is
counted without building the tables (the counting engine), so thousands of processes take a moment.

  --design NAME|all    designs, comma-separated, or all (default; threads is left out: a timeline's
                       processes have their own mms)
${kernelHelp()}
                       (default: the file's "kernel" member where it has one, as ptbench capture
                       writes it; each option given overrides that knob)
  --json               machine-readable output
`;

export interface RunReport {
  tool: 'ptbench run';
  figures: 'simulated';
  file: string;
  description?: string;
  source?: string;
  kernel: KernelConfig;
  /** Where the kernel configuration came from, in one line. */
  kernelFrom: string;
  /** --design all leaves threads out (its processes are threads of one mm); the text says why. */
  threadsLeftOut?: boolean;
  engines: Record<string, DesignRun['engine']>;
  snapshots: Array<{ label: string; designs: Record<string, DesignSnapshot> }>;
}

function range(xs: number[]): string {
  if (xs.length === 0) return '-';
  // A loop, not Math.min(...xs): a spread of 125,000+ arguments overflows the stack.
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of xs) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (lo === hi) return iec(lo);
  return iec(lo) === iec(hi) ? `${int(lo)}..${int(hi)} B` : `${iec(lo)}..${iec(hi)}`;
}

/** Where a run's kernel configuration came from, in words. */
export function kernelFrom(given: string[], recorded: boolean): string {
  if (given.length === 0) return recorded ? "as the scenario file records it; --kernel, --pti, --pt-reclaim override" : 'the defaults: the file records no kernel';
  return recorded ? `${given.join(', ')} given; the rest as the scenario file records it` : `${given.join(', ')} given; the rest the defaults`;
}

export function renderRun(r: RunReport): string {
  const out: string[] = [`ptbench run ${r.file}: page tables per snapshot (simulated, exact)`];
  if (r.description) out.push(printable(r.description));
  out.push(`kernel ${describeKernel(r.kernel)} (${r.kernelFrom})`);
  for (const s of r.snapshots) {
    out.push('', `snapshot "${printable(s.label)}"`);
    const t = plainTable(['design', 'engine', 'page tables', 'pgd', 'pud', 'pmd', 'pte', 'processes', 'VmPTE per process', 'faults', 'TLB flushes', 'IPIs', 'refused steps'],
      ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right']);
    for (const [name, d] of Object.entries(s.designs)) {
      const opt = (n: number | null) => (n === null ? 'n/a' : int(n));
      t.push([name, r.engines[name]!, bytesIEC(d.pageTableBytes), int(d.tables.pgd), int(d.tables.pud), int(d.tables.pmd), int(d.tables.pte), int(d.processes.length),
        range(d.processes.map((p) => p.vmpteBytes)), opt(d.faults), opt(d.tlbFlushes), opt(d.ipis), int(d.refused.length)]);
    }
    out.push(t.toString());
    for (const [name, d] of Object.entries(s.designs)) {
      const why = DESIGNS.find((x) => x.name === name)?.sharesOnly;
      if (d.sharedTables === 0 && why !== undefined) out.push(`${name} shares no table in this snapshot: it shares only ${why}`);
    }
    for (const [name, d] of Object.entries(s.designs)) {
      for (const x of d.refused) out.push(printable(`refused  ${name}: step ${x.step} (${x.op}${x.proc ? ` ${x.proc}` : ''}): ${x.errno}: ${x.message}`));
    }
  }
  out.push('', 'faults, TLB flushes and IPIs count from the start of the run; n/a under the counting engine, which counts tables, not events');
  if (r.threadsLeftOut) out.push("threads is left out: a timeline's processes have their own mms (spawn, fork, exit); threads, every process one mm, is the lower bound ('ptbench mem --design threads' shows it for a uniform workload)");
  return out.join('\n');
}

export async function runMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions({
    args: argv, strict: true, allowPositionals: true,
    options: { design: { type: 'string', default: 'all' }, json: { type: 'boolean', default: false }, ...KERNEL_OPTIONS, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`run: give one scenario file (got ${positionals.length}); e.g. ptbench run scenarios/postgres.json`);
  kernelFromOptions(values); // bad option values are reported before the file is read
  const designs = values.design === 'all' ? DESIGNS.filter((d) => d.mmPerProcess) : designsByList(values.design);
  designs.forEach(checkTimelineDesign);
  const file = positionals[0]!;
  const t = loadScenarioFile(file);
  const kernel = kernelFromOptions(values, t.kernel);
  const report: RunReport = {
    tool: 'ptbench run', figures: 'simulated', file, ...(t.description ? { description: t.description } : {}), ...(t.source ? { source: t.source } : {}),
    kernel, kernelFrom: kernelFrom(kernelOptionsGiven(values), t.kernel !== undefined), ...(values.design === 'all' ? { threadsLeftOut: true } : {}), engines: {}, snapshots: [],
  };
  const progress = progressLine('ptbench run', designs.length);
  for (const [i, d] of designs.entries()) {
    progress.update(i, d.name);
    const run = runTimeline(t, d, kernel);
    report.engines[d.name] = run.engine;
    run.snapshots.forEach((s, i) => {
      report.snapshots[i] ??= { label: s.label, designs: {} };
      report.snapshots[i]!.designs[d.name] = s.figures;
    });
  }
  progress.end();
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${renderRun(report)}\n`);
  return 0;
}
