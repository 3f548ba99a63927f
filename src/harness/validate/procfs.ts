/**
 * What `ptbench validate` reads and writes in /proc: PageTables from /proc/meminfo (after folding the
 * per-CPU vmstat deltas with /proc/sys/vm/stat_refresh where permitted), and the hugetlb pool size
 * (/proc/sys/vm/nr_hugepages), reserved for a scenario and put back as found.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** A field of /proc/meminfo: bytes for fields in kB (1,024 bytes), else the plain count (HugePages_Free). */
export function meminfo(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)( kB)?$`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'));
  if (!m) throw new Error(`/proc/meminfo has no ${field} line`);
  return Number(m[1]) * (m[2] !== undefined ? 1024 : 1);
}

/**
 * Fold the per-CPU vmstat differentials into the global counters (NR_PAGETABLE drifts by up to the
 * stat threshold per CPU otherwise). Returns null when done, or why it could not be (not root).
 */
export function statRefresh(): string | null {
  try {
    writeFileSync('/proc/sys/vm/stat_refresh', '1');
    return null;
  } catch (e) {
    return `/proc/sys/vm/stat_refresh: ${(e as NodeJS.ErrnoException).code ?? 'failed'} (per-CPU counter drift not folded)`;
  }
}

/** VmPTE of process `pid` in bytes (/proc/PID/status, kB), or NaN when it is gone. */
export function vmPTEOf(pid: number): number {
  try {
    const m = /^VmPTE:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** PageTables in bytes, after stat_refresh. */
export function pageTablesBytes(): number {
  statRefresh();
  return meminfo('PageTables');
}

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';

/**
 * Make `pages` free 2 MiB hugepages available. Returns the setting to restore (the value found), or
 * a reason string when it cannot (not root, memory too fragmented, hugetlb not available).
 */
export function reserveHugepages(pages: number): { restore: number } | { skip: string } {
  let found: number;
  try {
    found = Number(readFileSync(NR_HUGEPAGES, 'utf8').trim());
  } catch (e) {
    return { skip: `${NR_HUGEPAGES}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'} (no hugetlb support)` };
  }
  const free = meminfo('HugePages_Free');
  if (free >= pages) return { restore: found };
  try {
    writeFileSync(NR_HUGEPAGES, String(found + (pages - free)));
  } catch (e) {
    return { skip: `cannot reserve ${pages} hugepages: writing ${NR_HUGEPAGES} failed with ${(e as NodeJS.ErrnoException).code ?? 'an error'} (needs root)` };
  }
  const got = meminfo('HugePages_Free');
  if (got < pages) {
    restoreHugepages(found);
    return { skip: `asked the kernel for ${pages} free 2 MiB hugepages and got ${got} (memory too fragmented or too small)` };
  }
  return { restore: found };
}

export function restoreHugepages(value: number): void {
  try {
    if (Number(readFileSync(NR_HUGEPAGES, 'utf8').trim()) !== value) writeFileSync(NR_HUGEPAGES, String(value));
  } catch { /* best effort; reported by the caller's check */ }
}

export function hugepagesSetting(): number | null {
  try {
    return Number(readFileSync(NR_HUGEPAGES, 'utf8').trim());
  } catch {
    return null;
  }
}
