/**
 * struct vm_fault and the fault's flags and results (include/linux/mm_types.h, mm.h): the types the
 * fault path (memory.ts), hugetlb_fault and the designs share, and handle_userfault for uffd-wp.
 */

import type { MachineState } from './machine_types.js';
import type { VmAreaStruct } from './vma.js';

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

/** handle_userfault(vmf, VM_UFFD_WP): the write is reported to the monitor and waits. */
export function handle_userfault_wp(m: MachineState, r: number): number {
  m.events.uffdWpFaults++;
  return r | VM_FAULT_RETRY;
}
