/**
 * What a materialized run of a timeline can need, worked out before it starts, for sizing its
 * simulated machine and for refusing, in one line, a timeline too large to simulate.
 *
 * Tables are bounded from the windows each process group touches or write-protects (not from what it
 * only maps, so a captured process with large reservations stays small): the distinct 2 MiB windows
 * (one PTE table each), 1 GiB windows (PMD tables), 512 GiB windows (PUD tables) and 256 TiB windows
 * (P4D tables), as sets, so touches that land in the same window count it once. A random or Zipf
 * touch of `count` pages of a range touches at most min(count, windows in the range) windows at each
 * level: all of them when count reaches that, else `count` more (which pages they are is not drawn
 * here). A mapping of an object adds one table per level (allocated at mmap by ptshare); each
 * group adds 8 for its root. A forked group starts with its
 * parent's windows. Every object's host gets tables for all of it, twice.
 *
 * Frames: a page per touched page per process and per object page. VMAs: the most that are alive at
 * once (a fork copies its parent's), which live on the JavaScript heap, not in the typed arrays.
 */
import { TABLE_SPAN } from '../arch/pgtable_64_types.js';
import type { Timeline } from './timeline.js';

/** What one table covers at the PTE, PMD, PUD and P4D levels (a table per window of that span). */
const SPANS = TABLE_SPAN.slice(0, 4);
/** Above this many windows at one level a range is counted, not listed (a 128 TiB uffd-wp range has 2^26). */
const MAX_LISTED = 2 ** 20;

interface Footprint {
  /** Per level (PTE, PMD, PUD, P4D): the windows touched. */
  sets: Array<Set<number>>;
  /** Tables counted without a window (sparse touches, huge ranges, mapping edges). */
  extra: number;
  vmas: number;
  /** The sets are another group's too (after fork): copy before changing them. */
  shared: boolean;
  count: number;
}

export interface TimelineBounds {
  tablePages: number;
  frames: number;
  /** The most VMAs alive at once, over every process. */
  vmas: number;
}

function own(f: Footprint): void {
  if (!f.shared) return;
  f.sets = f.sets.map((s) => new Set(s));
  f.shared = false;
}

/** Add the windows [start, start + len) covers at every level; with `count`, at most `count` pages of it are touched. */
function addRange(f: Footprint, start: number, len: number, count = Infinity): void {
  if (len <= 0) return;
  own(f);
  SPANS.forEach((span, level) => {
    const first = Math.floor(start / span);
    const last = Math.floor((start + len - 1) / span);
    const windows = last - first + 1;
    if (count < windows) f.extra += count;
    else if (windows > MAX_LISTED) f.extra += windows;
    else for (let w = first; w <= last; w++) f.sets[level]!.add(w);
  });
}

function tablesOf(f: Footprint): number {
  return f.sets.reduce((n, s) => n + s.size, 0) + f.extra + 8;
}

export function timelineBounds(t: Timeline): TimelineBounds {
  const groups = new Map<string, Footprint>();
  let tables = 64;
  let frames = 64;
  let liveVmas = 0;
  let maxVmas = 0;
  for (const o of Object.values(t.objects)) {
    frames += Math.ceil(o.size / 4096);
    tables += 2 * (SPANS.reduce((n, span) => n + Math.ceil(o.size / span), 0) + 8);
  }
  // Tables of groups that exited still count: a later group may reuse them, but the pool is sized once.
  let exited = 0;
  for (const s of t.timeline) {
    switch (s.op) {
      case 'spawn':
        groups.set(s.name, { sets: SPANS.map(() => new Set<number>()), extra: 0, vmas: 0, shared: false, count: s.count });
        break;
      case 'fork': {
        const p = groups.get(s.proc)!;
        p.shared = true;
        groups.set(s.name, { sets: p.sets, extra: p.extra, vmas: p.vmas, shared: true, count: s.count });
        liveVmas += s.count * p.vmas;
        break;
      }
      case 'mmap': {
        // Tables come from touches (the window sets); a mapping of an object may also have tables
        // allocated at mmap (ptshare links the host's PMD table under a PUD table of its own): one per level.
        const p = groups.get(s.proc)!;
        if (s.object !== undefined) p.extra += SPANS.length;
        p.vmas += 1;
        liveVmas += p.count;
        break;
      }
      case 'mprotect': case 'munmap': {
        // A split makes up to two more VMAs per process.
        const p = groups.get(s.proc)!;
        p.vmas += 2;
        liveVmas += 2 * p.count;
        break;
      }
      case 'uffd-wp':
        addRange(groups.get(s.proc)!, s.addr, s.length);
        break;
      case 'touch': {
        const p = groups.get(s.proc)!;
        if (s.pattern === 'pages') {
          let pages = 0;
          for (const [first, n] of s.pages!) {
            addRange(p, s.addr + first * 4096, n * 4096);
            pages += n;
          }
          // A hugetlb run's pages are the object's (counted above); a table bound in 4 KiB units covers its PMD tables too.
          frames += p.count * pages;
        } else {
          const n = Math.ceil(s.length / 4096);
          const count = Math.max(1, Math.round(n * s.fraction));
          if (s.pattern === 'sequential') addRange(p, s.addr, count * 4096);
          else addRange(p, s.addr, s.length, count);
          frames += p.count * count;
        }
        break;
      }
      case 'exit': {
        const p = groups.get(s.proc)!;
        exited += p.count * tablesOf(p);
        liveVmas -= p.count * p.vmas;
        groups.delete(s.proc);
        break;
      }
      default:
        break;
    }
    if (liveVmas > maxVmas) maxVmas = liveVmas;
  }
  for (const p of groups.values()) tables += p.count * tablesOf(p);
  return { tablePages: tables + exited, frames, vmas: maxVmas };
}
