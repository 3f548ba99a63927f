/**
 * The page-fault path, after mm/memory.c: handle_mm_fault -> __handle_mm_fault (walk, allocating
 * tables on demand through the sharing design) -> handle_pte_fault -> do_anonymous_page /
 * do_fault (do_read_fault with fault-around, do_cow_fault, do_shared_fault) / do_wp_page
 * (wp_page_reuse, wp_can_reuse_anon_folio, wp_page_copy), with FAULT_FLAG_UNSHARE.
 *
 * Hot path rules: typed arrays and integer arithmetic only, no allocation per fault.
 */
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import { PG_anon, PG_anon_exclusive, PG_dirty, PG_ksm, PG_swapbacked, PG_swapcache, PG_uptodate } from './folio.js';
import * as folio_flags from './folio.js';
import { hugetlb_fault } from './hugetlb.js';
import type { Machine } from './machine.js';
import { flush_vma_range } from './tlbflush.js';
import * as mm_counters from './mm_types.js';
import { type VmAreaStruct } from './vma.js';
import * as vm_flags from './vma.js';
import type { MmStruct } from './mm_types.js';
import type { AddressSpace } from './address_space.js';
import * as spinlock from './spinlock.js';
import { PTL_STRIDE } from './pgtable_pool.js';

// Module-local copies of the constants this file uses: V8 folds module-local consts into the
// compiled code but reloads imported bindings (live cells) on every use, which costs ~40% in
// the hot loops (measured with the project's benchmarks).
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const _PAGE_ACCESSED = pgtable_types._PAGE_ACCESSED;
const PTE_MKDIRTY = pgtable_types.PTE_MKDIRTY;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;
const _PAGE_TABLE = pgtable_types._PAGE_TABLE;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const _PAGE_SOFT_DIRTY = pgtable_types._PAGE_SOFT_DIRTY;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const SWP_PTE_MARKER = pgtable_types.SWP_PTE_MARKER;
const PTE_MARKER_UFFD_WP = pgtable_types.PTE_MARKER_UFFD_WP;
const ZERO_PFN = folio_flags.ZERO_PFN;
const MM_ANONPAGES = mm_counters.MM_ANONPAGES;
const MM_FILEPAGES = mm_counters.MM_FILEPAGES;
const MM_SHMEMPAGES = mm_counters.MM_SHMEMPAGES;
const VM_EXEC = vm_flags.VM_EXEC;
const VM_HUGETLB = vm_flags.VM_HUGETLB;
const VM_DESIGN_FAULT = vm_flags.VM_DESIGN_FAULT;
const VM_MAYSHARE = vm_flags.VM_MAYSHARE;
const VM_READ = vm_flags.VM_READ;
const VM_SHARED = vm_flags.VM_SHARED;
const VM_UFFD_WP = vm_flags.VM_UFFD_WP;
const VM_WRITE = vm_flags.VM_WRITE;
const LOCK_PTE_PTL = spinlock.LOCK_PTE_PTL;
const LOCK_PMD_PTL = spinlock.LOCK_PMD_PTL;
const LOCK_PAGE_TABLE = spinlock.LOCK_PAGE_TABLE;
const LOCK_I_PAGES = spinlock.LOCK_I_PAGES;
const spin_lock = spinlock.spin_lock;
const spin_unlock = spinlock.spin_unlock;

export const FAULT_FLAG_WRITE = 1 << 0;
export const FAULT_FLAG_UNSHARE = 1 << 10;

export const VM_FAULT_OOM = 0x000001;
export const VM_FAULT_SIGBUS = 0x000002;
export const VM_FAULT_MAJOR = 0x000004;
export const VM_FAULT_SIGSEGV = 0x000040;
export const VM_FAULT_NOPAGE = 0x000100;
/**
 * handle_userfault's answer: the fault went to the userfaultfd monitor and the access waits (retried
 * once the monitor resolves it with UFFDIO_WRITEPROTECT). Not an error, but the access did not happen.
 */
export const VM_FAULT_RETRY = 0x000400;
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV;
/** The access did not complete: an error, or a userfault waiting for the monitor. */
export const VM_FAULT_NOT_DONE = VM_FAULT_ERROR | VM_FAULT_RETRY;

export function faultName(code: number): string {
  if (code & VM_FAULT_SIGSEGV) return 'SIGSEGV';
  if (code & VM_FAULT_SIGBUS) return 'SIGBUS';
  if (code & VM_FAULT_OOM) return 'OOM';
  if (code & VM_FAULT_RETRY) return 'userfaultfd write-protect fault pending (VM_FAULT_RETRY)';
  return 'ok';
}

/** 1 / ENTRY_SPAN[L]: multiplying by a power-of-two reciprocal is exact and cheaper than dividing. */
const INV_SPAN = Float64Array.from(ENTRY_SPAN, (s) => 1 / s);

/**
 * struct vm_fault: one per machine, reused by every fault so that nothing is allocated and the
 * 64-bit address is never boxed when passed between functions.
 */
export class VmFault {
  vma: VmAreaStruct | null = null;
  /** Faulting address. */
  address = 0;
  /** Page offset in the file (or linear page index) of the address. */
  pgoff = 0;
  flags = 0;
  /**
   * PTE table holding the entry and the entry's word offset in the pool; -1 while the PMD entry is
   * still empty (the PTE table is only allocated when something is mapped, as in the kernel).
   */
  table = 0;
  poff = 0;
  /** Word offset of the PMD entry that points (or will point) at the PTE table. */
  pmdOff = 0;
  /** VM_FAULT_* bits gathered on the way (VM_FAULT_MAJOR ...). */
  result = 0;
}

/**
 * do_user_addr_fault (arch/x86/mm/fault.c): find the VMA, check access_error, handle the fault.
 * The faulting address is read from m.vmf.address, as the kernel reads it from cr2: passing a 64-bit
 * address as an argument would box it on every call. Returns 0 or VM_FAULT_* bits (SIGSEGV for no
 * VMA or a disallowed access).
 */
export function do_user_addr_fault(m: Machine, mm: import('./mm_types.js').MmStruct, write: boolean): number {
  // __handle_mm_fault: vmf->address = address & PAGE_MASK (the byte address only picks the page).
  // (addr & 4095: ToInt32 keeps the low 32 bits of the exact integer, so the low 12 are right.)
  const low = m.vmf.address & 4095;
  if (low !== 0) m.vmf.address -= low;
  const vma = mm.find_vma(m.vmf.address);
  if (vma === null) return VM_FAULT_SIGSEGV;
  if (write) {
    if ((vma.vm_flags & VM_WRITE) === 0) return VM_FAULT_SIGSEGV;
  } else if ((vma.vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) === 0) {
    return VM_FAULT_SIGSEGV;
  }
  return handle_mm_fault(m, vma, write ? FAULT_FLAG_WRITE : 0);
}

/**
 * handle_mm_fault -> __handle_mm_fault: walk to the PMD entry, allocating tables on the way.
 * The address is m.vmf.address.
 */
export function handle_mm_fault(m: Machine, vma: VmAreaStruct, flags: number): number {
  m.events.pgfault++;
  return __handle_mm_fault(m, vma, flags);
}

/** The fault itself, without the accounting (a design that runs a fault in a host mm calls this). */
export function __handle_mm_fault(m: Machine, vma: VmAreaStruct, flags: number): number {
  if ((vma.vm_flags & (VM_HUGETLB | VM_DESIGN_FAULT)) !== 0) {
    if ((vma.vm_flags & VM_DESIGN_FAULT) !== 0) return m.design.handleFault!(m, vma, flags);
    return hugetlb_fault(m, vma, flags);
  }
  return handle_pte_level_fault(m, vma, flags);
}

/** The walk and PTE-level fault of a 4 KiB-page VMA (a design may fall back to it for private parts). */
export function handle_pte_level_fault(m: Machine, vma: VmAreaStruct, flags: number): number {
  const vmf = m.vmf;
  const addr = vmf.address;
  if (vmf.vma !== vma) vmf.vma = vma;
  vmf.flags = flags;
  const ent = m.pool.entries;
  const mm = vma.vm_mm;
  // The walk to the PMD entry, unless this mm's last walk covered the same 2 MiB and no table has
  // left any walk since (MmStruct.pmd_cache_*): then the PMD entry is the one it found.
  const d = addr - mm.pmd_cache_base;
  const off = d >= 0 && d < 2097152 && mm.pmd_cache_gen === m.pool.walkGen() ? mm.pmd_cache_off : walk_pmd(m, vma, addr);
  vmf.pmdOff = off;
  const lo = ent[off]!;
  if (lo === 0 && ent[off + 1] === 0) {
    // pmd_none: no PTE table yet. do_anonymous_page and finish_fault allocate it (pte_alloc).
    vmf.table = -1;
    vmf.poff = -1;
  } else {
    const t = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
    vmf.table = t;
    vmf.poff = t * 1024 + (((addr * INV_SPAN[0]!) & 511) << 1);
  }
  return handle_pte_fault(m, vmf);
}

/**
 * __handle_mm_fault's walk: pgd -> p4d -> pud -> pmd for `addr`, allocating missing tables through
 * the design (pgtable_alloc). Returns the word offset of the PMD entry and caches it in the mm.
 */
function walk_pmd(m: Machine, vma: VmAreaStruct, addr: number): number {
  const ent = m.pool.entries;
  const mm = vma.vm_mm;
  // The generation is read before walking: a table that left the path during the walk leaves the
  // cached walk behind the generation, so the next fault walks again (as a seqcount reader would).
  const gen = m.pool.walkGen();
  let t = mm.pgd;
  if (m.rootLevel === 4) {
    // LA57: the PGD entry leads to a P4D table.
    const off = t * 1024 + (((addr * INV_SPAN[4]!) & 511) << 1);
    const lo = ent[off]!;
    t = lo === 0 && ent[off + 1] === 0 ? pgtable_alloc(m, vma, 3, off) : (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  }
  // pgd/p4d entry -> PUD table, pud entry -> PMD table.
  let off = t * 1024 + (((addr * (1 / 549755813888)) & 511) << 1);
  let lo = ent[off]!;
  t = lo === 0 && ent[off + 1] === 0 ? pgtable_alloc(m, vma, 2, off) : (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  off = t * 1024 + (((addr * (1 / 1073741824)) & 511) << 1);
  lo = ent[off]!;
  t = lo === 0 && ent[off + 1] === 0 ? pgtable_alloc(m, vma, 1, off) : (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  off = t * 1024 + (((addr * (1 / 2097152)) & 511) << 1);
  mm.pmd_cache_base = Math.floor(addr * (1 / 2097152)) * 2097152;
  mm.pmd_cache_off = off;
  mm.pmd_cache_gen = gen;
  return off;
}

/**
 * __pte_alloc / __pmd_alloc / __pud_alloc / __p4d_alloc: install a table of `level` for m.vmf.address
 * under the empty upper entry at word offset `parentOff`. The sharing design may hand back an
 * existing table. (The address is not an argument: passing it would box it on every fault.)
 */
export function pgtable_alloc(m: Machine, vma: VmAreaStruct, level: number, parentOff: number): number {
  // The single-CPU path stays free of locks and try/finally: it is inlined into the fault walk.
  if (!m.smp) return install_new_table(m, vma, level, parentOff);
  // On concurrent CPUs, under the upper table's lock, with the entry checked again: another CPU may
  // have populated it (the kernel then frees the table it allocated before taking the lock; here the
  // table is allocated under the lock, so the pool's allocation counts stay those of one CPU).
  const mm = vma.vm_mm;
  ptl_lock(m, mm, parentOff, level + 1);
  try {
    const ent = m.pool.entries;
    if (!pte_none(ent, parentOff)) return (ent[parentOff]! >>> 12) | ((ent[parentOff + 1]! & PFN_HI_SHIFTED_MASK) << 20);
    return install_new_table(m, vma, level, parentOff);
  } finally {
    ptl_unlock(m, mm, parentOff, level + 1);
  }
}

/** A table of `level` from the design (or a fresh one) linked at the empty entry `parentOff`. */
function install_new_table(m: Machine, vma: VmAreaStruct, level: number, parentOff: number): number {
  let t = m.design.shareTable(m, vma, m.vmf.address, level);
  if (t < 0) t = m.pool.alloc(level);
  set_table_entry(m.pool.entries, parentOff, t);
  vma.vm_mm.nr[level]!++;
  return t;
}

/**
 * pmd_populate & co.: point the upper entry at word `off` to table `t`. The high word first, then the
 * low word with a releasing store (smp_wmb), so a CPU that sees the entry also sees the zeroed table.
 */
function set_table_entry(ent: Int32Array, off: number, t: number): void {
  ent[off + 1] = (t >>> 20) & PFN_HI_SHIFTED_MASK;
  Atomics.store(ent, off, (t << 12) | _PAGE_TABLE);
}

/**
 * The lock that guards the entries of the table of `tableLevel` holding word `off` in `mm`: the table's
 * own split lock for PTE and PMD tables (pte_lockptr, pmd_lockptr), mm->page_table_lock above (pud_lock
 * and the p4d/pgd populate paths); the pgd's ptl word stands for mm->page_table_lock. Taken only on
 * concurrent CPUs.
 */
export function ptl_lock(m: Machine, mm: MmStruct, off: number, tableLevel: number): void {
  if (!m.smp) return;
  const cls = tableLevel === 0 ? LOCK_PTE_PTL : tableLevel === 1 ? LOCK_PMD_PTL : LOCK_PAGE_TABLE;
  spin_lock(m.pool.ptl, ptl_word(mm, off, tableLevel), m.lockstat, cls, m.locks);
}

export function ptl_unlock(m: Machine, mm: MmStruct, off: number, tableLevel: number): void {
  if (m.smp) spin_unlock(m.pool.ptl, ptl_word(mm, off, tableLevel));
}

/** The lock word of that table: its own for PTE and PMD tables, the PGD's (page_table_lock) above. */
function ptl_word(mm: MmStruct, off: number, tableLevel: number): number {
  return (tableLevel <= 1 ? off >>> 10 : mm.pgd) * PTL_STRIDE;
}

/** The mapping's xa_lock around page-cache insertion, taken only on concurrent CPUs. */
export function xa_lock(m: Machine, file: AddressSpace): void {
  if (m.smp) spin_lock(file.xa_lock, 0, m.lockstat, LOCK_I_PAGES, m.locks);
}

export function xa_unlock(m: Machine, file: AddressSpace): void {
  if (m.smp) spin_unlock(file.xa_lock, 0);
}

/**
 * handle_pte_fault: an empty entry goes to do_pte_missing; anything else (present, swap entry,
 * marker) to handle_pte_entry. (Kept this small so the JIT inlines the whole first-touch path.)
 */
function handle_pte_fault(m: Machine, vmf: VmFault): number {
  const poff = vmf.poff;
  if (poff < 0) return do_pte_missing(m, vmf);
  const ent = m.pool.entries;
  const lo = ent[poff]!;
  const hi = ent[poff + 1]!;
  if (lo === 0 && hi === 0) return do_pte_missing(m, vmf);
  return handle_pte_entry(m, vmf, lo, hi);
}

/** handle_pte_fault for an entry that is not none. */
function handle_pte_entry(m: Machine, vmf: VmFault, lo: number, hi: number): number {
  const flags = vmf.flags;
  if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0) {
    // Non-present, non-none: swap entries and PTE markers. Concurrent CPUs never have those (src/smp
    // refuses such machines), so this is a read torn by another CPU installing the entry (a 64-bit
    // PTE is two 32-bit words here): retry the access.
    if (m.smp) return VM_FAULT_NOPAGE;
    if (hi >>> 27 !== SWP_PTE_MARKER) {
      throw new Error(`do_swap_page: swap entries are not produced by this model yet (pte ${hi >>> 0}:${lo >>> 0})`);
    }
    return handle_pte_marker(m, vmf, pgtable_types.pte_marker_get(lo, hi));
  }
  if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) !== 0) {
    if ((flags & FAULT_FLAG_WRITE) !== 0) {
      if ((lo & _PAGE_RW) === 0) return do_wp_page(m, vmf, lo, hi);
      return pte_mkyoung(m, vmf, lo, hi, PTE_MKDIRTY | _PAGE_ACCESSED);
    }
    // FAULT_FLAG_UNSHARE: only a not-exclusive anonymous page needs it (gup_must_unshare).
    if ((lo & _PAGE_RW) === 0) return do_wp_page(m, vmf, lo, hi);
    return 0;
  }
  // Spurious fault: the entry already allows the access; mark it young.
  return pte_mkyoung(m, vmf, lo, hi, _PAGE_ACCESSED);
}

/** ptep_set_access_flags under the PTE lock, if the entry is still the one the fault read. */
function pte_mkyoung(m: Machine, vmf: VmFault, lo: number, hi: number, bits: number): number {
  const ent = m.pool.entries;
  const poff = vmf.poff;
  pte_lock(m, vmf);
  if (ent[poff] === lo && ent[poff + 1] === hi) ent[poff] = lo | bits;
  pte_unlock(m, vmf);
  return 0;
}

/** pte_offset_map_lock / pte_unmap_unlock: ptl_lock of the fault's PTE table, kept apart for the hot path (no level to decode). */
function pte_lock(m: Machine, vmf: VmFault): void {
  if (m.smp) spin_lock(m.pool.ptl, vmf.table * PTL_STRIDE, m.lockstat, LOCK_PTE_PTL, m.locks);
}

function pte_unlock(m: Machine, vmf: VmFault): void {
  if (m.smp) spin_unlock(m.pool.ptl, vmf.table * PTL_STRIDE);
}

/** pte_none at word `poff` (rechecked under the PTE lock: another CPU may have filled it). */
function pte_none(ent: Int32Array, poff: number): boolean {
  return ent[poff] === 0 && ent[poff + 1] === 0;
}

/** A folio allocated for a fault that another CPU won: never mapped, freed again. */
function discard_new_anon_folio(m: Machine, f: number): void {
  m.folios.mapcount[f] = 0;
  m.folios.put(f);
}

/** do_pte_missing: an empty entry (or one a marker stood for): anonymous page or do_fault. */
function do_pte_missing(m: Machine, vmf: VmFault): number {
  const vma = vmf.vma!;
  if (vma.vm_file === null) return do_anonymous_page(m, vmf);
  // do_fault: dispatch on read / private write / shared write.
  vmf.result = 0;
  vmf.pgoff = (vmf.address - vma.vm_start) * INV_SPAN[0]! + vma.vm_pgoff;
  if ((vmf.flags & FAULT_FLAG_WRITE) === 0) return do_read_fault(m, vmf);
  if ((vma.vm_flags & VM_SHARED) === 0) return do_cow_fault(m, vmf);
  return do_shared_fault(m, vmf);
}

/**
 * handle_pte_marker: a marker is none for faulting (pte_none_mostly). A uffd-wp marker in a VMA still
 * registered for uffd-wp keeps the protection: the page is mapped with pte_mkuffd_wp (read-only,
 * uffd-wp bit) and a write then goes to the monitor (the kernel's retried fault reaching do_wp_page's
 * userfaultfd_pte_wp). Any other marker (or one left in an unregistered VMA) is just cleared
 * (pte_marker_clear) and the fault proceeds as on an empty entry.
 */
function handle_pte_marker(m: Machine, vmf: VmFault, marker: number): number {
  const ent = m.pool.entries;
  const poff = vmf.poff;
  const vma = vmf.vma!;
  m.events.pteMarkerFaults++;
  ent[poff] = 0;
  ent[poff + 1] = 0;
  const r = do_pte_missing(m, vmf);
  if ((marker & PTE_MARKER_UFFD_WP) === 0 || (vma.vm_flags & VM_UFFD_WP) === 0) return r;
  if ((ent[poff]! & _PAGE_PRESENT) !== 0) {
    ent[poff] = (ent[poff]! | _PAGE_UFFD_WP) & ~_PAGE_RW;
    if ((r & VM_FAULT_ERROR) === 0 && (vmf.flags & FAULT_FLAG_WRITE) !== 0) return handle_userfault_wp(m, r);
  } else if (ent[poff] === 0 && ent[poff + 1] === 0) {
    // The fault failed (SIGBUS beyond EOF): the protection stays.
    pgtable_types.set_pte_marker(ent, poff, marker);
  }
  return r;
}

/** handle_userfault(vmf, VM_UFFD_WP): the write is reported to the monitor and waits. */
export function handle_userfault_wp(m: Machine, r: number): number {
  m.events.uffdWpFaults++;
  return r | VM_FAULT_RETRY;
}

/**
 * Walk `vma`'s mm towards m.vmf.address, allocating missing tables above `level` (through the design,
 * like any fault), and return the word offset of the entry that points (or will point) at the table
 * of `level`.
 */
export function walk_alloc(m: Machine, vma: VmAreaStruct, level: number): number {
  const ent = m.pool.entries;
  const addr = m.vmf.address;
  let t = vma.vm_mm.pgd;
  for (let l = m.rootLevel; ; l--) {
    const off = t * 1024 + (((addr * INV_SPAN[l]!) & 511) << 1);
    if (l === level + 1) return off;
    const lo = ent[off]!;
    t = lo === 0 && ent[off + 1] === 0 ? pgtable_alloc(m, vma, l - 1, off) : (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  }
}

/**
 * Point `vma`'s mm at the shared table `t` of `level` for m.vmf.address (its upper tables are its
 * own), if its entry there is still empty: the link a host-mm design makes after a host fault.
 */
export function link_shared_table(m: Machine, vma: VmAreaStruct, level: number, t: number): void {
  const off = walk_alloc(m, vma, level);
  const ent = m.pool.entries;
  if (!pte_none(ent, off)) return;
  // Under the upper table's lock, as pgtable_alloc: another CPU of this mm may have linked it.
  const mm = vma.vm_mm;
  ptl_lock(m, mm, off, level + 1);
  if (pte_none(ent, off)) {
    m.pool.shareInc(t);
    set_table_entry(ent, off, t);
    mm.nr[level]!++;
  }
  ptl_unlock(m, mm, off, level + 1);
}

/** pte_alloc: install the PTE table under the empty PMD entry of this fault. */
function pte_alloc(m: Machine, vmf: VmFault): void {
  const t = pgtable_alloc(m, vmf.vma!, 0, vmf.pmdOff);
  vmf.table = t;
  vmf.poff = t * 1024 + (((vmf.address * INV_SPAN[0]!) & 511) << 1);
}

/** Install a leaf PTE for folio `f` with protection from the VMA (set_pte_at). */
function set_pte(ent: Int32Array, poff: number, f: number, lo: number, hi: number): void {
  ent[poff] = (f << 12) | lo;
  ent[poff + 1] = (f >>> 20) | hi;
}

/** anon_vma_prepare. */
export function anon_vma_prepare(m: Machine, vma: VmAreaStruct): void {
  if (vma.anon_vma !== null) return;
  if (m.smp) throw new Error('BUG: anon_vma_prepare on a concurrent CPU: the machine must be prepared first (smp_prepare)');
  vma.anon_vma = { id: m.nextAnonVmaId++ };
}

/** folio_add_new_anon_rmap + the new folio's bookkeeping: exclusive, mapped once. */
function new_anon_folio(m: Machine, vmf: VmFault): number {
  const fo = m.folios;
  const vma = vmf.vma!;
  return fo.alloc(0, 1, 1, PG_anon | PG_anon_exclusive | PG_swapbacked | PG_uptodate, vma.anon_vma!.id,
    (vmf.address - vma.vm_start) * INV_SPAN[0]! + vma.vm_pgoff);
}

/** do_anonymous_page: the zero page for reads, a new exclusive anonymous folio for writes. */
function do_anonymous_page(m: Machine, vmf: VmFault): number {
  const ent = m.pool.entries;
  const vma = vmf.vma!;
  if (vmf.poff < 0) pte_alloc(m, vmf);
  const poff = vmf.poff;
  if ((vmf.flags & FAULT_FLAG_WRITE) === 0) {
    // Use the zero-page for reads: pte_mkspecial(pfn_pte(my_zero_pfn(addr), vma->vm_page_prot)).
    pte_lock(m, vmf);
    if (!pte_none(ent, poff)) {
      pte_unlock(m, vmf);
      return VM_FAULT_NOPAGE;
    }
    set_pte(ent, poff, ZERO_PFN, (vma.prot_lo & ~_PAGE_RW) | _PAGE_SPECIAL, vma.prot_hi);
    pte_unlock(m, vmf);
    m.events.zeroPageFaults++;
    return 0;
  }
  anon_vma_prepare(m, vma);
  const f = new_anon_folio(m, vmf);
  pte_lock(m, vmf);
  if (!pte_none(ent, poff)) {
    pte_unlock(m, vmf);
    discard_new_anon_folio(m, f);
    return VM_FAULT_NOPAGE;
  }
  set_pte(ent, poff, f, vma.prot_lo | _PAGE_RW | PTE_MKDIRTY, vma.prot_hi);
  pte_unlock(m, vmf);
  vma.vm_mm.rss[MM_ANONPAGES]!++;
  m.events.anonFaults++;
  return 0;
}

/** mm_counter_file. */
function mm_counter_file(swapBacked: boolean): number {
  return swapBacked ? MM_SHMEMPAGES : MM_FILEPAGES;
}

/**
 * __do_fault -> shmem_fault / filemap_fault: the page-cache folio for `pgoff`, allocated if absent,
 * returned with a reference held for the caller. -1 with m.faultResult set when beyond EOF.
 */
function filemap_get_folio(m: Machine, vmf: VmFault): number {
  const file = vmf.vma!.vm_file!;
  const pgoff = vmf.pgoff;
  if (pgoff >= file.limit) {
    vmf.result = VM_FAULT_SIGBUS;
    return -1;
  }
  const f = file.pages[pgoff]! - 1;
  if (f < 0) return filemap_add_folio(m, vmf);
  m.folios.get(f);
  return f;
}

/**
 * The page is not in the page cache: allocate it (shmem_alloc_folio / filemap_add_folio) with two
 * references, the page cache's and the caller's. Shmem pages start zeroed; file pages are read in.
 */
function filemap_add_folio(m: Machine, vmf: VmFault): number {
  const file = vmf.vma!.vm_file!;
  // shmem_alloc_folio / filemap_alloc_folio: two references, the page cache's and the caller's.
  const f = m.folios.alloc(0, 2, 0, file.folioFlags, file.id, vmf.pgoff);
  if (!m.smp) return filemap_insert_new_folio(m, vmf, f); // no lock, no try/finally on the single-CPU fault path
  return filemap_add_folio_locked(m, vmf, f);
}

/**
 * On concurrent CPUs the folio is allocated before the mapping's xa_lock is taken (as
 * shmem_add_to_page_cache does), and another CPU may have added one since the lockless lookup:
 * -EEXIST, the new folio is dropped and the cached one taken.
 */
function filemap_add_folio_locked(m: Machine, vmf: VmFault, f: number): number {
  const file = vmf.vma!.vm_file!;
  xa_lock(m, file);
  const cached = file.pages[vmf.pgoff]! - 1;
  if (cached >= 0) {
    m.folios.get(cached);
    xa_unlock(m, file);
    m.folios.put(f);
    m.folios.put(f);
    return cached;
  }
  try {
    return filemap_insert_new_folio(m, vmf, f);
  } finally {
    xa_unlock(m, file);
  }
}

function filemap_insert_new_folio(m: Machine, vmf: VmFault, f: number): number {
  const file = vmf.vma!.vm_file!;
  file.pages[vmf.pgoff] = f + 1;
  file.nrpages++;
  if (file.swapped !== null || !file.swapBacked) filemap_read_folio(m, vmf, f);
  return f;
}

/**
 * The new page-cache folio's contents come from storage, a major fault: shmem_swapin_folio for a
 * swapped-out shmem page, a read of the file for a regular file.
 */
function filemap_read_folio(m: Machine, vmf: VmFault, f: number): void {
  const file = vmf.vma!.vm_file!;
  if (file.swapped !== null) {
    const c = file.swapIn(vmf.pgoff);
    if (c !== undefined) {
      m.folios.content[f] = c;
      m.events.pswpin++;
      m.events.pgmajfault++;
      vmf.result = VM_FAULT_MAJOR;
    }
  }
  if (!file.swapBacked) {
    m.events.pgmajfault++;
    vmf.result = VM_FAULT_MAJOR;
  }
}

/** finish_fault / set_pte_range for a page-cache folio (reference already taken). */
function map_file_folio(m: Machine, vma: VmAreaStruct, poff: number, f: number, write: boolean): void {
  const fo = m.folios;
  let lo = vma.prot_lo;
  if (write) {
    lo |= PTE_MKDIRTY | ((vma.vm_flags & VM_WRITE) !== 0 ? _PAGE_RW : 0);
    fo.setFlags(f, PG_dirty);
  }
  set_pte(m.pool.entries, poff, f, lo, vma.prot_hi);
  fo.mapInc(f);
  vma.vm_mm.rss[vma.vm_file!.rssCounter]!++;
}

/**
 * do_read_fault: fault-around first (filemap_map_pages maps up to fault_around_pages PTEs around the
 * address, only for folios already in the page cache), then read the faulting page if still unmapped.
 */
function do_read_fault(m: Machine, vmf: VmFault): number {
  const vma = vmf.vma!;
  // should_fault_around: not for uffd-wp VMAs (uffd_disable_fault_around: each PTE's protection is its own).
  const nr = (vma.vm_flags & VM_UFFD_WP) === 0 ? m.faultAroundPages : 1;
  const pgoff = vmf.pgoff;
  const ent = m.pool.entries;
  m.events.readFaults++;
  if (nr > 1) {
    const pte_off = (vmf.address * INV_SPAN[0]!) & 511;
    const vma_off = pgoff - vma.vm_pgoff;
    const from = Math.max(pte_off - (pte_off & (nr - 1)), pte_off - Math.min(pte_off, vma_off));
    const to = Math.min(from + nr, 512, pte_off + vma.pages - vma_off) - 1;
    const file = vma.vm_file!;
    const pages = file.pages;
    const limit = file.limit;
    const fo = m.folios;
    const pgoffBase = pgoff - pte_off;
    let locked = false;
    for (let i = from; i <= to; i++) {
      const idx = pgoffBase + i;
      if (idx >= limit) break;
      const f = pages[idx]! - 1;
      if (f < 0) continue;
      // filemap_map_pmd: the PTE table is installed once there is a folio to map; the PTEs are
      // then set under its lock.
      if (!locked) {
        if (vmf.table < 0) pte_alloc(m, vmf);
        pte_lock(m, vmf);
        locked = true;
      }
      const o = vmf.table * 1024 + (i << 1);
      if (ent[o] !== 0 || ent[o + 1] !== 0) continue;
      fo.get(f);
      map_file_folio(m, vma, o, f, false);
      if (i !== pte_off) m.events.faultAroundPtes++;
    }
    if (locked) pte_unlock(m, vmf);
    if (vmf.poff >= 0 && ent[vmf.poff] !== 0) return VM_FAULT_NOPAGE;
  }
  const f = filemap_get_folio(m, vmf);
  if (f < 0) return vmf.result;
  return finish_fault(m, vmf, f, false);
}

/**
 * finish_fault: map page-cache folio `f` (reference already taken) at the fault's PTE, allocating the
 * PTE table if needed; if another CPU filled the entry meanwhile, drop the reference and retry.
 */
function finish_fault(m: Machine, vmf: VmFault, f: number, write: boolean): number {
  if (vmf.poff < 0) pte_alloc(m, vmf);
  pte_lock(m, vmf);
  if (!pte_none(m.pool.entries, vmf.poff)) {
    pte_unlock(m, vmf);
    m.folios.put(f);
    return VM_FAULT_NOPAGE;
  }
  map_file_folio(m, vmf.vma!, vmf.poff, f, write);
  pte_unlock(m, vmf);
  return vmf.result;
}

/** do_cow_fault: a write to an unmapped page of a private file mapping copies the page-cache page. */
function do_cow_fault(m: Machine, vmf: VmFault): number {
  const vma = vmf.vma!;
  m.events.cowFaults++;
  anon_vma_prepare(m, vma);
  const src = filemap_get_folio(m, vmf);
  if (src < 0) return vmf.result;
  const fo = m.folios;
  const f = new_anon_folio(m, vmf);
  fo.content[f] = fo.content[src]!;
  fo.put(src);
  if (vmf.poff < 0) pte_alloc(m, vmf);
  pte_lock(m, vmf);
  if (!pte_none(m.pool.entries, vmf.poff)) {
    pte_unlock(m, vmf);
    discard_new_anon_folio(m, f);
    return VM_FAULT_NOPAGE;
  }
  set_pte(m.pool.entries, vmf.poff, f, vma.prot_lo | _PAGE_RW | PTE_MKDIRTY, vma.prot_hi);
  pte_unlock(m, vmf);
  vma.vm_mm.rss[MM_ANONPAGES]!++;
  return vmf.result;
}

/** do_shared_fault: map the page-cache folio writable and dirty (after page_mkwrite for files). */
function do_shared_fault(m: Machine, vmf: VmFault): number {
  m.events.sharedFaults++;
  const f = filemap_get_folio(m, vmf);
  if (f < 0) return vmf.result;
  return finish_fault(m, vmf, f, true);
}

/**
 * wp_can_reuse_anon_folio (small folios): not KSM, no references beyond the one mapping (the
 * swap cache may hold one more), then reuse.
 */
function wp_can_reuse_anon_folio(m: Machine, f: number): boolean {
  const fo = m.folios;
  const fl = fo.flags[f]!;
  if ((fl & PG_ksm) !== 0 || fo.refcount[f]! > 3) return false;
  if (fo.refcount[f]! > 1 + ((fl & PG_swapcache) !== 0 ? 1 : 0)) return false;
  return fo.refcount[f] === 1;
}

/**
 * do_wp_page: a write (or FAULT_FLAG_UNSHARE) on a present, write-protected PTE.
 * Shared mappings: make writable (wp_page_shared). Private: reuse an exclusive anonymous page
 * (PageAnonExclusive, or wp_can_reuse_anon_folio), otherwise copy (wp_page_copy).
 */
function do_wp_page(m: Machine, vmf: VmFault, lo: number, hi: number): number {
  if (!m.smp) return do_wp_page_locked(m, vmf, lo, hi);
  // Under the PTE lock, if the entry is still the one the fault read (pte_same), else retry. The
  // copy case keeps the lock while it allocates (the kernel drops it and checks pte_same again).
  const ent = m.pool.entries;
  pte_lock(m, vmf);
  try {
    if (ent[vmf.poff] !== lo || ent[vmf.poff + 1] !== hi) return 0;
    return do_wp_page_locked(m, vmf, lo, hi);
  } finally {
    pte_unlock(m, vmf);
  }
}

function do_wp_page_locked(m: Machine, vmf: VmFault, lo: number, hi: number): number {
  const ent = m.pool.entries;
  const fo = m.folios;
  const vma = vmf.vma!;
  const poff = vmf.poff;
  const unshare = (vmf.flags & FAULT_FLAG_UNSHARE) !== 0;
  // userfaultfd_pte_wp: a write to a uffd-wp-protected entry goes to the monitor.
  if ((lo & _PAGE_UFFD_WP) !== 0 && !unshare && (vma.vm_flags & VM_UFFD_WP) !== 0) return handle_userfault_wp(m, 0);
  const f = (lo & _PAGE_SPECIAL) !== 0 ? -1 : (lo >>> 12) | ((hi & PFN_HI_SHIFTED_MASK) << 20);
  if ((vma.vm_flags & (VM_SHARED | VM_MAYSHARE)) !== 0) {
    if (unshare) return 0; // no anonymous page in a shared mapping, nothing to unshare
    ent[poff] = lo | _PAGE_RW | PTE_MKDIRTY | _PAGE_ACCESSED;
    if (f >= 0) fo.setFlags(f, PG_dirty);
    m.events.wpShared++;
    return 0;
  }
  if (f >= 0 && (fo.flags[f]! & PG_anon) !== 0) {
    const fl = fo.flags[f]!;
    if ((fl & PG_anon_exclusive) !== 0 || wp_can_reuse_anon_folio(m, f)) {
      fo.setFlags(f, PG_anon_exclusive);
      if (unshare) {
        m.events.unshareReuse++;
        return 0;
      }
      // wp_page_reuse
      ent[poff] = lo | _PAGE_RW | PTE_MKDIRTY | _PAGE_ACCESSED;
      m.events.wpReuse++;
      return 0;
    }
  }
  return wp_page_copy(m, vmf, f, unshare);
}

/**
 * wp_page_copy: a new exclusive anonymous folio with the old contents (zeroed if the old page was the
 * zero page). For FAULT_FLAG_UNSHARE the new PTE stays read-only but the page is exclusive.
 */
function wp_page_copy(m: Machine, vmf: VmFault, old: number, unshare: boolean): number {
  const ent = m.pool.entries;
  const fo = m.folios;
  const vma = vmf.vma!;
  const poff = vmf.poff;
  const mm = vma.vm_mm;
  const oldLo = ent[poff]!;
  anon_vma_prepare(m, vma);
  const f = new_anon_folio(m, vmf);
  fo.content[f] = old >= 0 ? fo.content[old]! : 0;
  let lo = vma.prot_lo;
  if (unshare) {
    lo |= oldLo & (_PAGE_SOFT_DIRTY | _PAGE_UFFD_WP);
    m.events.unshareCopy++;
  } else {
    lo |= PTE_MKDIRTY | ((vma.vm_flags & VM_WRITE) !== 0 ? _PAGE_RW : 0);
    m.events.wpCopy++;
  }
  if (old >= 0) {
    const anon = (fo.flags[old]! & PG_anon) !== 0;
    if ((fo.flags[old]! & PG_ksm) !== 0 && !unshare) m.events.ksmCowBreaks++;
    if (!anon) {
      mm.rss[mm_counter_file((fo.flags[old]! & PG_swapbacked) !== 0)]!--;
      mm.rss[MM_ANONPAGES]!++;
    }
    fo.mapDec(old);
    fo.put(old);
  } else {
    mm.rss[MM_ANONPAGES]!++;
  }
  set_pte(ent, poff, f, lo, vma.prot_hi);
  // ptep_clear_flush: the old translation goes from every CPU that may cache it.
  if (old >= 0 || (oldLo & _PAGE_PRESENT) !== 0) {
    const page = m.vmf.address - (m.vmf.address % 4096);
    flush_vma_range(m, vma, page, page + 4096, 1);
  }
  return 0;
}
