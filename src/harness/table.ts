/** Tables the harness prints: the scaling table of the simulated CPUs (measured rates, simulated counts). */
import { int, plainTable } from '../lib/format.js';
import type { LockClassStat } from '../mm/spinlock.js';

export interface SmpRow {
  design: string;
  cpus: number;
  /**
   * Measured, median round: the simulated CPUs' running time (first start after the barrier to last
   * finish) and the accesses/s it gives; harnessMs, the harness's own part of the round (piscina
   * dispatch, waking the threads, returning and folding their counters), not in accessesPerSec.
   */
  runMs: number;
  accessesPerSec: number;
  harnessMs: number;
  /**
   * Measured: the speedup over 1 CPU, paired: the median over rounds of the 1-CPU round's time over the
   * N-CPU round run right after it (null without 1-CPU rounds). The host's speed drifts (by up to 2x
   * over seconds on the 2-core VM), and a paired ratio sees both rounds in the same state.
   */
  speedup: number | null;
  /** Measured: accesses/s over the 1-CPU row's accesses/s (the unpaired ratio of the two medians). */
  speedupOfMedians?: number | null;
  /**
   * Measured: what the host gave this many threads in the same turns, with work that shares nothing
   * (src/smp/host_control.ts): the median over turns of N x the 1-thread time over the N-thread time.
   */
  hostSpeedup?: number | null;
  accesses: number;
  /** Simulated: faults and page-table pages of the median round. */
  faults: number;
  tablePages: number;
  /** Lock statistics of the median round per class (acquisitions counted, waits measured). */
  locks: Record<string, LockClassStat>;
  /** --check: the accounting equalled the single-threaded run in every round (null: not checked). */
  equalsSingleThreaded: boolean | null;
}

/** The lock class with the most contended acquisitions, as "name contended/acquisitions". */
export function hottestLock(locks: Record<string, LockClassStat>): string {
  let best: [string, LockClassStat] | null = null;
  for (const e of Object.entries(locks)) if (best === null || e[1].contended > best[1].contended) best = e;
  return best === null || best[1].contended === 0 ? 'none contended' : `${best[0]} ${int(best[1].contended)}/${int(best[1].acquisitions)}`;
}

export function totalWaitMs(locks: Record<string, LockClassStat>): number {
  return Object.values(locks).reduce((a, l) => a + l.waitMs, 0);
}

/** The scaling table both `ptbench smp` and `ptbench bench --suite scaling` print. */
export function renderScalingTable(rows: SmpRow[]): string {
  const t = plainTable(['design', 'CPUs', 'accesses/s (measured)', 'speedup', 'host control', 'harness ms (measured)', 'faults', 'table pages', 'lock acquisitions', 'contended (hottest lock)', 'lock wait ms (measured)'],
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'right']);
  for (const r of rows) {
    const acq = Object.values(r.locks).reduce((a, l) => a + l.acquisitions, 0);
    t.push([r.design, String(r.cpus), `${(r.accessesPerSec / 1e6).toFixed(2)} M`, r.speedup === null ? '-' : `${r.speedup.toFixed(2)}x`, r.hostSpeedup == null ? '-' : `${r.hostSpeedup.toFixed(2)}x`, r.harnessMs.toFixed(2), int(r.faults), int(r.tablePages), int(acq), hottestLock(r.locks), totalWaitMs(r.locks).toFixed(2)]);
  }
  return t.toString();
}
