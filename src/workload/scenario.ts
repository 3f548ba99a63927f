/**
 * A scenario: shared objects, and groups of identical processes that map them (or private anonymous
 * memory) at given addresses and touch given ranges. Both engines take it: `materializeScenario`
 * builds it on the page-table machine; `countScenario` (src/workload/pgtable_count.ts) computes the same
 * table counts by interval arithmetic. `planScenario` validates it and asks the design how every
 * mapping gets its tables (PtShareDesign.countRoutes), so both engines refuse the same layouts.
 */
import { type PagingLevels, pagingMode, TABLE_SPAN } from '../arch/pgtable_64_types.js';
import { machineAccounting, mmAccounting, totalTables, type MmCounts, type TableCounts } from '../mm/accounting.js';
import type { AddressSpace } from '../mm/address_space.js';
import { Machine } from '../mm/machine.js';
import type { MmStruct } from '../mm/mm_types.js';
import type { ShmemSwapReport } from '../mm/machine_types.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import { privateRoutes, type CountMapping, type CountRoute, type PtShareDesign } from '../mm/pt_share.js';
import { UsageError } from '../lib/errors.js';
import type { KernelConfig } from '../mm/kernel_profile.js';
import { hex } from '../lib/format.js';

export type RegionKind = 'shmem' | 'anon' | 'file' | 'hugetlb';
export type PageSize = '4k' | '2m' | '1g';

export interface ScenarioObject {
  kind: 'shmem' | 'file' | 'hugetlb';
  /** 4k for shmem and files; 2m or 1g for hugetlb. */
  page: PageSize;
  /** i_size in bytes (a multiple of the page size for hugetlb). */
  size: number;
}

export interface ScenarioMapping {
  /** Index into Scenario.objects (MAP_SHARED), or -1 for private anonymous memory (4 KiB pages). */
  object: number;
  addr: number;
  len: number;
  /** File offset in bytes (0 for anonymous memory). */
  offset: number;
  /** Byte ranges [start, end) relative to addr that the process accesses, page by page. */
  touch: Array<[number, number]>;
  /** Write accesses (true) or read accesses. */
  write: boolean;
}

export interface ScenarioGroup {
  /** Number of identical processes. */
  count: number;
  maps: ScenarioMapping[];
}

export interface Scenario {
  design: PtShareDesign;
  levels: PagingLevels;
  objects: ScenarioObject[];
  groups: ScenarioGroup[];
  faultAroundBytes?: number;
  /** Simulated CPUs of the machine (TLB-flush targets, the TLB model). Default 2. */
  cpus?: number;
  /** The pagemap variant for swapped shmem (MachineOptions.shmemSwapReport). Default 'none'. */
  shmemSwapReport?: ShmemSwapReport;
  /** The kernel simulated (MachineOptions.kernel). Default kernelConfig(). */
  kernel?: KernelConfig;
}

export function pageBytes(page: PageSize): number {
  return page === '4k' ? 4096 : page === '2m' ? 2 ** 21 : 2 ** 30;
}

const LEAF: Record<PageSize, number> = { '4k': 0, '2m': 1, '1g': 2 };

/** Touched pages of one route: [s, e) addresses in the process. */
export interface PlannedTouch {
  s: number;
  e: number;
  route: CountRoute;
  /** The object (-1: anonymous), its leaf level, the file offset of s, and whether written. */
  object: number;
  leaf: number;
  fileOffset: number;
  write: boolean;
}

/** A group of identical mms (under `threads`: the one mm, whose tasks are all the processes). */
export interface PlannedMmGroup {
  /** mms in the group. */
  count: number;
  /** Processes each mm stands for (1, or every process under `threads`). */
  tasks: number;
  touches: PlannedTouch[];
  /** Route identities reached by each mapping (hosts that exist from mmap on). */
  hostsAtMmap: string[];
  /** Routes whose first window is linked at mmap, touched or not (CountRoute.linkAtMmap). */
  mmapLinks: CountRoute[];
}

export interface ScenarioPlan {
  scenario: Scenario;
  rootLevel: number;
  processes: number;
  groups: PlannedMmGroup[];
}


function objectPage(o: ScenarioObject): number {
  return pageBytes(o.page);
}

/** Validate a scenario and route every mapping through the design; throws UsageError naming the problem. */
export function planScenario(sc: Scenario): ScenarioPlan {
  const mode = pagingMode(sc.levels);
  const d = sc.design;
  sc.objects.forEach((o, i) => {
    if (o.kind !== 'shmem' && o.kind !== 'file' && o.kind !== 'hugetlb') throw new UsageError(`object ${i}: kind '${String(o.kind)}' is not one of shmem, file, hugetlb`);
    if ((o.kind === 'hugetlb') !== (o.page !== '4k')) throw new UsageError(`object ${i}: ${o.kind} has ${o.kind === 'hugetlb' ? '2m or 1g' : '4k'} pages, not ${o.page}`);
    if (!Number.isInteger(o.size) || o.size <= 0) throw new UsageError(`object ${i}: size must be a whole number of bytes > 0, got ${o.size}`);
    if (o.kind === 'hugetlb' && o.size % objectPage(o) !== 0) throw new UsageError(`object ${i}: a hugetlbfs size must be a multiple of its ${o.page} page size, got ${o.size}`);
  });
  let processes = 0;
  for (const g of sc.groups) {
    if (!Number.isInteger(g.count) || g.count < 1) throw new UsageError(`--procs: a process count must be a whole number >= 1, got ${g.count}`);
    processes += g.count;
  }
  if (processes === 0) throw new UsageError('--procs: a scenario needs at least one process, got 0');
  const checked = new Set<number>();
  const first = new Map<number, CountMapping>();
  const planGroup = (g: ScenarioGroup, gi: number): { touches: PlannedTouch[]; hostsAtMmap: string[]; mmapLinks: CountRoute[] } => {
    const touches: PlannedTouch[] = [];
    const hostsAtMmap: string[] = [];
    const mmapLinks: CountRoute[] = [];
    const footprints: Array<[number, number]> = [];
    for (const [mi, mp] of g.maps.entries()) {
      const where = `process group ${gi}, mapping ${mi}`;
      const o = mp.object >= 0 ? sc.objects[mp.object] : undefined;
      if (mp.object !== -1 && o === undefined) throw new UsageError(`${where}: no object ${mp.object} (the scenario has ${sc.objects.length})`);
      const pb = o ? objectPage(o) : 4096;
      const leaf = o ? LEAF[o.page] : 0;
      for (const [name, v] of [['address', mp.addr], ['length', mp.len], ['offset', mp.offset]] as const) {
        if (!Number.isInteger(v) || v < 0 || v % pb !== 0) throw new UsageError(`${where}: the ${name} ${v} is not a non-negative multiple of the ${pb}-byte page size`);
      }
      if (mp.len === 0) throw new UsageError(`${where}: the length must be > 0`);
      if (o === undefined && mp.offset !== 0) throw new UsageError(`${where}: anonymous memory has no file offset, got ${mp.offset}`);
      // A mapping may run past EOF (mmap allows it); an access there would be SIGBUS, so touches may not.
      const eof = o === undefined ? mp.len : Math.min(mp.len, Math.ceil(o.size / pb) * pb - mp.offset);
      for (const [s, e] of mp.touch) {
        if (!(Number.isInteger(s) && Number.isInteger(e) && s >= 0 && s < e && e <= eof && s % pb === 0 && e % pb === 0)) {
          throw new UsageError(`${where}: the touched range [${s}, ${e}) must be non-empty, inside the mapping and the object ([0, ${Math.max(0, eof)})) and page-aligned (${pb} bytes)`);
        }
      }
      let routes: CountRoute[];
      let footprint: [number, number];
      if (o === undefined) {
        routes = privateRoutes({ start: mp.addr, end: mp.addr + mp.len, leaf: 0 });
        footprint = [mp.addr, mp.addr + mp.len];
      } else {
        if (!checked.has(mp.object)) {
          const refusal = d.checkScenario?.({ kind: o.kind, page: o.page }) ?? null;
          if (refusal !== null) throw new UsageError(`--design ${d.name}: ${refusal}`);
          checked.add(mp.object);
        }
        const cm: CountMapping = { object: mp.object, kind: o.kind, leaf, start: mp.addr, end: mp.addr + mp.len, offset: mp.offset };
        const creator = !first.has(mp.object);
        if (creator) first.set(mp.object, cm);
        ({ routes, footprint } = d.countRoutes(cm, first.get(mp.object)!, creator));
      }
      if (footprint[1] > mode.taskSize || mp.addr < 65536) {
        const more = sc.levels === 4 ? '; 5-level paging (--levels 5) has 2^56' : '';
        throw new UsageError(`${where}: ${hex(footprint[0])}-${hex(footprint[1])} does not fit in the ${sc.levels}-level user address space (64 KiB to ${hex(mode.taskSize)})${more}`);
      }
      footprints.push(footprint);
      for (const r of routes) {
        if (r.link >= 0 && r.hostAt === 'mmap' && r.holder === 'mm' && !hostsAtMmap.includes(r.host)) hostsAtMmap.push(r.host);
        if (r.linkAtMmap === true) mmapLinks.push(r);
        for (const [s, e] of mp.touch) {
          const ts = Math.max(mp.addr + s, r.start);
          const te = Math.min(mp.addr + e, r.end);
          if (ts < te) touches.push({ s: ts, e: te, route: r, object: mp.object, leaf, fileOffset: mp.offset + (ts - mp.addr), write: mp.write });
        }
      }
    }
    footprints.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < footprints.length; i++) {
      if (footprints[i]![0] < footprints[i - 1]![1]) {
        throw new UsageError(`process group ${gi}: mappings overlap at ${hex(footprints[i]![0])} (${hex(footprints[i - 1]![0])}-${hex(footprints[i - 1]![1])} and ${hex(footprints[i]![0])}-${hex(footprints[i]![1])})${d.name.startsWith('mshare') ? '; under mshare each object takes a whole 512 GiB-aligned region' : ''}`);
      }
    }
    // A link made at mmap goes into an empty entry only (ptshare_copy_pmd()); another mapping of the
    // same mm in that table's span may fill it first or fault through the linked table, which only
    // the materialized machine follows.
    for (const r of mmapLinks) {
      const span = TABLE_SPAN[r.link]!;
      const w = Math.floor(r.start / span);
      const others = footprints.filter(([s, e]) => Math.floor(s / span) <= w && Math.floor((e - 1) / span) >= w);
      if (others.length > 1) throw new UsageError(`process group ${gi}: another mapping shares the ${span / 2 ** 30} GiB at ${hex(w * span)} where --design ${d.name} links a table at mmap; the counting engine cannot follow that layout (materialize it)`);
    }
    return { touches, hostsAtMmap, mmapLinks };
  };
  let groups: PlannedMmGroup[];
  if (d.mmPerProcess) {
    groups = [];
    for (const [gi, g] of sc.groups.entries()) {
      // Under a design whose first mapping of an object differs, the group's first process (the
      // object's creator) is a group of its own.
      if (d.creatorRoutes === true && g.count > 1 && g.maps.some((mp) => mp.object >= 0 && !first.has(mp.object))) {
        groups.push({ count: 1, tasks: 1, ...planGroup(g, gi) });
        groups.push({ count: g.count - 1, tasks: 1, ...planGroup(g, gi) });
      } else {
        groups.push({ count: g.count, tasks: 1, ...planGroup(g, gi) });
      }
    }
  } else {
    // threads: the processes are tasks of one mm, so they must agree on its mappings.
    const key = (g: ScenarioGroup) => JSON.stringify(g.maps.map((x) => [x.object, x.addr, x.len, x.offset]));
    const k0 = key(sc.groups[0]!);
    sc.groups.forEach((g, gi) => {
      if (key(g) !== k0) throw new UsageError(`--design ${d.name}: the processes are threads of one mm, so every process group must map the same things at the same addresses (group ${gi} differs from group 0)`);
    });
    const parts = sc.groups.map((g, gi) => planGroup(g, gi));
    groups = [{ count: 1, tasks: processes, touches: parts.flatMap((p) => p.touches), hostsAtMmap: parts[0]!.hostsAtMmap, mmapLinks: parts[0]!.mmapLinks }];
  }
  return { scenario: sc, rootLevel: mode.rootLevel, processes, groups };
}

/** What both engines report for a scenario. */
export interface ScenarioCounts {
  /** Distinct table pages machine-wide by level (each shared table once; host mms included). */
  tables: TableCounts;
  tablePages: number;
  pageTableBytes: number;
  /** Tables with pt_share_count > 0. */
  sharedTables: number;
  /** Folios in use (zero page excluded) and the 4 KiB pages they hold. */
  folios: number;
  framePages: number;
  /** Per process, run-length encoded in process order: `count` consecutive processes with these counts. */
  processes: Array<{ count: number } & MmCounts>;
}

/** Append `c` processes with counts `x`, merging with the previous run when equal. */
export function pushRun(runs: ScenarioCounts['processes'], c: number, x: MmCounts): void {
  const last = runs[runs.length - 1];
  const same = (a: MmCounts, b: MmCounts) => a.pageTableBytes === b.pageTableBytes && a.vmPTEBytes === b.vmPTEBytes
    && a.tables.pgd === b.tables.pgd && a.tables.p4d === b.tables.p4d && a.tables.pud === b.tables.pud && a.tables.pmd === b.tables.pmd && a.tables.pte === b.tables.pte;
  if (last && same(last, x)) last.count += c;
  else runs.push({ count: c, ...x });
}

export interface MaterializedScenario {
  machine: Machine;
  /** Every mm (under `threads`, the one). */
  mms: MmStruct[];
  /** The mm of each process, in order. */
  processMms: MmStruct[];
  counts: ScenarioCounts;
}

/**
 * Build the scenario on the page-table machine: create the objects, map and touch every process's
 * mappings (every page of every touched range, in order), and read the accounting. The pool and frame
 * table are sized from the counting engine's figures with slack, so a wrong count shows up as a
 * mismatch in the property test rather than a silent success.
 */
export function materializeScenario(sc: Scenario, capacity: { tablePages: number; folios: number }): MaterializedScenario {
  const m = scenarioMachine(sc, capacity);
  const { mms, processMms } = mapScenario(m, sc);
  for (let i = 0; i < processMms.length; i++) touchScenario(m, sc, processMms[i]!, i);
  const acc = machineAccounting(m);
  const processes: ScenarioCounts['processes'] = [];
  for (const mm of processMms) {
    const a = mmAccounting(m, mm);
    pushRun(processes, 1, { tables: a.tables, pageTableBytes: a.pageTableBytes, vmPTEBytes: a.vmPTEBytes });
  }
  return {
    machine: m, mms, processMms,
    counts: { tables: acc.tables, tablePages: totalTables(acc.tables), pageTableBytes: acc.pageTableBytes, sharedTables: acc.sharedTables, folios: acc.folios, framePages: acc.framePages, processes },
  };
}

/** The machine a scenario runs on, its pool and frame table sized from the counting engine's figures (+1 % + 64). */
export function scenarioMachine(sc: Scenario, capacity: { tablePages: number; folios: number }): Machine {
  return new Machine({
    levels: sc.levels, design: sc.design, faultAroundBytes: sc.faultAroundBytes, cpus: sc.cpus, shmemSwapReport: sc.shmemSwapReport, kernel: sc.kernel,
    ptPages: capacity.tablePages + Math.ceil(capacity.tablePages / 100) + 64,
    frames: capacity.folios + Math.ceil(capacity.folios / 100) + 64,
  });
}

/**
 * Create the scenario's objects and every process's mappings on `m`, touching nothing. Returns every
 * mm (under `threads`, the one) and the mm of each process in order.
 */
export function mapScenario(m: Machine, sc: Scenario): { files: AddressSpace[]; mms: MmStruct[]; processMms: MmStruct[] } {
  const plan = planScenario(sc);
  const d = sc.design;
  const files: AddressSpace[] = sc.objects.map((o, i) => (o.kind === 'shmem' ? m.memfd_create(`obj${i}`, o.size)
    : o.kind === 'file' ? m.open_file(`obj${i}`, o.size) : m.hugetlbfs_create(`obj${i}`, o.size, o.page === '1g' ? '1G' : '2M')));
  const RW = PROT_READ | PROT_WRITE;
  const mapAll = (mm: MmStruct, g: ScenarioGroup): void => {
    for (const mp of g.maps) {
      if (mp.object < 0) {
        m.mmap(mm, { addr: mp.addr, length: mp.len, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
      } else if (d.mapShared !== undefined) {
        d.mapShared(m, mm, files[mp.object]!, mp.addr, mp.len, RW, mp.offset);
      } else {
        m.mmap(mm, { addr: mp.addr, length: mp.len, prot: RW, flags: MAP_SHARED | MAP_FIXED | (d.mmapFlags ?? 0), file: files[mp.object]!, offset: mp.offset });
      }
    }
  };
  const mms: MmStruct[] = [];
  const processMms: MmStruct[] = [];
  if (d.mmPerProcess) {
    for (const g of sc.groups) {
      for (let i = 0; i < g.count; i++) {
        const mm = m.mm_alloc();
        mapAll(mm, g);
        mms.push(mm);
        processMms.push(mm);
      }
    }
  } else {
    const mm = m.mm_alloc();
    mm.mm_users = plan.processes;
    mapAll(mm, sc.groups[0]!);
    for (let i = 0; i < plan.processes; i++) processMms.push(mm);
    mms.push(mm);
  }
  return { files, mms, processMms };
}

/** The group of process number `proc` (processes are numbered group by group). */
export function groupOf(sc: Scenario, proc: number): ScenarioGroup {
  let n = proc;
  for (const g of sc.groups) {
    if (n < g.count) return g;
    n -= g.count;
  }
  throw new RangeError(`process ${proc} is beyond the scenario's ${sc.groups.reduce((a, g) => a + g.count, 0)} processes`);
}

/**
 * The accesses process `proc` makes: every page of every touched range of its group's mappings, in
 * order (address, write) — one per page of the mapping's page size.
 */
export function scenarioAccesses(sc: Scenario, proc: number, visit: (addr: number, write: boolean) => void): void {
  for (const mp of groupOf(sc, proc).maps) {
    const pb = mp.object < 0 ? 4096 : objectPage(sc.objects[mp.object]!);
    for (const [s, e] of mp.touch) {
      for (let a = mp.addr + s; a < mp.addr + e; a += pb) visit(a, mp.write);
    }
  }
}

/** Make process `proc`'s accesses with `mm`. */
export function touchScenario(m: Machine, sc: Scenario, mm: MmStruct, proc: number): void {
  scenarioAccesses(sc, proc, (a, write) => {
    const r = m.touch(mm, a, write);
    if (r !== 0) throw new Error(`scenario access to ${hex(a)} failed with VM_FAULT 0x${r.toString(16)}`);
  });
}

export function teardownScenario(r: Pick<MaterializedScenario, 'machine' | 'mms'>): string[] {
  const m = r.machine;
  for (const mm of r.mms) while (!mm.dead) m.exit(mm);
  for (const f of m.files) if (f !== undefined) m.close(f);
  return m.leakCheck();
}
