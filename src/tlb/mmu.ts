/**
 * The MMU side of every simulated CPU: L1 dTLB arrays, the second-level TLB, the paging-structure
 * caches, all tagged with the CPU's dynamic ASID (arch/x86/mm/tlb.c: TLB_NR_DYN_ASIDS = 6 per CPU,
 * handed out by choose_new_asid), the page walk over the machine's real page tables, and one
 * last-level cache of page-table lines shared by all CPUs. Attached to a Machine it receives every
 * TLB flush the kernel model issues (src/mm/tlbflush.ts) and invalidates what the real flush would.
 *
 * Counting model (what is exact, what is derived):
 * - An access looks up the L1 arrays, then the second level; a miss in both walks the tables. A
 *   walk first probes the paging-structure caches from the deepest (PDE) up; a hit at the entries of
 *   level L means only levels below L are read. Every read table entry is one memory reference to
 *   its 64-byte line (table page * 64 + index / 8), looked up in the shared LLC model.
 * - A store through an entry that is clean or read-only walks again (the dirty-bit assist; a
 *   read-only entry then faults). A walk that meets a non-present or read-only leaf takes the page
 *   fault in the kernel model (handle_mm_fault) and the access retries, walking again.
 * - Cycles are derived, never measured: STLB hits x stlbHit + LLC-served references x walkRefLlc +
 *   DRAM-served references x walkRefDram (CpuProfile.latency).
 * - Not modelled: instruction TLBs, PTI (kernel/user PCID pairs), global pages, page-table lines
 *   in L1D/L2, walker concurrency, speculative walks, TLB prefetching.
 */
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import type { Machine } from '../mm/machine.js';
import type { MmStruct } from '../mm/mm_types.js';
import type { TlbShootdownSink } from '../mm/tlbflush.js';
import { PAGE_SIZE_CODE, type CpuProfile, type TlbArraySpec } from './cpu_profile.js';
import { SetAssoc } from './set_assoc.js';
import { VM_FAULT_NOT_DONE } from '../mm/vm_fault.js';

const INV_ENTRY_SPAN = geometry.INV_ENTRY_SPAN;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_PSE = pgtable_types._PAGE_PSE;
const _PAGE_ACCESSED = pgtable_types._PAGE_ACCESSED;
const _PAGE_DIRTY = pgtable_types._PAGE_DIRTY;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;

/** arch/x86/include/asm/tlbflush.h: TLB_NR_DYN_ASIDS. */
export const TLB_NR_DYN_ASIDS = 6;

/** Page sizes by size code (0 4 KiB, 1 2 MiB, 2 1 GiB). */
const SIZE = [2 ** 12, 2 ** 21, 2 ** 30];
const INV_SIZE = [2 ** -12, 2 ** -21, 2 ** -30];
const INV_SIZE_4K = 2 ** -12;

/** TLB entry flags. */
const F_WRITABLE = 1;
const F_DIRTY = 2;
const F_WRITE_OK = F_WRITABLE | F_DIRTY;

/** Per-CPU counters (indices into TlbCpu.stat). */
export const S = {
  accesses: 0,
  stores: 1,
  l1Hits: 2,
  l1Misses: 3,
  stlbHits: 4,
  stlbMisses: 5,
  assistWalks: 6,
  walks: 7,
  walkRefs: 8,
  refsLlcHit: 9,
  refsLlcMiss: 10,
  pscHitPde: 11,
  pscHitPdpte: 12,
  pscHitPml4e: 13,
  pscHitPml5e: 14,
  pscMiss: 15,
  faults: 16,
  segv: 17,
  switches: 18,
  asidAllocs: 19,
  asidFlushes: 20,
  deferredFlushes: 21,
  shootdownsApplied: 22,
  shootdownsDeferred: 23,
  entriesInvalidated: 24,
  walksAfterShootdown: 25,
  pscStale: 26,
  globalFlushes: 27,
} as const;
const NSTAT = 28;
export type StatName = keyof typeof S;

export interface MmuOptions {
  profile: CpuProfile;
  /** Simulated CPUs; must equal the machine's (flush targets are CPU masks). */
  cpus: number;
  /** Bytes of LLC the page-table lines may use (data lines, not modelled, compete for the rest). Default 2 MiB. */
  llcPtBytes?: number;
  /** Associativity of that LLC share. Default 16. */
  llcWays?: number;
  /** PCID in use (default). false models `nopcid`: every switch of mm flushes the TLB. */
  pcid?: boolean;
}

interface ArrayRef {
  arr: SetAssoc;
  /** The size code the key is built with (a smashed 1 GiB entry is a 2 MiB one). */
  code: number;
}

/** VPN of `va` at the size `ref`'s entries are kept in, and the entry's key (VPN, size code, ASID). */
function refVpn(ref: ArrayRef, va: number): number {
  return Math.floor(va * INV_SIZE[ref.code]!);
}

function refLookup(ref: ArrayRef, va: number, asid: number): number {
  const vpn = refVpn(ref, va);
  return ref.arr.lookup(vpn * 32 + ref.code * 8 + asid, vpn & ref.arr.mask);
}

function refInsert(ref: ArrayRef, va: number, asid: number, flags: number): void {
  const vpn = refVpn(ref, va);
  ref.arr.insert(vpn * 32 + ref.code * 8 + asid, vpn & ref.arr.mask, flags);
}

/** refInsert for a translation the array was just looked up for and missed (SetAssoc.fill). */
function refFill(ref: ArrayRef, va: number, asid: number, flags: number): void {
  const vpn = refVpn(ref, va);
  ref.arr.fill(vpn * 32 + ref.code * 8 + asid, vpn & ref.arr.mask, flags);
}

function refHoldsFlushed(ref: ArrayRef, va: number, asid: number): boolean {
  const vpn = refVpn(ref, va);
  return ref.arr.holdsFlushed(vpn * 32 + ref.code * 8 + asid, vpn & ref.arr.mask);
}

/** No entry of its size in the array `ref` stands for (or no such array): its lookup cannot hit. */
function empty(ref: ArrayRef | null): boolean {
  return ref === null || ref.arr.liveBy[ref.code] === 0;
}

/** The last translation used is the 4 KiB page `vpn` with `flags` (Mmu.setLast for size code 0). */
function setLast4k(c: TlbCpu, vpn: number, flags: number): void {
  c.lastBase = vpn * 4096;
  c.lastEnd = c.lastBase + 4096;
  c.lastFlags = flags;
}

/** One CPU's TLB state (struct tlb_state, cpu_tlbstate, plus the hardware arrays). */
export class TlbCpu {
  readonly id: number;
  /** First-level arrays by size code (null: no L1 array holds that size). */
  readonly l1: (ArrayRef | null)[];
  /** Second-level arrays by size code. */
  readonly stlb: (ArrayRef | null)[];
  /** Every distinct TLB array of this CPU. */
  readonly tlbArrays: SetAssoc[];
  /** Paging-structure caches by the table level whose entries they hold (1 PDE ... 4 PML5E); [0] unused. */
  readonly psc: (SetAssoc | null)[];
  /** cpu_tlbstate.ctxs[]: the mm id in each dynamic ASID slot (-1 free) and the tlb_gen it has seen. */
  readonly ctxId = new Int32Array(TLB_NR_DYN_ASIDS).fill(-1);
  readonly ctxGen = new Float64Array(TLB_NR_DYN_ASIDS);
  nextAsid = 1;
  loaded: MmStruct | null = null;
  loadedAsid = 0;
  /**
   * The mm this CPU still holds in lazy TLB mode (cpu_tlbstate.loaded_mm with is_lazy): its task
   * slept or exited and the CPU runs nothing of its own until the next switch (unload()).
   */
  lazy: MmStruct | null = null;
  /** The page (base address and size) of the last translation used: repeats of it are L1 hits. */
  lastBase = -1;
  lastEnd = -1;
  lastFlags = 0;
  /** Some flush has left invalidated entries in this CPU's TLB arrays (only then are misses checked against them). */
  holdsFlushed = false;
  readonly stat = new Float64Array(NSTAT);

  constructor(id: number, p: CpuProfile, levels: number) {
    this.id = id;
    const build = (specs: TlbArraySpec[], smash: boolean): { by: (ArrayRef | null)[]; all: SetAssoc[] } => {
      const by: (ArrayRef | null)[] = [null, null, null];
      const all: SetAssoc[] = [];
      for (const s of specs) {
        const arr = new SetAssoc(s.entries, s.ways, `${p.name} ${s.name}`, true);
        all.push(arr);
        for (const size of s.sizes) {
          const code = PAGE_SIZE_CODE[size];
          if (by[code] === null) by[code] = { arr, code };
        }
      }
      if (smash && by[2] === null && by[1] !== null) by[2] = { arr: by[1].arr, code: 1 };
      return { by, all };
    };
    const l1 = build(p.l1, false);
    const l2 = build(p.stlb, p.smash1gInStlb);
    this.l1 = l1.by;
    this.stlb = l2.by;
    this.tlbArrays = [...l1.all, ...l2.all];
    const psc = p.psc;
    this.psc = [
      null,
      new SetAssoc(psc.pde.entries, psc.pde.ways, `${p.name} PDE cache`),
      new SetAssoc(psc.pdpte.entries, psc.pdpte.ways, `${p.name} PDPTE cache`),
      new SetAssoc(psc.pml4e.entries, psc.pml4e.ways, `${p.name} PML4E cache`),
      levels === 5 ? new SetAssoc(psc.pml5e.entries, psc.pml5e.ways, `${p.name} PML5E cache`) : null,
    ];
  }

  /** Invalidate the TLB entries and paging-structure-cache entries the matchers select; returns the TLB entries. */
  private invalidate(tlbMatch: (key: number) => boolean, pscMatch: (key: number) => boolean): number {
    this.lastBase = -1;
    this.lastEnd = -1;
    let n = 0;
    for (const a of this.tlbArrays) n += a.invalidateWhere(tlbMatch);
    for (const a of this.psc) if (a !== null) a.invalidateWhere(pscMatch);
    if (n > 0) this.holdsFlushed = true;
    return n;
  }

  /** Invalidate every TLB and paging-structure-cache entry tagged `asid` (or every entry: -1). */
  invalidateAsid(asid: number): number {
    const match = asid < 0 ? () => true : (k: number) => (k & 7) === asid;
    return this.invalidate(match, match);
  }

  /**
   * INVLPG of every page of [start, end) for `asid`: the TLB entries overlapping the range, and (as
   * the SDM says INVLPG does) every paging-structure-cache entry of that PCID.
   */
  invalidateRange(asid: number, start: number, end: number): number {
    const match = (k: number): boolean => {
      if ((k & 7) !== asid) return false;
      const code = (k & 31) >> 3;
      const base = Math.floor(k / 32) * SIZE[code]!;
      return base < end && base + SIZE[code]! > start;
    };
    return this.invalidate(match, (k) => (k & 7) === asid);
  }

  /** The ASID slot `mm` holds on this CPU, or -1. */
  slotOf(mm: MmStruct): number {
    for (let a = 0; a < TLB_NR_DYN_ASIDS; a++) if (this.ctxId[a] === mm.id) return a;
    return -1;
  }
}

export type MmuCounts = Record<StatName, number>;

export class Mmu implements TlbShootdownSink {
  readonly m: Machine;
  readonly profile: CpuProfile;
  readonly cpu: TlbCpu[];
  /** Page-table lines in the shared LLC (keys: table page * 64 + line). */
  readonly llc: SetAssoc;
  readonly pcid: boolean;
  private readonly rootLevel: number;
  /**
   * Called when an access raises SIGSEGV/SIGBUS; returning true retries it (trace replay maps memory
   * on demand this way). Without a handler, or when it returns false, the access is dropped.
   */
  segvHandler: ((mm: MmStruct, va: number) => boolean) | null = null;

  constructor(m: Machine, o: MmuOptions) {
    if (o.cpus !== m.cpus) throw new RangeError(`the TLB model has ${o.cpus} CPUs but the machine ${m.cpus}; create the machine with cpus: ${o.cpus}`);
    this.m = m;
    this.profile = o.profile;
    this.pcid = o.pcid ?? true;
    this.rootLevel = m.rootLevel;
    this.cpu = Array.from({ length: o.cpus }, (_, i) => new TlbCpu(i, o.profile, m.mode.levels));
    const llcBytes = o.llcPtBytes ?? 2 * 1024 * 1024;
    const ways = o.llcWays ?? 16;
    if (!Number.isInteger(llcBytes) || llcBytes < 64 * ways) throw new RangeError(`llcPtBytes must hold at least one set of ${ways} 64-byte lines, got ${llcBytes}`);
    this.llc = new SetAssoc(llcBytes / 64, ways, 'LLC page-table share');
  }

  /**
   * Attach to the machine: every later flush reaches this model. The model starts cold: no mm has
   * run on a modelled CPU yet, so every mm_cpumask is cleared.
   */
  attach(): this {
    if (this.m.tlbSink !== null && this.m.tlbSink !== this) throw new Error('another TLB model is attached to this machine');
    this.m.tlbSink = this;
    for (const mm of this.m.mms) {
      mm.cpumask = 0;
      mm.globalAsid = false;
    }
    // INVLPGB: the CPU has it and the kernel uses it (KERNEL_RULES.invlpgb).
    this.m.tlbBroadcast = this.profile.invlpgb && this.m.kernel.invlpgb === true;
    return this;
  }

  detach(): void {
    if (this.m.tlbSink === this) {
      this.m.tlbSink = null;
      this.m.tlbBroadcast = false;
    }
  }

  /**
   * switch_mm_irqs_off on `cpu` to `mm`: set the CPU in mm_cpumask, find or allocate a dynamic ASID
   * (choose_new_asid: reuse the mm's slot, flushing it when its tlb_gen is behind; otherwise take
   * next_asid round-robin and flush it), as arch/x86/mm/tlb.c does.
   */
  switchTo(cpuId: number, mm: MmStruct): void {
    const c = this.cpu[cpuId]!;
    if (c.loaded === mm) return;
    const st = c.stat;
    st[S.switches]!++;
    // Before lazy_mm_cpumask (6.14), switch_mm_irqs_off() cleared this CPU from the previous mm's
    // mm_cpumask at once (a CPU in lazy TLB mode kept it until it switched).
    const prev = c.loaded ?? c.lazy;
    if (prev !== null && prev !== mm && this.m.kernel.lazyMmCpumask !== true) prev.cpumask &= ~(1 << cpuId);
    mm.cpumask |= 1 << cpuId;
    // consider_global_asid(): an mm active on 4 or more CPUs at once gets a global ASID, whose
    // flushes INVLPGB broadcasts (the kernel checks now and then, when pid and jiffies agree in 5
    // bits; here at every switch).
    if (this.m.tlbBroadcast && !mm.globalAsid) {
      let active = 1;
      for (const o of this.cpu) if (o !== c && o.loaded === mm) active++;
      if (active > 3) mm.globalAsid = true;
    }
    c.lastBase = -1;
    c.lastEnd = -1;
    if (!this.pcid) {
      st[S.asidFlushes]!++;
      st[S.entriesInvalidated]! += c.invalidateAsid(-1);
      c.ctxId[0] = mm.id;
      c.ctxGen[0] = mm.tlb_gen;
      c.loaded = mm;
      c.loadedAsid = 0;
      c.lazy = null;
      return;
    }
    let asid = c.slotOf(mm);
    // The mm kept its slot but missed a flush while it was not running here.
    const deferred = asid >= 0 && c.ctxGen[asid]! < mm.tlb_gen;
    let needFlush = deferred;
    if (deferred) st[S.deferredFlushes]!++;
    if (asid < 0) {
      asid = c.nextAsid++;
      if (asid >= TLB_NR_DYN_ASIDS) {
        asid = 0;
        c.nextAsid = 1;
      }
      needFlush = true;
      st[S.asidAllocs]!++;
    }
    if (needFlush) {
      st[S.asidFlushes]!++;
      const n = c.invalidateAsid(asid);
      // A slot flushed because a shootdown was deferred: its entries count as the flush's.
      if (deferred) st[S.entriesInvalidated]! += n;
    }
    c.ctxId[asid] = mm.id;
    c.ctxGen[asid] = mm.tlb_gen;
    c.loaded = mm;
    c.loadedAsid = asid;
    c.lazy = null;
  }

  /**
   * native_flush_tlb_multi()'s targets for a flush of `mm`. With lazy_mm_cpumask (6.14):
   * should_flush_tlb() keeps the CPUs running `mm` and not lazy; a flush that freed tables goes to
   * every CPU in mm_cpumask, stale ones included (the mm's bit is cleared lazily, by such a flush).
   * Before: switch_mm cleared the bit at once, so mm_cpumask held the CPUs running `mm` and those
   * holding it lazily; tlb_is_not_lazy() skipped the lazy ones unless tables were freed.
   */
  ipiMask(mm: MmStruct, freedTables: boolean): number {
    let running = 0;
    let lazy = 0;
    for (const c of this.cpu) {
      if (c.loaded === mm) running |= 1 << c.id;
      else if (c.lazy === mm) lazy |= 1 << c.id;
    }
    if (this.m.kernel.lazyMmCpumask === true) return freedTables ? mm.cpumask : running;
    return freedTables ? running | lazy : running;
  }

  /**
   * The CPU stops running its mm (the task exits or sleeps): it enters lazy TLB mode (enter_lazy_tlb)
   * with the mm still loaded, and runs nothing of it until the next switch.
   */
  unload(cpuId: number): void {
    const c = this.cpu[cpuId]!;
    if (c.loaded !== null) c.lazy = c.loaded;
    c.loaded = null;
    c.lastBase = -1;
    c.lastEnd = -1;
  }

  // --- TlbShootdownSink ---

  flushMm(mm: MmStruct, start: number, end: number, full: boolean, reached: number): void {
    for (const c of this.cpu) {
      if ((mm.cpumask & (1 << c.id)) === 0) continue;
      const st = c.stat;
      const asid = c.slotOf(mm);
      if (c.loaded === mm && asid === c.loadedAsid) {
        // flush_tlb_func: the CPU runs the mm, so it flushes now and catches up with tlb_gen.
        st[S.shootdownsApplied]!++;
        st[S.entriesInvalidated]! += full ? c.invalidateAsid(asid) : c.invalidateRange(asid, start, end);
        c.ctxGen[asid] = mm.tlb_gen;
      } else {
        // Not running it: the ASID slot (if any) is now behind tlb_gen and is flushed at the next
        // switch to the mm. A CPU the flush reached leaves mm_cpumask (flush_tlb_func: loaded_mm is
        // another mm); one it skipped stays there, stale (should_flush_tlb, lazy_mm_cpumask).
        st[S.shootdownsDeferred]!++;
        if ((reached & (1 << c.id)) !== 0) mm.cpumask &= ~(1 << c.id);
      }
    }
  }

  flushAll(): void {
    for (const c of this.cpu) {
      c.stat[S.globalFlushes]!++;
      c.stat[S.entriesInvalidated]! += c.invalidateAsid(-1);
    }
  }

  // --- accesses ---

  /**
   * Run `n` accesses (byte addresses, and 1 for a store) on `cpuId` for the mm loaded there.
   * The hot loop takes every L1 hit on a 4 KiB entry itself: a repeat of the last page used needs no
   * lookup (its entry is already the most recently used one of its set, so skipping the LRU refresh
   * changes nothing), any other page is looked up in the L1 4 KiB array here; everything else (other
   * page sizes, the second level, walks, faults, stores through clean entries) is accessSlow's.
   */
  run(cpuId: number, addrs: Float64Array, writes: Uint8Array, n: number): void {
    const c = this.cpu[cpuId]!;
    const mm = c.loaded;
    if (mm === null) throw new Error(`CPU ${cpuId} runs no mm; switchTo first`);
    const st = c.stat;
    const l1 = c.l1[0]!;
    const arr = l1 === null ? null : l1.arr;
    const asid = c.loadedAsid;
    let lastBase = c.lastBase;
    let lastEnd = c.lastEnd;
    let lastFlags = c.lastFlags;
    let hits = 0;
    let stores = 0;
    // The arrays a 4 KiB miss would look up after the L1 4 KiB array (see miss4k).
    const l1Big = c.l1[1] ?? null;
    const l1Huge = c.l1[2] ?? null;
    const stlb4k = c.stlb[0] ?? null;
    const stlbBig = c.stlb[1] ?? null;
    const stlbHuge = c.stlb[2] ?? null;
    for (let i = 0; i < n; i++) {
      const va = addrs[i]!;
      const w = writes[i]!;
      stores += w;
      if (va >= lastBase && va < lastEnd && (w === 0 || (lastFlags & F_WRITE_OK) === F_WRITE_OK)) {
        hits++;
        continue;
      }
      let missed4k = false;
      if (arr !== null && arr.liveBy[0] !== 0) {
        const vpn = Math.floor(va * INV_SIZE_4K);
        const slot = arr.lookup(vpn * 32 + asid, vpn & arr.mask);
        if (slot >= 0) {
          const f = arr.flags[slot]!;
          if (w === 0 || (f & F_WRITE_OK) === F_WRITE_OK) {
            hits++;
            lastBase = vpn * 4096;
            lastEnd = lastBase + 4096;
            lastFlags = f;
            continue;
          }
        } else missed4k = true;
      }
      if (missed4k && stlb4k !== null && empty(l1Big) && empty(l1Huge) && empty(stlbBig) && empty(stlbHuge)) this.miss4k(c, mm, va, w !== 0);
      else this.accessSlow(c, mm, va, w !== 0, missed4k, 0);
      // accessSlow sets the last page, and a fault's flush may have cleared it.
      lastBase = c.lastBase;
      lastEnd = c.lastEnd;
      lastFlags = c.lastFlags;
    }
    c.lastBase = lastBase;
    c.lastEnd = lastEnd;
    c.lastFlags = lastFlags;
    st[S.accesses]! += n;
    st[S.stores]! += stores;
    st[S.l1Hits]! += hits;
  }

  /**
   * accessSlow's first try for the common miss: run() has looked the page up in the L1 4 KiB array
   * and missed, and no other array the first try would look up (L1 2 MiB and 1 GiB, the second
   * level's other sizes) holds an entry of its size, so the only lookup left is the second level's
   * 4 KiB one. The same lookups, fills, counts and order as accessSlow with the branches that cannot
   * be taken left out; a fault retries through accessSlow from the second try.
   */
  private miss4k(c: TlbCpu, mm: MmStruct, va: number, write: boolean): void {
    const st = c.stat;
    const asid = c.loadedAsid;
    const vpn = Math.floor(va * INV_SIZE_4K);
    const key = vpn * 32 + asid;
    const l1 = c.l1[0]!.arr;
    const stlb = c.stlb[0]!.arr;
    st[S.l1Misses]!++;
    const slot = stlb.lookup(key, vpn & stlb.mask);
    if (slot >= 0) {
      st[S.stlbHits]!++;
      const f = stlb.flags[slot]!;
      l1.fill(key, vpn & l1.mask, f);
      if (!write || (f & F_WRITE_OK) === F_WRITE_OK) {
        setLast4k(c, vpn, f);
        return;
      }
      // A store through a clean or read-only entry: the walker re-reads the leaf (dirty-bit assist).
      st[S.assistWalks]!++;
    } else {
      st[S.stlbMisses]!++;
      if (c.holdsFlushed && this.heldFlushed(c, va, asid)) st[S.walksAfterShootdown]!++;
    }
    const leaf = this.walk(c, mm, va, write);
    if (leaf === 0 && slot < 0) {
      const f = this.leafFlags;
      l1.fill(key, vpn & l1.mask, f);
      stlb.fill(key, vpn & stlb.mask, f);
      setLast4k(c, vpn, f);
    } else if (leaf >= 0) {
      this.fill(c, va, asid, leaf, this.leafFlags, slot >= 0);
      this.setLast(c, va, leaf, this.leafFlags);
    } else if (this.fault(c, mm, va, write)) this.accessSlow(c, mm, va, write, false, 1);
  }

  /**
   * One access (not counted in `accesses`; run() counts those), from try `firstTry` (miss4k made
   * try 0 when it hands over). `missed4k`: run() has just looked the page up in the L1 4 KiB array
   * and missed, so the first try does not look again.
   */
  private accessSlow(c: TlbCpu, mm: MmStruct, va: number, write: boolean, missed4k: boolean, firstTry: number): void {
    const st = c.stat;
    const asid = c.loadedAsid;
    for (let tries = firstTry; tries < 4; tries++) {
      // L1: every array that can hold each page size (lookups change nothing but the hit's LRU).
      let ref: ArrayRef | null = null;
      let slot = -1;
      for (let code = tries === 0 && missed4k ? 1 : 0; code < 3 && slot < 0; code++) {
        const r = c.l1[code]!;
        if (r !== null && r.arr.liveBy[r.code] !== 0 && (slot = refLookup(r, va, asid)) >= 0) ref = r;
      }
      if (slot >= 0) {
        if (tries === 0) st[S.l1Hits]!++;
      } else {
        if (tries === 0) st[S.l1Misses]!++;
        for (let code = 0; code < 3 && slot < 0; code++) {
          const r = c.stlb[code]!;
          if (r !== null && r.arr.liveBy[r.code] !== 0 && (slot = refLookup(r, va, asid)) >= 0) ref = r;
        }
        if (slot >= 0) {
          if (tries === 0) st[S.stlbHits]!++;
          // Fill the L1 with the translation's own size (a smashed 1 GiB entry comes back as 2 MiB);
          // the L1 was just looked up for it and missed.
          const l1 = c.l1[ref!.code];
          if (l1 !== null && l1 !== undefined) refFill(l1, va, asid, ref!.arr.flags[slot]!);
        } else if (tries === 0) {
          st[S.stlbMisses]!++;
          if (c.holdsFlushed && this.heldFlushed(c, va, asid)) st[S.walksAfterShootdown]!++;
        }
      }
      if (slot >= 0) {
        const flags = ref!.arr.flags[slot]!;
        if (!write || (flags & F_WRITE_OK) === F_WRITE_OK) {
          this.setLast(c, va, ref!.code, flags);
          return;
        }
        // A store through a clean or read-only entry: the walker re-reads the leaf (dirty-bit assist).
        st[S.assistWalks]!++;
      }
      const leaf = this.walk(c, mm, va, write);
      if (leaf >= 0) {
        // After an assist the arrays hold the entry being refilled; after a miss in both levels they
        // hold no valid copy of it.
        this.fill(c, va, asid, leaf, this.leafFlags, slot >= 0);
        this.setLast(c, va, leaf, this.leafFlags);
        return;
      }
      if (!this.fault(c, mm, va, write)) return;
    }
    throw new Error(`BUG: access to 0x${va.toString(16)} by mm ${mm.id} still faults after 4 tries`);
  }

  /** Take the page fault in the kernel model; false when it raised SIGSEGV/SIGBUS (access dropped). */
  private fault(c: TlbCpu, mm: MmStruct, va: number, write: boolean): boolean {
    c.stat[S.faults]!++;
    const r = this.m.fault(mm, va, write);
    if ((r & VM_FAULT_NOT_DONE) !== 0) {
      c.stat[S.segv]!++;
      return this.segvHandler !== null && this.segvHandler(mm, va);
    }
    return true;
  }

  private setLast(c: TlbCpu, va: number, code: number, flags: number): void {
    const size = SIZE[code]!;
    const base = Math.floor(va * INV_SIZE[code]!) * size;
    c.lastBase = base;
    c.lastEnd = base + size;
    c.lastFlags = flags;
  }

  /** Does the L1 or second level still hold a flushed copy of a translation for `va`? */
  private heldFlushed(c: TlbCpu, va: number, asid: number): boolean {
    for (let i = 0; i < 6; i++) {
      const ref = i < 3 ? c.l1[i] : c.stlb[i - 3];
      if (ref !== null && ref !== undefined && refHoldsFlushed(ref, va, asid)) return true;
    }
    return false;
  }

  private fill(c: TlbCpu, va: number, asid: number, code: number, flags: number, refill: boolean): void {
    const put = refill ? refInsert : refFill;
    const l1 = c.l1[code];
    if (l1 !== null && l1 !== undefined) put(l1, va, asid, flags);
    const l2 = c.stlb[code];
    if (l2 !== null && l2 !== undefined) put(l2, va, asid, flags);
  }

  /** Flags of the leaf the last successful walk found. */
  private leafFlags = 0;

  /**
   * The page walk: returns the size code of the leaf (0 4 KiB, 1 2 MiB, 2 1 GiB) with its flags in
   * leafFlags, setting A (and D for a store) as the hardware does; -1 when the access must fault.
   */
  private walk(c: TlbCpu, mm: MmStruct, va: number, write: boolean): number {
    const st = c.stat;
    const asid = c.loadedAsid;
    const root = this.rootLevel;
    st[S.walks]!++;
    // Deepest paging-structure-cache hit: entries of level L cached -> reads start at level L - 1.
    let readFrom = root;
    for (let L = 1; L <= root; L++) {
      const psc = c.psc[L];
      if (psc === null || psc === undefined || psc.live === 0) continue;
      const tag = Math.floor(va * INV_ENTRY_SPAN[L]!);
      if (psc.lookup(tag * 8 + asid, tag & psc.mask) >= 0) {
        readFrom = L - 1;
        st[S.pscHitPde + L - 1]!++;
        break;
      }
    }
    if (readFrom === root) st[S.pscMiss]!++;
    const ent = this.m.pool.entries;
    const llc = this.llc;
    let t = mm.pgd;
    for (let level = root; level >= 0; level--) {
      const idx = Math.floor(va * INV_ENTRY_SPAN[level]!) & 511;
      const off = t * 1024 + (idx << 1);
      const lo = ent[off]!;
      const leaf = level === 0 || (lo & _PAGE_PSE) !== 0;
      if (level > readFrom) {
        // Skipped thanks to the paging-structure cache; a flush should have removed the cached entry
        // if this one went away.
        if ((lo & _PAGE_PRESENT) === 0 || leaf) {
          st[S.pscStale]!++;
          readFrom = level;
        } else {
          t = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
          continue;
        }
      }
      // One memory reference to the entry's cache line.
      st[S.walkRefs]!++;
      const line = t * 64 + (idx >> 3);
      if (llc.lookup(line, line & llc.mask) >= 0) st[S.refsLlcHit]!++;
      else {
        st[S.refsLlcMiss]!++;
        llc.fill(line, line & llc.mask, 0);
      }
      if ((lo & _PAGE_PRESENT) === 0) return -1;
      if (leaf) {
        if (level > 2) return -1;
        if (write && (lo & _PAGE_RW) === 0) return -1;
        const nlo = lo | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
        if (nlo !== lo) ent[off] = nlo;
        this.leafFlags = ((nlo & _PAGE_RW) !== 0 ? F_WRITABLE : 0) | ((nlo & _PAGE_DIRTY) !== 0 ? F_DIRTY : 0);
        return level;
      }
      // This walk looked the entry up in the cache of this level and missed (levels below the
      // deepest hit all missed; a stale level never gets here: it ends the walk).
      const psc = c.psc[level];
      if (psc !== null && psc !== undefined && psc.entries > 0) {
        const tag = Math.floor(va * INV_ENTRY_SPAN[level]!);
        psc.fill(tag * 8 + asid, tag & psc.mask, 0);
      }
      t = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
    }
    return -1;
  }

  // --- results ---

  /** Counters summed over CPUs (or of one CPU). */
  counts(cpuId?: number): MmuCounts {
    const out = {} as MmuCounts;
    for (const k of Object.keys(S) as StatName[]) {
      out[k] = cpuId === undefined ? this.cpu.reduce((s, c) => s + c.stat[S[k]]!, 0) : this.cpu[cpuId]!.stat[S[k]]!;
    }
    return out;
  }

  /** Zero every counter (the TLB, cache and ASID state stay: a warm-up then a measured phase). */
  resetCounts(): void {
    for (const c of this.cpu) c.stat.fill(0);
  }

  /** Derived cycles spent translating, from the profile's latencies. */
  cycles(k: MmuCounts = this.counts()): number {
    const l = this.profile.latency;
    return k.stlbHits * l.stlbHit + k.refsLlcHit * l.walkRefLlc + k.refsLlcMiss * l.walkRefDram;
  }

  /**
   * Coherence check: every valid TLB entry of the ASID loaded on each CPU, if its slot is current,
   * maps a present leaf of the same size in that mm's tables. A non-empty result means a flush the
   * kernel would have sent is missing.
   */
  staleEntries(): string[] {
    const out: string[] = [];
    for (const c of this.cpu) {
      const mm = c.loaded;
      if (mm === null || c.ctxGen[c.loadedAsid]! < mm.tlb_gen) continue;
      for (const a of c.tlbArrays) {
        for (let i = 0; i < a.keys.length; i++) {
          const k = a.keys[i]!;
          if (k < 0 || (k & 7) !== c.loadedAsid) continue;
          const code = (k & 31) >> 3;
          const va = Math.floor(k / 32) * SIZE[code]!;
          const off = this.m.follow_page(mm, va);
          const lo = off >= 0 ? this.m.pool.entries[off]! : 0;
          if ((lo & _PAGE_PRESENT) === 0) out.push(`CPU ${c.id}: mm ${mm.id} 0x${va.toString(16)} cached but not present`);
          else if ((a.flags[i]! & F_WRITABLE) !== 0 && (lo & _PAGE_RW) === 0) out.push(`CPU ${c.id}: mm ${mm.id} 0x${va.toString(16)} cached writable but read-only`);
        }
      }
    }
    return out;
  }
}
