/**
 * `ptbench capture`: read a live process (and with `tree` its descendants) from /proc, write it down
 * as a scenario, predict each process's VmPTE with the model of today's kernel and set it beside the
 * VmPTE the kernel reports, then replay the scenario under every design.
 *
 * Every check that can refuse the input (no such process, a kernel thread, a pagemap we may not read)
 * runs before any page is read. A process that exits while it is read is skipped with a note.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { pagingMode, type PagingLevels } from '../../arch/pgtable_64_types.js';
import { UsageError } from '../../lib/errors.js';
import type { KernelConfig } from '../../mm/kernel_profile.js';
import type { PtShareDesign } from '../../mm/pt_share.js';
import { designByName } from '../../share/index.js';
import { runTimeline, type Timeline } from '../../workload/timeline.js';
import { toTimeline } from '../scenario_file.js';
import { validate } from '../load.js';
import { closePagemap, isGone, mountTypes, openPagemap, pageRuns, parseSmaps, processTree, readStatus } from './proc.js';
import { captureScenario, procName, type CapturedProcess, type CaptureNote } from './to_scenario.js';

export interface Captured {
  kernelRelease: string;
  date: string;
  processes: CapturedProcess[];
  skipped: Array<{ pid: number; why: string }>;
  fsType: Map<string, string>;
}

/** A --pid value: the process must exist and have an mm. Returns its thread-group id and name. */
export function checkPid(text: string): { pid: number; comm: string } {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--pid: '${text}' is not a process id (a whole number >= 1)`);
  const pid = Number(text);
  if (!existsSync(`/proc/${pid}`)) throw new UsageError(`--pid ${pid}: no such process (/proc/${pid} does not exist)`, 'ESRCH');
  let st;
  try {
    st = readStatus(pid);
  } catch (e) {
    if (isGone(e)) throw new UsageError(`--pid ${pid}: the process exited`, 'ESRCH');
    throw e;
  }
  if (st.vmPTEBytes === null) throw new UsageError(`--pid ${pid} (${st.comm}) has no mm: a kernel thread or a zombie has no page tables of its own; give a user process`);
  return { pid: st.tgid, comm: st.comm };
}

/** Read `pid` (and its descendants with `tree`) from /proc. `progress(done, total, what)` as it goes. */
export function captureProcesses(pid: number, tree: boolean, progress: (done: number, total: number, what: string) => void = () => {}): Captured {
  const pids = tree ? processTree(pid) : [pid];
  const skipped: Captured['skipped'] = [];
  // Permissions first: every pagemap is opened before any is read.
  const open: Array<{ pid: number; fd: number; comm: string }> = [];
  try {
    for (const p of pids) {
      try {
        const st = readStatus(p);
        if (st.vmPTEBytes === null) {
          skipped.push({ pid: p, why: `${st.comm}: no mm (exited, a zombie)` });
          continue;
        }
        open.push({ pid: p, fd: openPagemap(p, st.comm), comm: st.comm });
      } catch (e) {
        if (!isGone(e)) throw e;
        skipped.push({ pid: p, why: 'exited before it was read' });
      }
    }
    const fsType = mountTypes(pid);
    const processes: CapturedProcess[] = [];
    for (const [i, o] of open.entries()) {
      progress(i, open.length, `${o.comm}[${o.pid}]`);
      try {
        const vmas = parseSmaps(readFileSync(`/proc/${o.pid}/smaps`, 'utf8'));
        const withRuns = vmas.map((v) => ({
          ...v,
          // Only VMAs with resident or swapped pages, or uffd-wp registered (markers), can have entries.
          runs: v.rssBytes + v.swapBytes > 0 || v.vmFlags.includes('uw') ? pageRuns(o.fd, v) : { read: [], write: [], swappedRuns: [], present: 0, swapped: 0, markers: 0 },
        }));
        const st = readStatus(o.pid);
        if (vmas.length === 0 || st.vmPTEBytes === null) {
          skipped.push({ pid: o.pid, why: `${o.comm}: exited while it was read` });
          continue;
        }
        processes.push({ pid: o.pid, comm: st.comm, ppid: st.ppid, vmas: withRuns, actualVmPTEBytes: st.vmPTEBytes });
      } catch (e) {
        if (!isGone(e)) throw e;
        skipped.push({ pid: o.pid, why: `${o.comm}: exited while it was read` });
      }
    }
    if (processes.length === 0) throw new UsageError(`--pid ${pid}: every process exited before it could be read`, 'ESRCH');
    return { kernelRelease: release(), date: new Date().toISOString(), processes, skipped, fsType };
  } finally {
    for (const o of open) closePagemap(o.fd);
  }
}

/** Paging levels the captured address spaces need: 5 when a VMA lies above 4-level's 128 TiB. */
export function capturedLevels(c: Captured): PagingLevels {
  return c.processes.some((p) => p.vmas.some((v) => v.path !== '[vsyscall]' && v.end > pagingMode(4).taskSize)) ? 5 : 4;
}

interface BuiltScenario {
  scenario: Record<string, unknown>;
  notes: CaptureNote[];
  /** The scenario read back as `ptbench run` reads a file (schema-checked once). */
  timeline: Timeline;
}

/** Each capture's scenarios, built once per placement (a capture is not changed once read). */
const built = new WeakMap<Captured, Map<string, BuiltScenario>>();

/**
 * The scenario file for `c`, as captured or placed for `design` (its sharedRegionAlign); with `kernel`,
 * the file records that configuration so that `ptbench run` replays under it.
 */
export function scenarioFor(c: Captured, command: string, design?: PtShareDesign, kernel?: KernelConfig): BuiltScenario {
  const align = design?.sharedRegionAlign;
  const key = `${align ?? 'as captured'} ${command} ${kernel ? `${kernel.profile} ${kernel.pti} ${kernel.ptReclaim}` : ''}`;
  let byKey = built.get(c);
  if (byKey === undefined) built.set(c, (byKey = new Map()));
  const have = byKey.get(key);
  if (have !== undefined) return have;
  const { scenario, notes } = captureScenario(c.processes, {
    kernel: c.kernelRelease, date: c.date, command, fsType: c.fsType, ...(kernel ? { config: kernel } : {}),
    ...(align === undefined ? {} : { place: { align, taskSize: pagingMode(capturedLevels(c)).taskSize } }),
  });
  const err = validate('ptbench-scenario-1', scenario);
  if (err !== null) throw new Error(`BUG: the captured scenario does not meet its schema: ${err}`);
  const b = { scenario, notes, timeline: toTimeline(scenario, 'captured scenario') };
  byKey.set(key, b);
  return b;
}

export interface ProcessFigures {
  pid: number;
  comm: string;
  ppid: number;
  /** Simulated: VmPTE of the replayed process under PREDICTION_DESIGN. */
  predictedVmpteBytes: number;
  /** Measured: VmPTE in /proc/PID/status at capture. */
  actualVmpteBytes: number;
  mappings: number;
  presentPages: number;
  swappedPages: number;
  /** Entries that are only markers (uffd-wp, guard regions). */
  markerEntries: number;
  /** THP mapped by PMD entries (smaps); the model maps 4 KiB pages there. */
  thpPmdBytes: number;
  /** VM_PFNMAP/VM_IO mappings: pagemap shows none of their entries; not replayed. */
  pfnmapBytes: number;
  /** MAP_PRIVATE hugetlb: not modelled; not replayed. */
  privateHugetlbBytes: number;
}

export interface DesignFigures {
  /** Simulated: page tables machine-wide (hosts included) after the replay. */
  pageTableBytes: number;
  /** Simulated: the sum of the processes' VmPTE. */
  vmpteBytes: number;
  /** Steps the design refused (their figures then leave those mappings out). */
  refusedSteps: number;
  firstRefusal?: string;
  /** Shared objects were moved to aligned regions first (PtShareDesign.sharedRegionAlign). */
  placed: boolean;
}

/** The design whose rules are today's kernel: private tables, PMD tables of MAP_SHARED hugetlb shared. */
export const PREDICTION_DESIGN = 'hugetlb-pmd';

/** Replay the captured scenario under `design`. */
export function replay(c: Captured, design: PtShareDesign, kernel: KernelConfig, command: string): { figures: DesignFigures; vmpte: Map<string, number> } {
  const run = runTimeline(scenarioFor(c, command, design).timeline, design, kernel, 'auto', capturedLevels(c));
  const snap = run.snapshots[run.snapshots.length - 1]!.figures;
  const refused = run.snapshots.flatMap((s) => s.figures.refused);
  const vmpte = new Map(snap.processes.map((p) => [p.name, p.vmpteBytes]));
  return {
    figures: {
      pageTableBytes: snap.pageTableBytes, vmpteBytes: [...vmpte.values()].reduce((a, b) => a + b, 0), refusedSteps: refused.length,
      ...(refused.length > 0 ? { firstRefusal: `step ${refused[0]!.step} (${refused[0]!.op}): ${refused[0]!.errno}: ${refused[0]!.message}` } : {}),
      placed: design.sharedRegionAlign !== undefined,
    },
    vmpte,
  };
}

/**
 * Per process: the prediction beside the kernel's figure, and what the capture could not replay.
 * `predicted`: the VmPTE of each replayed process under PREDICTION_DESIGN (replay()'s vmpte), when
 * the caller has it already.
 */
export function predictProcesses(c: Captured, kernel: KernelConfig, command: string, predicted?: Map<string, number>): ProcessFigures[] {
  const vmpte = predicted ?? replay(c, designByName(PREDICTION_DESIGN), kernel, command).vmpte;
  const { notes } = scenarioFor(c, command);
  const noted = (pid: number, what: CaptureNote['what']) => notes.filter((n) => n.pid === pid && n.what === what).reduce((a, n) => a + n.bytes, 0);
  return c.processes.map((p) => ({
    pid: p.pid, comm: p.comm, ppid: p.ppid,
    predictedVmpteBytes: vmpte.get(procName(p))!, actualVmpteBytes: p.actualVmPTEBytes,
    mappings: p.vmas.length,
    presentPages: p.vmas.reduce((a, v) => a + v.runs.present, 0),
    swappedPages: p.vmas.reduce((a, v) => a + v.runs.swapped, 0),
    markerEntries: p.vmas.reduce((a, v) => a + v.runs.markers, 0),
    thpPmdBytes: p.vmas.reduce((a, v) => a + v.thpPmdBytes, 0),
    pfnmapBytes: noted(p.pid, 'pfnmap'),
    privateHugetlbBytes: noted(p.pid, 'private-hugetlb'),
  }));
}
