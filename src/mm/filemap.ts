/**
 * The page cache on the fault path (mm/filemap.c, mm/shmem.c): look up, allocate and insert a folio
 * for a file or shmem offset, read it in (a major fault), under the mapping's xa_lock on concurrent CPUs.
 */

import type { MachineState } from './machine_types.js';
import type { AddressSpace } from './address_space.js';
import * as vm_fault_mod from './vm_fault.js';
import type { VmFault } from './vm_fault.js';
import * as mm_counters from './mm_types.js';
import * as spinlock from './spinlock.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const MM_FILEPAGES = mm_counters.MM_FILEPAGES;
const MM_SHMEMPAGES = mm_counters.MM_SHMEMPAGES;
const LOCK_I_PAGES = spinlock.LOCK_I_PAGES;
const spin_lock = spinlock.spin_lock;
const spin_unlock = spinlock.spin_unlock;
const VM_FAULT_SIGBUS = vm_fault_mod.VM_FAULT_SIGBUS;
const VM_FAULT_MAJOR = vm_fault_mod.VM_FAULT_MAJOR;

/** The mapping's xa_lock around page-cache insertion, taken only on concurrent CPUs. */
export function xa_lock(m: MachineState, file: AddressSpace): void {
  if (m.smp) spin_lock(file.xa_lock, 0, m.lockstat, LOCK_I_PAGES, m.locks);
}

export function xa_unlock(m: MachineState, file: AddressSpace): void {
  if (m.smp) spin_unlock(file.xa_lock, 0);
}

/** mm_counter_file. */
export function mm_counter_file(swapBacked: boolean): number {
  return swapBacked ? MM_SHMEMPAGES : MM_FILEPAGES;
}

/**
 * __do_fault -> shmem_fault / filemap_fault: the page-cache folio for `pgoff`, allocated if absent,
 * returned with a reference held for the caller. -1 with m.faultResult set when beyond EOF.
 */
export function filemap_get_folio(m: MachineState, vmf: VmFault): number {
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
export function filemap_add_folio(m: MachineState, vmf: VmFault): number {
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
export function filemap_add_folio_locked(m: MachineState, vmf: VmFault, f: number): number {
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

export function filemap_insert_new_folio(m: MachineState, vmf: VmFault, f: number): number {
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
export function filemap_read_folio(m: MachineState, vmf: VmFault, f: number): void {
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
