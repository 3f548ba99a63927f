/**
 * The reclaim and pagemap experiment (`ptbench reclaim`, the state bench tasks): `procs` processes map
 * `size` bytes of shmem the way the design maps it and write every page; then the first `pages` pages
 * are reclaimed (rmap walk, entries cleared, TLB flushes), process 0 reads its pagemap over them (under
 * the chosen variant for swapped shmem), and process 0 reads every reclaimed page back (swap-in).
 * Every figure is a simulated, deterministic count.
 */
import { pagemap_count_swapped } from '../mm/pagemap.js';
import type { ShmemSwapReport } from '../mm/machine_types.js';
import type { ReclaimResult } from '../mm/vmscan.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { runSga, teardownSga, type SgaResult } from './sga.js';
import { UsageError } from '../lib/errors.js';
import type { KernelConfig } from '../mm/kernel_profile.js';

export interface ReclaimExperimentSpec {
  design: PtShareDesign;
  procs: number;
  /** Bytes of shmem, a multiple of 4 KiB. */
  size: number;
  /** Pages reclaimed, from the start of the file. */
  pages: number;
  shmemSwapReport?: ShmemSwapReport;
  /** The kernel simulated (default kernelConfig()). */
  kernel?: KernelConfig;
}

export interface ReclaimReport {
  design: string;
  procs: number;
  size: number;
  variant: ShmemSwapReport;
  /** Summed over the reclaimed pages (vmscan.ts ReclaimResult). */
  reclaim: ReclaimResult & { pagesReclaimed: number };
  /** Process 0's pagemap over the reclaimed pages. */
  pagemap: { entries: number; reportedSwapped: number; lookups: number };
  /** Process 0 reads the reclaimed pages back. */
  refault: { swapIns: number; majorFaults: number; markerFaults: number };
}

/** Build the workload (not counted in anything the experiment reports). */
export function buildReclaimWorkload(s: ReclaimExperimentSpec): SgaResult {
  if (!Number.isInteger(s.procs) || s.procs < 1) throw new UsageError(`--procs: must be a whole number >= 1, got ${s.procs}`);
  if (!Number.isInteger(s.size) || s.size <= 0 || s.size % 4096 !== 0) throw new UsageError(`--size: must be a positive multiple of 4096 bytes, got ${s.size}`);
  if (!Number.isInteger(s.pages) || s.pages < 1 || s.pages > s.size / 4096) throw new UsageError(`--pages: must be a whole number from 1 to ${s.size / 4096} (the pages of --size), got ${s.pages}`);
  return runSga({ design: s.design, procs: s.procs, size: s.size, kind: 'shmem', page: '4k', offset: 0, touch: 'all', write: true, levels: 4, shmemSwapReport: s.shmemSwapReport, kernel: s.kernel });
}

/** Reclaim pages [0, pages) of the workload's shmem file; returns the summed results. */
export function reclaimPages(r: SgaResult, pages: number): ReclaimReport['reclaim'] {
  const m = r.machine;
  const file = m.files.find((f) => f !== undefined && f.kind === 'shmem')!;
  const out = { pagesReclaimed: 0, vmasVisited: 0, tablesVisited: 0, entriesCleared: 0, markers: 0, flushes: 0, ipis: 0 };
  for (let p = 0; p < pages; p++) {
    const x = m.reclaim_shmem_page(file, p);
    out.pagesReclaimed++;
    out.vmasVisited += x.vmasVisited;
    out.tablesVisited += x.tablesVisited;
    out.entriesCleared += x.entriesCleared;
    out.markers += x.markers;
    out.flushes += x.flushes;
    out.ipis += x.ipis;
  }
  return out;
}

export function runReclaimExperiment(s: ReclaimExperimentSpec): ReclaimReport {
  const r = buildReclaimWorkload(s);
  const m = r.machine;
  try {
    const reclaim = reclaimPages(r, s.pages);
    const mm0 = r.mms[0]!;
    const ev = m.events;
    const buf = new Uint32Array(2 * s.pages);
    const l0 = ev.pagemapLookups;
    const entries = m.pagemap_range(mm0, r.addr, r.addr + s.pages * 4096, buf);
    const pagemap = { entries, reportedSwapped: pagemap_count_swapped(buf, entries), lookups: ev.pagemapLookups - l0 };
    const in0 = ev.pswpin;
    const maj0 = ev.pgmajfault;
    const mk0 = ev.pteMarkerFaults;
    for (let p = 0; p < s.pages; p++) m.read(mm0, r.addr + p * 4096);
    const refault = { swapIns: ev.pswpin - in0, majorFaults: ev.pgmajfault - maj0, markerFaults: ev.pteMarkerFaults - mk0 };
    return { design: s.design.name, procs: s.procs, size: s.size, variant: m.shmemSwapReport, reclaim, pagemap, refault };
  } finally {
    const leaks = teardownSga(r);
    // A leak is a model bug worth more than the error in flight (there is none when the run succeeded).
    // eslint-disable-next-line no-unsafe-finally
    if (leaks.length > 0) throw new Error(`BUG: reclaim experiment left ${leaks.join('; ')}`);
  }
}
