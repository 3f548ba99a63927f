/**
 * mmap, munmap and VMA splitting, after mm/mmap.c and mm/vma.c: do_mmap -> get_unmapped_area
 * (top-down from mmap_base) -> mmap_region; do_vmi_munmap -> __split_vma -> unmap_region
 * (zap, then free_pgtables between the remaining neighbours).
 *
 * Arguments are validated before anything changes: on error the state is as it was.
 */
import { PAGE_SIZE, isAligned } from '../arch/pgtable_64_types.js';
import { fail } from './errno.js';
import type { AddressSpace } from './address_space.js';
import { free_pgtables } from './free_pgtables.js';
import { do_user_addr_fault } from './memory.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import {
  is_vm_hugetlb_page, VM_EXEC, VM_HUGETLB, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_NORESERVE,
  VM_READ, VM_SHARED, VM_SOFTDIRTY, VM_WRITE, VmAreaStruct,
} from './vma.js';
import { unmap_page_range } from './zap.js';
import { flush_tlb_range, tlb_gather_begin, tlb_gather_end } from './tlbflush.js';
import { VM_FAULT_NOT_DONE } from './vm_fault.js';

export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
const PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_HUGETLB = 0x40000;
export const MAP_FIXED_NOREPLACE = 0x100000;
/** The 2023 ptshare RFC's opt-in flag (its value here is this model's: a bit x86 leaves unused). */
export const MAP_SHARED_PT = 0x200000;
export const MAP_HUGE_SHIFT = 26;
export const MAP_HUGE_MASK = 0x3f;
export const MAP_HUGE_2MB = 21 << MAP_HUGE_SHIFT;
export const MAP_HUGE_1GB = 30 << MAP_HUGE_SHIFT;
const MAP_KNOWN = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE | MAP_HUGETLB
  | MAP_FIXED_NOREPLACE | MAP_SHARED_PT | (MAP_HUGE_MASK << MAP_HUGE_SHIFT);

/** mmap_min_addr default (security): no user mapping below 64 KiB. */
export const MMAP_MIN_ADDR = 65536;
/** mmap_base without randomization: TASK_SIZE - 128 MiB (the minimum stack gap). */
export function mmap_base(m: MachineState): number {
  return m.mode.taskSize - 128 * 2 ** 20;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function checkLength(len: number): void {
  if (typeof len !== 'number' || !Number.isInteger(len) || len <= 0) {
    fail('EINVAL', 'length', `must be a positive whole number of bytes, got ${String(len)}`);
  }
}

/** Does any VMA of mm overlap [start, end)? */
function overlaps(mm: MmStruct, start: number, end: number): boolean {
  const i = mm.firstEndingAfter(start);
  return i < mm.vmas.length && mm.vmas[i]!.vm_start < end;
}

/** unmapped_area_topdown: the highest free, `align`-aligned range of `len` below mmap_base. */
function get_unmapped_area(m: MachineState, mm: MmStruct, hint: number, len: number, align: number): number {
  if (hint !== 0) {
    const a = Math.ceil(hint / align) * align;
    if (a >= MMAP_MIN_ADDR && a + len <= m.mode.taskSize && !overlaps(mm, a, a + len)) return a;
  }
  // Gaps from the top: [vmas[i].vm_end, ceiling) with ceiling = min(mmap_base, vmas[i+1].vm_start).
  let ceiling = mmap_base(m);
  for (let i = mm.vmas.length - 1; i >= -1; i--) {
    const low = i >= 0 ? mm.vmas[i]!.vm_end : MMAP_MIN_ADDR;
    if (low < ceiling) {
      const top = Math.floor((ceiling - len) / align) * align;
      if (top >= low) return top;
    }
    if (i >= 0) ceiling = Math.min(ceiling, mm.vmas[i]!.vm_start);
  }
  return fail('ENOMEM', 'addr', `no free range of ${len} bytes (aligned to ${align}) below mmap_base`);
}

export interface MmapArgs {
  addr: number;
  length: number;
  prot: number;
  flags: number;
  file?: AddressSpace | null;
  /** Offset in bytes into the file. */
  offset?: number;
}

/** do_mmap + mmap_region. Returns the mapped address. */
export function do_mmap(m: MachineState, mm: MmStruct, a: MmapArgs): number {
  const { prot, flags } = a;
  let file = a.file ?? null;
  const offset = a.offset ?? 0;
  let addr = a.addr;
  checkLength(a.length);
  if (!Number.isInteger(prot) || (prot & ~PROT_ALL) !== 0) fail('EINVAL', 'prot', `unknown bits ${hex(prot & ~PROT_ALL)}; allowed PROT_READ|PROT_WRITE|PROT_EXEC`);
  if (!Number.isInteger(flags) || (flags & ~MAP_KNOWN) !== 0) fail('EINVAL', 'flags', `unknown bits ${hex(flags & ~MAP_KNOWN)}`);
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) {
    fail('EINVAL', 'flags', 'exactly one of MAP_SHARED or MAP_PRIVATE is required');
  }
  const shared = type !== MAP_PRIVATE;
  const anonymous = (flags & MAP_ANONYMOUS) !== 0;
  if (anonymous && file !== null) fail('EINVAL', 'file', 'MAP_ANONYMOUS takes no file');
  if (!anonymous && file === null) fail('EBADF', 'file', 'a file is required without MAP_ANONYMOUS');
  if (!Number.isInteger(offset) || offset < 0 || offset % PAGE_SIZE !== 0) fail('EINVAL', 'offset', `must be a multiple of ${PAGE_SIZE}, got ${offset}`);
  if (!Number.isInteger(addr) || addr < 0) fail('EINVAL', 'addr', `must be a non-negative integer, got ${addr}`);

  // Huge pages: MAP_HUGETLB on anonymous memory, or a hugetlbfs file.
  let hpageShift = 12;
  if ((flags & MAP_HUGETLB) !== 0) {
    if (!anonymous) fail('EINVAL', 'flags', 'MAP_HUGETLB needs MAP_ANONYMOUS (map a hugetlbfs file instead)');
    hpageShift = (flags >>> MAP_HUGE_SHIFT) & MAP_HUGE_MASK || 21;
    if (hpageShift !== 21 && hpageShift !== 30) fail('EINVAL', 'flags', `huge page size 2^${hpageShift} is not supported on x86-64 (2 MiB or 1 GiB)`);
  } else if (file !== null && file.kind === 'hugetlbfs') {
    hpageShift = file.pageShift;
  }
  const align = 2 ** hpageShift;
  const len = Math.ceil(a.length / align) * align;
  if (len > m.mode.taskSize) fail('ENOMEM', 'length', `${len} bytes exceed the ${m.mode.levels}-level user address space (${m.mode.taskSize} bytes)`);
  if (hpageShift !== 12 && offset % align !== 0) fail('EINVAL', 'offset', `must be a multiple of the huge page size ${align}`);

  const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
  if (fixed) {
    if (!isAligned(addr, hpageShift === 12 ? PAGE_SIZE : align)) fail('EINVAL', 'addr', `${hex(addr)} is not aligned to ${hpageShift === 12 ? PAGE_SIZE : align}`);
    if (addr < MMAP_MIN_ADDR) fail('EPERM', 'addr', `${hex(addr)} is below mmap_min_addr ${hex(MMAP_MIN_ADDR)}`);
    if (addr + len > m.mode.taskSize) fail('ENOMEM', 'addr', `${hex(addr)}+${len} ends beyond TASK_SIZE ${hex(m.mode.taskSize)} (${m.mode.levels}-level paging)`);
    if ((flags & MAP_FIXED_NOREPLACE) !== 0 && overlaps(mm, addr, addr + len)) {
      fail('EEXIST', 'addr', `MAP_FIXED_NOREPLACE range ${hex(addr)}-${hex(addr + len)} overlaps an existing mapping`);
    }
    if ((flags & MAP_FIXED) !== 0) check_munmap_splits(mm, addr, addr + len);
  } else {
    addr = get_unmapped_area(m, mm, addr, len, align);
  }

  // Objects created by the mapping itself: shmem_zero_setup, hugetlb_file_setup.
  if (anonymous && hpageShift !== 12) {
    file = m.hugetlbfs_create(`anon_hugepage`, len, hpageShift === 21 ? '2M' : '1G');
    file.refs--; // no descriptor: the VMA holds the only reference
  } else if (anonymous && shared) {
    file = m.memfd_create('dev/zero', len);
    file.refs--;
    file.anonShared = true;
  }

  let vm_flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_SOFTDIRTY;
  if (prot & PROT_READ) vm_flags |= VM_READ;
  if (prot & PROT_WRITE) vm_flags |= VM_WRITE | VM_READ;
  if (prot & PROT_EXEC) vm_flags |= VM_EXEC;
  if (shared) vm_flags |= VM_SHARED | VM_MAYSHARE;
  if (flags & MAP_NORESERVE) vm_flags |= VM_NORESERVE;
  if (file !== null && file.kind === 'hugetlbfs') vm_flags |= VM_HUGETLB;

  const pgoff = file === null ? addr / PAGE_SIZE : offset / PAGE_SIZE;
  if (m.design.mmapPrepare !== undefined) vm_flags |= m.design.mmapPrepare(m, mm, addr, len, flags, file, pgoff);
  else if ((flags & MAP_SHARED_PT) !== 0) fail('EINVAL', 'flags', `MAP_SHARED_PT needs the ptshare design (this machine runs '${m.design.name}')`);

  if ((flags & MAP_FIXED) !== 0) do_munmap(m, mm, addr, len);

  const vma = new VmAreaStruct(mm, addr, addr + len, vm_flags, pgoff, file);
  insert_vma(mm, vma);
  if (file !== null) {
    file.refs++;
    file.i_mmap.push(vma);
  }
  m.design.vmaMapped?.(m, vma);
  if ((flags & MAP_POPULATE) !== 0) populate_vma(m, vma);
  return addr;
}

/** __mm_populate: fault every page in, with a write fault for private writable mappings. */
function populate_vma(m: MachineState, vma: VmAreaStruct): void {
  const write = (vma.vm_flags & (VM_WRITE | VM_SHARED)) === VM_WRITE;
  const step = is_vm_hugetlb_page(vma) ? 2 ** vma.vm_file!.pageShift : PAGE_SIZE;
  for (let a = vma.vm_start; a < vma.vm_end; a += step) {
    m.vmf.address = a;
    const r = do_user_addr_fault(m, vma.vm_mm, write);
    if (r & VM_FAULT_NOT_DONE) break;
  }
}

export function insert_vma(mm: MmStruct, vma: VmAreaStruct): void {
  const i = mm.firstEndingAfter(vma.vm_start);
  mm.vmas.splice(i, 0, vma);
}

/** The hugetlb split rule (hugetlb_vm_op_split): a hugetlb VMA splits only at huge-page boundaries. */
function check_split(vma: VmAreaStruct, at: number): void {
  if (at <= vma.vm_start || at >= vma.vm_end) return;
  if (is_vm_hugetlb_page(vma)) {
    const h = 2 ** vma.vm_file!.pageShift;
    if (!isAligned(at, h)) fail('EINVAL', 'addr', `${hex(at)} would split a hugetlb mapping inside a ${h}-byte page`);
  }
}

/** Validate that [start, end) can be split out of the VMAs it touches, before changing anything. */
export function check_munmap_splits(mm: MmStruct, start: number, end: number): void {
  const i = mm.firstEndingAfter(start);
  if (i < mm.vmas.length) check_split(mm.vmas[i]!, start);
  const j = mm.firstEndingAfter(end - 1);
  if (j < mm.vmas.length) check_split(mm.vmas[j]!, end);
}

/**
 * Split the VMAs at `start` and `end` (after checking both splits are allowed, so an error changes
 * nothing) and return the VMAs now inside [start, end): what a range operation that changes VMA flags
 * (uffd registration) works on.
 */
export function split_vmas_to(m: MachineState, mm: MmStruct, start: number, end: number): VmAreaStruct[] {
  check_munmap_splits(mm, start, end);
  split_vma(m, mm, start);
  split_vma(m, mm, end);
  return mm.vmas.filter((v) => v.vm_start < end && v.vm_end > start);
}

/** __split_vma: split the VMA containing `at` into [vm_start, at) and [at, vm_end). */
export function split_vma(m: MachineState, mm: MmStruct, at: number): void {
  const i = mm.firstEndingAfter(at);
  if (i >= mm.vmas.length) return;
  const vma = mm.vmas[i]!;
  if (at <= vma.vm_start || at >= vma.vm_end) return;
  m.design.vmaSplit?.(m, vma, at);
  const tail = vma.dup(mm);
  tail.vm_start = at;
  if (vma.vm_file !== null) {
    tail.vm_pgoff = vma.vm_pgoff + (at - vma.vm_start) / PAGE_SIZE;
    vma.vm_file.refs++;
    vma.vm_file.i_mmap.push(tail);
  } else {
    tail.vm_pgoff = vma.vm_pgoff + (at - vma.vm_start) / PAGE_SIZE;
  }
  vma.vm_end = at;
  mm.vmas.splice(i + 1, 0, tail);
  mm.mmap_cache = null;
}

/** remove_vma: drop the VMA's file reference and i_mmap link. */
export function remove_vma(m: MachineState, vma: VmAreaStruct): void {
  const file = vma.vm_file;
  if (file === null) return;
  const k = file.i_mmap.indexOf(vma);
  if (k >= 0) file.i_mmap.splice(k, 1);
  m.design.vmaRemoved?.(m, vma);
  m.fput(file);
}

/**
 * do_vmi_munmap: unmapping a range with no mapping in it succeeds and changes nothing, as in Linux
 * ("It is not an error if the indicated range does not contain any mapped pages", munmap(2)).
 * Returns the number of VMAs (or VMA pieces) removed.
 */
export function do_munmap(m: MachineState, mm: MmStruct, start: number, length: number): number {
  if (!Number.isInteger(start) || start < 0 || !isAligned(start, PAGE_SIZE)) fail('EINVAL', 'addr', `${hex(start)} is not page aligned`);
  checkLength(length);
  const len = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
  if (start + len > m.mode.taskSize) fail('EINVAL', 'length', `${hex(start)}+${len} ends beyond TASK_SIZE ${hex(m.mode.taskSize)}`);
  const end = start + len;
  if (!overlaps(mm, start, end)) return 0;
  check_munmap_splits(mm, start, end);
  m.design.munmapCheck?.(m, mm, start, end);
  split_vma(m, mm, start);
  split_vma(m, mm, end);
  const i = mm.firstEndingAfter(start);
  let j = i;
  while (j < mm.vmas.length && mm.vmas[j]!.vm_start < end) j++;
  const detached = mm.vmas.splice(i, j - i);
  const prev = i > 0 ? mm.vmas[i - 1]! : null;
  const next = i < mm.vmas.length ? mm.vmas[i]! : null;
  mm.mmap_cache = null;
  // unmap_region: zap (and flush what was zapped), then free the tables no remaining VMA can use.
  const zapped0 = m.events.ptesZapped;
  tlb_gather_begin(m);
  for (const v of detached) unmap_page_range(m, v, v.vm_start, v.vm_end);
  const tables0 = m.pool.inUse;
  free_pgtables(m, mm, detached, prev !== null ? prev.vm_end : 0, next !== null ? next.vm_start : 0);
  tlb_gather_end(m, mm);
  // tlb_finish_mmu: one flush for the zapped entries, also when only tables were freed
  // (tlb->freed_tables: paging-structure caches may still point at them).
  const zapped = m.events.ptesZapped - zapped0;
  flush_tlb_range(m, mm, [mm], start, end, zapped > 0 ? zapped : m.pool.inUse < tables0 ? 1 : 0, m.pool.inUse < tables0);
  for (const v of detached) remove_vma(m, v);
  return detached.length;
}
