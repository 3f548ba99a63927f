/** `ptbench capture --pid PID [--tree]`: a live process tree written down, checked against /proc, replayed under every design. */
import { join, relative, resolve } from 'node:path';
import { parseOptions } from '../lib/cli_args.js';
import { progressLine } from '../lib/progress.js';
import { UsageError } from '../lib/errors.js';
import { printable } from '../lib/terminal.js';
import { bytesIEC, fileStamp, iec, int, plainTable } from '../lib/format.js';
import { describeKernel, type KernelConfig } from '../mm/kernel_profile.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp } from './options/kernel.js';
import { designByName, DESIGNS, designsByList } from '../share/index.js';
import { checkTimelineDesign } from '../workload/timeline.js';
import { checkWritable, writeJsonAtomic } from '../harness/write.js';
import { detectKernel } from '../harness/validate/kernel_detect.js';
import { captureProcesses, checkPid, PREDICTION_DESIGN, predictProcesses, replay, scenarioFor, type DesignFigures, type ProcessFigures } from '../harness/capture/capture.js';

export const CAPTURE_HELP = `usage: ptbench capture --pid PID [options]    (npm run ptbench -- capture ...)

Reads a live process from /proc (its VMAs from smaps, which pages have an entry from pagemap, its
VmPTE from status), writes it down as a scenario file (docs/scenarios.md) that 'ptbench run'
replays, and prints per process the VmPTE the model predicts (simulated, design ${PREDICTION_DESIGN}:
today's kernel) beside the one the kernel reports (measured), then the page tables of the captured
processes under every design (simulated). Reading another user's process needs root.

  --pid PID            the process to capture
  --tree               also every descendant of PID (a postmaster and its backends, a VM and its helpers)
  --out FILE           the scenario file (default results/capture/<date>-<name>-<pid>.json)
  --design NAME|all    designs to replay under, comma-separated, or all (default; threads is left out)
${kernelHelp()}
                       (default: the profile of the running kernel, as 'ptbench validate' picks it)
  --json               machine-readable output
`;

export interface CaptureReport {
  tool: 'ptbench capture';
  /** The kernel profile the simulation follows. */
  kernel: KernelConfig;
  kernelRelease: string;
  kernelWhy: string;
  date: string;
  scenarioFile: string;
  predictionDesign: string;
  figures: { predictedVmpteBytes: 'simulated'; actualVmpteBytes: 'measured'; designs: 'simulated' };
  processes: ProcessFigures[];
  skipped: Array<{ pid: number; why: string }>;
  designs: Record<string, DesignFigures>;
}

const PAGE = 4096;

/** What the difference between predicted and actual could hold, and what the model left out, for one process. */
export function explain(p: ProcessFigures): string[] {
  const name = `${printable(p.comm)}[${p.pid}]`;
  const out: string[] = [];
  const d = p.actualVmpteBytes - p.predictedVmpteBytes;
  if (d > 0) {
    out.push(`${name}: the kernel holds ${int(d / PAGE)} table page${d === PAGE ? '' : 's'} (${iec(d)}) more than the entries /proc shows need: tables whose entries were all zapped and not freed (MADV_DONTNEED without PT_RECLAIM, or of file pages), shmem pages swapped out (pagemap shows none)${p.pfnmapBytes > 0 ? `, or ${iec(p.pfnmapBytes)} of VM_PFNMAP/VM_IO mappings that pagemap does not walk` : ''}`);
  } else if (d < 0) {
    out.push(`${name}: miss: the model predicts ${int(-d / PAGE)} table page${d === -PAGE ? '' : 's'} (${iec(-d)}) more than the kernel has${p.thpPmdBytes > 0 ? `; ${iec(p.thpPmdBytes)} of THP mapped by PMD entries needs no PTE tables, which accounts for up to ${int(Math.ceil(p.thpPmdBytes / 2 ** 21))} of them` : ''}`);
  }
  if (p.thpPmdBytes > 0) out.push(`${name}: THP: ${iec(p.thpPmdBytes)} mapped by PMD entries; the model does not model THP and maps 4 KiB pages there`);
  if (p.privateHugetlbBytes > 0) out.push(`${name}: ${iec(p.privateHugetlbBytes)} of MAP_PRIVATE hugetlb not replayed (not modelled)`);
  return out;
}

export function renderCapture(r: CaptureReport): string {
  const procs = r.processes;
  const out: string[] = [`ptbench capture: ${procs.length} process${procs.length === 1 ? '' : 'es'} of Linux ${r.kernelRelease} at ${r.date}`];
  out.push(`kernel ${describeKernel(r.kernel)}: ${r.kernelWhy}`);
  out.push(`scenario written to ${r.scenarioFile} (replay it: ptbench run ${r.scenarioFile})`);
  for (const s of r.skipped) out.push(`skipped pid ${s.pid}: ${s.why}`);
  out.push('', `VmPTE per process: predicted (simulated, design ${r.predictionDesign}: today's kernel) and the kernel's (measured, /proc/PID/status)`);
  const t = plainTable(['pid', 'process', 'mappings', 'present', 'swapped', 'predicted', 'kernel', 'difference', 'error'], ['right', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right']);
  const pct = (a: number, b: number) => (b === 0 ? (a === 0 ? '0.00 %' : 'n/a') : `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(2)} %`);
  let pred = 0;
  let act = 0;
  for (const p of procs) {
    pred += p.predictedVmpteBytes;
    act += p.actualVmpteBytes;
    const d = p.actualVmpteBytes - p.predictedVmpteBytes;
    t.push([String(p.pid), printable(p.comm), int(p.mappings), int(p.presentPages), int(p.swappedPages), iec(p.predictedVmpteBytes), iec(p.actualVmpteBytes), `${d >= 0 ? '+' : '-'}${iec(Math.abs(d))}`, pct(p.predictedVmpteBytes, p.actualVmpteBytes)]);
  }
  if (procs.length > 1) t.push(['', 'all', '', '', '', iec(pred), iec(act), `${act - pred >= 0 ? '+' : '-'}${iec(Math.abs(act - pred))}`, pct(pred, act)]);
  out.push(t.toString());
  out.push('present, swapped: 4 KiB pagemap entries; error: (predicted - kernel) / kernel');
  out.push(...procs.flatMap(explain));
  out.push('', 'page tables of the captured processes under each design (simulated, exact; host tables included)');
  const base = r.designs.private?.pageTableBytes;
  const dt = plainTable(['design', 'page tables', 'VmPTE, all processes', 'saving vs private', 'refused steps'], ['left', 'right', 'right', 'right', 'right']);
  for (const [name, d] of Object.entries(r.designs)) {
    const saving = base === undefined ? 'n/a' : `${iec(base - d.pageTableBytes)} (${(((base - d.pageTableBytes) / base) * 100).toFixed(1)} %)`;
    dt.push([name + (d.placed ? ' *' : ''), bytesIEC(d.pageTableBytes), iec(d.vmpteBytes), saving, int(d.refusedSteps)]);
  }
  out.push(dt.toString());
  if (Object.values(r.designs).some((d) => d.placed)) out.push('* shared objects moved to a 512 GiB-aligned region each first (the design requires it), as an application adopting it would');
  for (const [name, d] of Object.entries(r.designs)) if (d.firstRefusal) out.push(`refused under ${name}: ${d.refusedSteps} step(s), the first ${d.firstRefusal}; its figure leaves those out`);
  return out.join('\n');
}

export async function captureMain(argv: string[]): Promise<number> {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: {
      pid: { type: 'string' }, tree: { type: 'boolean', default: false }, out: { type: 'string' },
      design: { type: 'string', default: 'all' }, json: { type: 'boolean', default: false }, ...KERNEL_OPTIONS, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(CAPTURE_HELP);
    return 0;
  }
  if (process.platform !== 'linux') throw new UsageError(`capture reads /proc of a live Linux process; this is ${process.platform}`, 'ENOSYS');
  if (values.pid === undefined) throw new UsageError('capture: give the process to capture with --pid PID (and --tree for its descendants)');
  const designs = values.design === 'all' ? DESIGNS.filter((d) => d.mmPerProcess) : designsByList(values.design);
  designs.forEach(checkTimelineDesign);
  const given = values.kernel !== undefined || values['pt-reclaim'] !== undefined || values.pti !== undefined;
  const detected = given ? null : detectKernel();
  const kernel = detected?.config ?? kernelFromOptions(values);
  const target = checkPid(values.pid);
  const date = new Date().toISOString();
  const abs = resolve(values.out ?? join('results', 'capture', `${fileStamp(date)}-${target.comm.replace(/[^A-Za-z0-9_.-]/g, '_')}-${target.pid}.json`));
  checkWritable(abs, '--out');
  // Shown relative to the working directory when it is below it.
  const file = abs.startsWith(`${process.cwd()}/`) ? relative(process.cwd(), abs) : abs;
  const command = `ptbench capture --pid ${target.pid}${values.tree ? ' --tree' : ''}`;

  const reading = progressLine('ptbench capture: reading', 1);
  const c = captureProcesses(target.pid, values.tree, (done, total, what) => reading.update(done, `of ${total}: ${what}`));
  reading.end();
  writeJsonAtomic(abs, scenarioFor(c, command, undefined, kernel).scenario);

  const progress = progressLine('ptbench capture: replaying', designs.length + 1);
  progress.update(0, `prediction (${PREDICTION_DESIGN})`);
  const prediction = replay(c, designByName(PREDICTION_DESIGN), kernel, command);
  const processes = predictProcesses(c, kernel, command, prediction.vmpte);
  const report: CaptureReport = {
    tool: 'ptbench capture', kernel, kernelRelease: c.kernelRelease, kernelWhy: detected?.why ?? 'given on the command line', date: c.date, scenarioFile: file,
    predictionDesign: PREDICTION_DESIGN, figures: { predictedVmpteBytes: 'simulated', actualVmpteBytes: 'measured', designs: 'simulated' },
    processes, skipped: c.skipped, designs: {},
  };
  for (const [i, d] of designs.entries()) {
    progress.update(i + 1, d.name);
    try {
      report.designs[d.name] = d.name === PREDICTION_DESIGN ? prediction.figures : replay(c, d, kernel, command).figures;
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(`ptbench capture: ${d.name} left out: ${e.message}\n`);
    }
  }
  progress.end();
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${renderCapture(report)}\n`);
  return 0;
}
