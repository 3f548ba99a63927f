/**
 * The counting engine: the exact page-table memory of a scenario without building the tables.
 *
 * A table at level L exists in an mm for every window of TABLE_SPAN[L] bytes (2 MiB for a PTE table,
 * 1 GiB for a PMD table, 512 GiB for a PUD table, 256 TiB for a P4D table) that holds a touched page
 * whose walk reaches that level, plus the root (pgd_alloc at mm creation). Tables are never allocated
 * for untouched windows (the fault path allocates on the way down; see src/mm/memory.ts). So counting
 * is interval arithmetic: sort the touched ranges, count the distinct windows they meet at each level.
 *
 * A design changes only where the tables come from (PtShareDesign.countRoutes): below a route's
 * `ownFrom` level the mm links one table per window from a holder (a host mm, or the first sharer for
 * hugetlb PMD sharing). The linked table counts once in each linking mm (its VmPTE, as hugetlb's
 * mm_inc_nr_pmds on share) and once machine-wide, in its holder. Cost: O(R log R) for R touched
 * ranges over all process groups — independent of bytes mapped and of how many processes a group has.
 */
import { TABLE_SPAN } from '../arch/pgtable_64_types.js';
import { countsFromLevels, mmCountsOf, tableBytes, totalTables } from '../mm/accounting.js';
import { kernelConfig } from '../mm/kernel_profile.js';
import type { CountRoute } from '../mm/pt_share.js';
import { pageBytes, planScenario, pushRun, type Scenario, type ScenarioCounts, type ScenarioPlan } from './scenario.js';

type Interval = [number, number];

/** Distinct windows of `span` bytes met by the intervals (sorted here). */
export function windowsMet(intervals: Interval[], span: number): number {
  intervals.sort((a, b) => a[0] - b[0]);
  let n = 0;
  let last = -1;
  for (const [s, e] of intervals) {
    let w0 = Math.floor(s / span);
    const w1 = Math.floor((e - 1) / span);
    if (w0 <= last) w0 = last + 1;
    if (w1 >= w0) n += w1 - w0 + 1;
    if (w1 > last) last = w1;
  }
  return n;
}

/** Bytes covered by the union of the intervals (sorted here). */
export function unionBytes(intervals: Interval[]): number {
  intervals.sort((a, b) => a[0] - b[0]);
  let n = 0;
  let end = -Infinity;
  for (const [s, e] of intervals) {
    if (e <= end) continue;
    n += e - Math.max(s, end);
    end = e;
  }
  return n;
}

/**
 * Windows whose total weight reaches `threshold`, given weighted runs of window indices [w0, w1]
 * (each run already free of repeats within one linking VMA).
 */
export function windowsWeighted(runs: Array<[number, number, number]>, threshold: number): number {
  const ev: Array<[number, number]> = [];
  for (const [w0, w1, wt] of runs) ev.push([w0, wt], [w1 + 1, -wt]);
  ev.sort((a, b) => a[0] - b[0]);
  let n = 0;
  let cur = 0;
  for (let i = 0; i < ev.length; i++) {
    cur += ev[i]![1];
    const next = ev[i + 1];
    if (next !== undefined && cur >= threshold) n += next[0] - ev[i]![0];
  }
  return n;
}

/** Merge the window-index runs of one VMA's touched ranges at `span`. */
function windowRuns(intervals: Interval[], span: number): Array<[number, number]> {
  intervals.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of intervals) {
    const w0 = Math.floor(s / span);
    const w1 = Math.floor((e - 1) / span);
    const last = out[out.length - 1];
    if (last && w0 <= last[1] + 1) last[1] = Math.max(last[1], w1);
    else out.push([w0, w1]);
  }
  return out;
}

interface Holder {
  kind: 'mm' | 'sharers';
  exists: boolean;
  link: number;
  /** Touched ranges in the holder's address space, by the lowest level they have tables at. */
  rangesFrom: Interval[][];
  /** Per linked level: weighted window runs (weight = mms linking). */
  links: Map<number, Array<[number, number, number]>>;
}

export function countScenario(sc: Scenario): ScenarioCounts {
  return countPlan(planScenario(sc));
}

export function countPlan(plan: ScenarioPlan): ScenarioCounts {
  const root = plan.rootLevel;
  const levels = plan.scenario.levels;
  const pgdBytes = (plan.scenario.kernel ?? kernelConfig()).pgdBytes;
  const machineNr = new Array<number>(levels).fill(0);
  const holders = new Map<string, Holder>();
  const holder = (name: string, kind: Holder['kind']): Holder => {
    let h = holders.get(name);
    if (!h) holders.set(name, (h = { kind, exists: false, link: 0, rangesFrom: [], links: new Map() }));
    return h;
  };
  const objectRanges = new Map<number, Interval[]>();
  let anonPages = 0;
  const processes: ScenarioCounts['processes'] = [];

  for (const g of plan.groups) {
    for (const name of g.hostsAtMmap) holder(name, 'mm').exists = true;
    const nr = new Array<number>(levels).fill(0);
    nr[root] = 1;
    for (let l = 0; l < root; l++) {
      nr[l] = windowsMet(g.touches.filter((t) => t.route.ownFrom <= l).map((t) => [t.s, t.e]), TABLE_SPAN[l]!);
    }
    for (let l = 0; l < levels; l++) machineNr[l]! += g.count * nr[l]!;
    // Linked tables: once per window in this mm; the tables themselves belong to their holders. A
    // link made at mmap stands as a one-byte touch at the route's start whose holder has tables from
    // the linked level up only.
    const perVma = new Map<string, { h: Holder; link: number; ranges: Interval[] }>();
    const byLink: Interval[][] = Array.from({ length: root }, () => []);
    const link = (s: number, e: number, r: CountRoute, from: number): void => {
      const h = holder(r.host, r.holder);
      h.exists = true;
      h.link = r.link;
      (h.rangesFrom[from] ??= []).push([s + r.delta, e + r.delta]);
      byLink[r.link]!.push([s, e]);
      const key = `${r.host}@${r.start}`;
      let v = perVma.get(key);
      if (!v) perVma.set(key, (v = { h, link: r.link, ranges: [] }));
      v.ranges.push([s + r.delta, e + r.delta]);
    };
    for (const t of g.touches) if (t.route.link >= 0) link(t.s, t.e, t.route, t.leaf);
    for (const r of g.mmapLinks) link(r.start, r.start + 1, r, r.link);
    let linked = 0;
    for (let l = 0; l < root; l++) {
      const n = byLink[l]!.length === 0 ? 0 : windowsMet(byLink[l]!, TABLE_SPAN[l]!);
      nr[l]! += n;
      if (l <= 2) linked += n;
    }
    for (const v of perVma.values()) {
      let runs = v.h.links.get(v.link);
      if (!runs) v.h.links.set(v.link, (runs = []));
      for (const [w0, w1] of windowRuns(v.ranges, TABLE_SPAN[v.link]!)) runs.push([w0, w1, g.count]);
    }
    pushRun(processes, g.count * g.tasks, mmCountsOf(levels, nr, pgdBytes, plan.scenario.design.linksInVmPTE === false ? linked : 0));
    // Folios: page-cache pages once per object; anonymous pages written, once per mm.
    const anon: Interval[] = [];
    for (const t of g.touches) {
      if (t.object < 0) {
        if (t.write) anon.push([t.s, t.e]);
        continue;
      }
      let rs = objectRanges.get(t.object);
      if (!rs) objectRanges.set(t.object, (rs = []));
      rs.push([t.fileOffset, t.fileOffset + (t.e - t.s)]);
    }
    anonPages += g.count * (unionBytes(anon) / 4096);
  }

  let shared = 0;
  for (const h of holders.values()) {
    if (h.kind === 'mm') {
      if (!h.exists) continue;
      machineNr[root]! += 1;
      // A table at level l exists over every range whose tables reach down to l or below.
      let upTo: Interval[] = [];
      for (let l = 0; l < root; l++) {
        const at = h.rangesFrom[l];
        if (at !== undefined) upTo = upTo.length === 0 ? at : upTo.concat(at);
        if (upTo.length > 0) machineNr[l]! += windowsMet(upTo, TABLE_SPAN[l]!);
      }
    } else {
      machineNr[h.link]! += windowsMet(h.rangesFrom.flatMap((x) => x ?? []), TABLE_SPAN[h.link]!);
    }
    // pt_share_count > 0: a host's table linked by any mm; a sharers' table linked by a second one.
    for (const runs of h.links.values()) shared += windowsWeighted(runs, h.kind === 'mm' ? 1 : 2);
  }

  let folios = anonPages;
  let framePages = anonPages;
  for (const [obj, rs] of objectRanges) {
    const pb = pageBytes(plan.scenario.objects[obj]!.page);
    const pages = unionBytes(rs) / pb;
    folios += pages;
    framePages += pages * (pb / 4096);
  }
  const tables = countsFromLevels(levels, (l) => machineNr[l]!);
  const tablePages = totalTables(tables);
  return { tables, tablePages, pageTableBytes: tableBytes(tables, pgdBytes), sharedTables: shared, folios, framePages, processes };
}
