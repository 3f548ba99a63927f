/**
 * One simulated machine's system-call front end: the system calls and events a scenario drives
 * (mmap, munmap, mprotect, fork, exit, touch, pin, ...), each delegating to the file named after the
 * kernel function that implements it. Its state is MachineState (machine_types.ts).
 */
import * as pgtable_types from '../arch/pgtable_types.js';
import { fail } from './errno.js';
import { mmput } from './mmput.js';
import { dup_mmap } from './dup_mmap.js';
import type { AddressSpace } from './address_space.js';
import { pin_user_page, unpin_user_page } from './gup.js';
import { do_user_addr_fault } from './memory.js';
import { do_mmap, do_munmap, type MmapArgs } from './mmap.js';
import { clear_refs_soft_dirty, madvise_dontneed } from './madvise.js';
import { ksm_madvise_mergeable, ksm_scan, type KsmScanResult } from './ksm.js';
import { mwriteprotect_range, uffd_register_wp, uffd_unregister, type UffdWpResult } from './userfaultfd.js';
import { do_mprotect } from './mprotect.js';
import { pagemap_read, pagemap_read_range, type PagemapEntry } from './pagemap.js';
import type { MmStruct } from './mm_types.js';
import { shrink_shmem_folio, type ReclaimResult } from './vmscan.js';
import { VM_FAULT_NOT_DONE, VM_FAULT_SIGSEGV } from './vm_fault.js';
import { MachineState } from './machine_types.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const _PAGE_ACCESSED = pgtable_types._PAGE_ACCESSED;
const _PAGE_DIRTY = pgtable_types._PAGE_DIRTY;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;

export type { MachineBuffers, MachineOptions } from './machine_types.js';

export class Machine extends MachineState {
  fork(mm: MmStruct): MmStruct {
    if (mm.dead) fail('EINVAL', 'mm', `mm ${mm.id} has exited`);
    return dup_mmap(this, mm);
  }

  /** exit of one task using `mm` (mmput). */
  exit(mm: MmStruct): void {
    if (mm.dead) fail('EINVAL', 'mm', `mm ${mm.id} has already exited`);
    mmput(this, mm);
  }

  /** close(fd): drop the descriptor's reference. */
  close(file: AddressSpace): void {
    this.fput(file);
  }

  // --- system calls ---

  mmap(mm: MmStruct, a: MmapArgs): number {
    return do_mmap(this, mm, a);
  }

  munmap(mm: MmStruct, addr: number, length: number): number {
    return do_munmap(this, mm, addr, length);
  }

  mprotect(mm: MmStruct, addr: number, length: number, prot: number): void {
    do_mprotect(this, mm, addr, length, prot);
  }

  // --- memory accesses ---

  /** A page fault taken at `addr` (do_user_addr_fault). Returns 0 or VM_FAULT_* bits. */
  fault(mm: MmStruct, addr: number, write: boolean): number {
    this.vmf.address = addr;
    return do_user_addr_fault(this, mm, write);
  }

  /**
   * A load or store by the CPU: the hardware walk succeeds when the leaf allows the access (setting
   * A, and D on a store); otherwise a page fault is taken and the access retried. A store with a
   * `value` writes it into the page. Returns 0 or VM_FAULT_* bits: SIGSEGV, SIGBUS, or VM_FAULT_RETRY
   * when a userfaultfd write-protect fault went to the monitor (the store did not happen).
   */
  touch(mm: MmStruct, addr: number, write: boolean, value?: number): number {
    // Concurrent CPUs may lose a race for an entry and retry (VM_FAULT_NOPAGE) more often.
    const maxTries = this.smp ? 64 : 4;
    for (let tries = 0; tries < maxTries; tries++) {
      const off = this.follow_page(mm, addr);
      if (off >= 0) {
        const ent = this.pool.entries;
        const lo = ent[off]!;
        if ((lo & _PAGE_PRESENT) !== 0 && (!write || (lo & _PAGE_RW) !== 0)) {
          // The hardware sets A and D (with a locked OR, which concurrent CPUs need too) when not yet set.
          const ad = _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0);
          if ((lo & ad) !== ad) {
            if (this.smp) Atomics.or(ent, off, ad);
            else ent[off] = lo | ad;
          }
          if (write && value !== undefined) this.folios.content[this.leafFolio(off)] = value;
          return 0;
        }
      }
      this.vmf.address = addr;
      const r = do_user_addr_fault(this, mm, write);
      if ((r & VM_FAULT_NOT_DONE) !== 0) return r;
    }
    throw new Error(`BUG: access to 0x${addr.toString(16)} still faults after ${maxTries} tries`);
  }

  /** Read the value a load at `addr` sees (faulting it in); throws on SIGSEGV/SIGBUS. */
  read(mm: MmStruct, addr: number): number {
    const r = this.touch(mm, addr, false);
    if (r !== 0) fail('EFAULT', 'addr', `load at 0x${addr.toString(16)} raised ${(r & VM_FAULT_SIGSEGV) ? 'SIGSEGV' : 'SIGBUS'}`);
    const off = this.follow_page(mm, addr);
    const lo = this.pool.entries[off]!;
    return (lo & _PAGE_SPECIAL) !== 0 ? 0 : this.folios.content[this.leafFolio(off)]!;
  }

  /** madvise(addr, length, MADV_DONTNEED). */
  madvise_dontneed(mm: MmStruct, addr: number, length: number): void {
    madvise_dontneed(this, mm, addr, length);
  }

  /** ioctl(UFFDIO_REGISTER, MODE_WP) over the range. */
  uffd_register_wp(mm: MmStruct, addr: number, length: number): void {
    uffd_register_wp(this, mm, addr, length);
  }

  /** ioctl(UFFDIO_UNREGISTER) over the range. */
  uffd_unregister(mm: MmStruct, addr: number, length: number): void {
    uffd_unregister(this, mm, addr, length);
  }

  /** ioctl(UFFDIO_WRITEPROTECT): protect (`wp` true) or resolve the range. */
  uffd_writeprotect(mm: MmStruct, addr: number, length: number, wp: boolean): UffdWpResult {
    return mwriteprotect_range(this, mm, addr, length, wp);
  }

  /** madvise(MADV_MERGEABLE): returns the VMAs marked (shared or hugetlb ones are skipped, as the kernel does). */
  madvise_mergeable(mm: MmStruct, addr: number, length: number): number {
    return ksm_madvise_mergeable(this, mm, addr, length);
  }

  /** One full ksmd pass. */
  ksm_scan(): KsmScanResult {
    return ksm_scan(this);
  }

  /** echo 4 > /proc/<pid>/clear_refs. */
  clear_refs_soft_dirty(mm: MmStruct): void {
    clear_refs_soft_dirty(this, mm);
  }

  /** One /proc/<pid>/pagemap entry, decoded. */
  pagemap(mm: MmStruct, addr: number): PagemapEntry {
    return pagemap_read(this, mm, addr);
  }

  /** pread of /proc/<pid>/pagemap for [start, end): two 32-bit words per page into `out`; returns the entries. */
  pagemap_range(mm: MmStruct, start: number, end: number, out: Uint32Array): number {
    return pagemap_read_range(this, mm, start, end, out);
  }

  /** Reclaim page `pgoff` of a shmem file: unmap it everywhere (rmap walk) and swap it out. */
  reclaim_shmem_page(file: AddressSpace, pgoff: number): ReclaimResult {
    return shrink_shmem_folio(this, file, pgoff);
  }

  pin(mm: MmStruct, addr: number, write: boolean): number {
    return pin_user_page(this, mm, addr, write);
  }

  unpin(folio: number): void {
    unpin_user_page(this, folio);
  }

}
