/**
 * The page-fault path, after mm/memory.c: handle_mm_fault -> __handle_mm_fault (walk, allocating
 * tables on demand through the sharing design: pgalloc.ts) -> handle_pte_fault -> do_anonymous_page /
 * do_fault (do_read_fault with fault-around, do_cow_fault, do_shared_fault; the page cache is
 * filemap.ts) / do_wp_page (wp_page.ts), with FAULT_FLAG_UNSHARE. struct vm_fault is vm_fault.ts.
 *
 * Hot path rules: typed arrays and integer arithmetic only, no allocation per fault.
 */
import type { MmStruct } from './mm_types.js';
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import * as folio_flags from './folio.js';
import * as hugetlb_mod from './hugetlb.js';
import type { MachineState } from './machine_types.js';
import * as mm_counters from './mm_types.js';
import type { VmAreaStruct } from './vma.js';
import * as vm_flags from './vma.js';
import * as vm_fault_mod from './vm_fault.js';
import type { VmFault } from './vm_fault.js';
import * as pgalloc_mod from './pgalloc.js';
import * as filemap_mod from './filemap.js';
import * as rmap_mod from './rmap.js';
import * as wp_page_mod from './wp_page.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const _PAGE_ACCESSED = pgtable_types._PAGE_ACCESSED;
const PTE_MKDIRTY = pgtable_types.PTE_MKDIRTY;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const SWP_PTE_MARKER = pgtable_types.SWP_PTE_MARKER;
const PTE_MARKER_UFFD_WP = pgtable_types.PTE_MARKER_UFFD_WP;
const ZERO_PFN = folio_flags.ZERO_PFN;
const MM_ANONPAGES = mm_counters.MM_ANONPAGES;
const VM_EXEC = vm_flags.VM_EXEC;
const VM_HUGETLB = vm_flags.VM_HUGETLB;
const VM_DESIGN_FAULT = vm_flags.VM_DESIGN_FAULT;
const VM_READ = vm_flags.VM_READ;
const VM_SHARED = vm_flags.VM_SHARED;
const VM_UFFD_WP = vm_flags.VM_UFFD_WP;
const VM_WRITE = vm_flags.VM_WRITE;
const FAULT_FLAG_WRITE = vm_fault_mod.FAULT_FLAG_WRITE;
const FAULT_FLAG_UNSHARE = vm_fault_mod.FAULT_FLAG_UNSHARE;
const VM_FAULT_SIGSEGV = vm_fault_mod.VM_FAULT_SIGSEGV;
const VM_FAULT_NOPAGE = vm_fault_mod.VM_FAULT_NOPAGE;
const VM_FAULT_ERROR = vm_fault_mod.VM_FAULT_ERROR;
const handle_userfault_wp = vm_fault_mod.handle_userfault_wp;
const pgtable_alloc = pgalloc_mod.pgtable_alloc;
const pte_lock = pgalloc_mod.pte_lock;
const pte_unlock = pgalloc_mod.pte_unlock;
const pte_none = pgalloc_mod.pte_none;
const pte_alloc = pgalloc_mod.pte_alloc;
const set_pte = pgalloc_mod.set_pte;
const filemap_get_folio = filemap_mod.filemap_get_folio;
const discard_new_anon_folio = rmap_mod.discard_new_anon_folio;
const anon_vma_prepare = rmap_mod.anon_vma_prepare;
const new_anon_folio = rmap_mod.new_anon_folio;
const do_wp_page = wp_page_mod.do_wp_page;
const hugetlb_fault = hugetlb_mod.hugetlb_fault;
const PG_dirty = folio_flags.PG_dirty;

/** 1 / ENTRY_SPAN[L]: multiplying by a power-of-two reciprocal is exact and cheaper than dividing. */
const INV_SPAN = Float64Array.from(ENTRY_SPAN, (s) => 1 / s);

/**
 * do_user_addr_fault (arch/x86/mm/fault.c): find the VMA, check access_error, handle the fault.
 * The faulting address is read from m.vmf.address, as the kernel reads it from cr2: passing a 64-bit
 * address as an argument would box it on every call. Returns 0 or VM_FAULT_* bits (SIGSEGV for no
 * VMA or a disallowed access).
 */
export function do_user_addr_fault(m: MachineState, mm: MmStruct, write: boolean): number {
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
export function handle_mm_fault(m: MachineState, vma: VmAreaStruct, flags: number): number {
  m.events.pgfault++;
  return __handle_mm_fault(m, vma, flags);
}

/** The fault itself, without the accounting (a design that runs a fault in a host mm calls this). */
export function __handle_mm_fault(m: MachineState, vma: VmAreaStruct, flags: number): number {
  if ((vma.vm_flags & (VM_HUGETLB | VM_DESIGN_FAULT)) !== 0) {
    if ((vma.vm_flags & VM_DESIGN_FAULT) !== 0) return m.design.handleFault!(m, vma, flags);
    return hugetlb_fault(m, vma, flags);
  }
  return handle_pte_level_fault(m, vma, flags);
}

/** The walk and PTE-level fault of a 4 KiB-page VMA (a design may fall back to it for private parts). */
export function handle_pte_level_fault(m: MachineState, vma: VmAreaStruct, flags: number): number {
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
function walk_pmd(m: MachineState, vma: VmAreaStruct, addr: number): number {
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
 * handle_pte_fault: an empty entry goes to do_pte_missing; anything else (present, swap entry,
 * marker) to handle_pte_entry. (Kept this small so the JIT inlines the whole first-touch path.)
 */
function handle_pte_fault(m: MachineState, vmf: VmFault): number {
  const poff = vmf.poff;
  if (poff < 0) return do_pte_missing(m, vmf);
  const ent = m.pool.entries;
  const lo = ent[poff]!;
  const hi = ent[poff + 1]!;
  if (lo === 0 && hi === 0) return do_pte_missing(m, vmf);
  return handle_pte_entry(m, vmf, lo, hi);
}

/** handle_pte_fault for an entry that is not none. */
function handle_pte_entry(m: MachineState, vmf: VmFault, lo: number, hi: number): number {
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
function pte_mkyoung(m: MachineState, vmf: VmFault, lo: number, hi: number, bits: number): number {
  const ent = m.pool.entries;
  const poff = vmf.poff;
  pte_lock(m, vmf);
  if (ent[poff] === lo && ent[poff + 1] === hi) ent[poff] = lo | bits;
  pte_unlock(m, vmf);
  return 0;
}

/** do_pte_missing: an empty entry (or one a marker stood for): anonymous page or do_fault. */
function do_pte_missing(m: MachineState, vmf: VmFault): number {
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
function handle_pte_marker(m: MachineState, vmf: VmFault, marker: number): number {
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

/** do_anonymous_page: the zero page for reads, a new exclusive anonymous folio for writes. */
function do_anonymous_page(m: MachineState, vmf: VmFault): number {
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

/** finish_fault / set_pte_range for a page-cache folio (reference already taken). */
function map_file_folio(m: MachineState, vma: VmAreaStruct, poff: number, f: number, write: boolean): void {
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
function do_read_fault(m: MachineState, vmf: VmFault): number {
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
function finish_fault(m: MachineState, vmf: VmFault, f: number, write: boolean): number {
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
function do_cow_fault(m: MachineState, vmf: VmFault): number {
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
function do_shared_fault(m: MachineState, vmf: VmFault): number {
  m.events.sharedFaults++;
  const f = filemap_get_folio(m, vmf);
  if (f < 0) return vmf.result;
  return finish_fault(m, vmf, f, true);
}
