/**
 * One simulated machine: the page-table pool and frame table (SharedArrayBuffer-backed), the files,
 * the mms, the sharing design in force, the event counters and the BUG reports. Its methods are the
 * system calls and events a scenario drives (mmap, munmap, mprotect, fork, exit, touch, pin), each
 * delegating to the file named after the kernel function that implements it.
 */
import { randomUUID } from 'node:crypto';
import { pagingMode, type PagingLevels, type PagingMode } from '../arch/pgtable_64_types.js';
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import { fail } from './errno.js';
import { mmput } from './mmput.js';
import { dup_mmap } from './dup_mmap.js';
import type { PtShareDesign } from './pt_share.js';
import type { FlushRecord, TlbShootdownSink } from './tlbflush.js';
import { privateDesign } from '../share/private.js';
import { AddressSpace } from './address_space.js';
import { FolioTable, type FolioTableBuffers } from './folio.js';
import * as folio_flags from './folio.js';
import { pin_user_page, unpin_user_page } from './gup.js';
import { do_user_addr_fault, VM_FAULT_NOT_DONE, VM_FAULT_SIGSEGV, VmFault } from './memory.js';
import { do_mmap, do_munmap, type MmapArgs } from './mmap.js';
import { clear_refs_soft_dirty, madvise_dontneed } from './madvise.js';
import { ksm_madvise_mergeable, ksm_scan, type KsmScanResult } from './ksm.js';
import { mwriteprotect_range, uffd_register_wp, uffd_unregister, type UffdWpResult } from './userfaultfd.js';
import { do_mprotect } from './mprotect.js';
import { pagemap_read, pagemap_read_range, SHMEM_SWAP_REPORTS, type PagemapEntry, type ShmemSwapReport } from './pagemap.js';
import { MmStruct } from './mm_types.js';
import { PgtablePool, type PgtablePoolBuffers } from './pgtable_pool.js';
import { newLockStat, type LockStat } from './spinlock.js';
import { HUGETLB_FAULT_MUTEXES } from './hugetlb.js';
import { VmEvents } from './vmstat.js';
import { shrink_shmem_folio, type ReclaimResult } from './vmscan.js';

// Module-local copies of the constants this file uses: V8 folds module-local consts into the
// compiled code but reloads imported bindings (live cells) on every use, which costs ~40% in
// the hot loops (measured with the project's benchmarks).
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const PAGE_SIZE = geometry.PAGE_SIZE;
const _PAGE_ACCESSED = pgtable_types._PAGE_ACCESSED;
const _PAGE_DIRTY = pgtable_types._PAGE_DIRTY;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_PSE = pgtable_types._PAGE_PSE;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const ZERO_PFN = folio_flags.ZERO_PFN;

export interface MachineOptions {
  /** 4-level (default) or 5-level (LA57) paging. */
  levels?: PagingLevels;
  /** Capacity of the page-table pool, in 4 KiB table pages. */
  ptPages?: number;
  /** Capacity of the frame table, in folios. */
  frames?: number;
  /** fault_around_bytes (default 65536, the kernel's); a power of two >= 4096. 4096 disables it. */
  faultAroundBytes?: number;
  design?: PtShareDesign;
  /** Simulated CPUs (for TLB-flush targets); each new mm runs on CPU (id - 1) mod cpus. Default 2. */
  cpus?: number;
  /**
   * How pagemap reports swapped-out shmem: 'none' (today's kernel: 0), 'pagecache-lookup' (the 2021
   * patch: look up the page cache for every empty entry), 'pte-marker' (the 2021 counter-proposal:
   * reclaim leaves a marker). Default 'none'.
   */
  shmemSwapReport?: ShmemSwapReport;
  /**
   * Attach to another machine's shared memory instead of allocating it: a simulated CPU's view in a
   * worker thread (src/smp). Such a machine is `smp`: its fault path takes the page-table locks and
   * counts its events, RSS and table counts as deltas for the owner to add up.
   */
  attach?: MachineBuffers;
}

/** The SharedArrayBuffers of a machine: the page-table pool, the frame table and the lock words. */
export interface MachineBuffers {
  /** Identity of the machine these buffers belong to (a worker keeps its view while it is the same). */
  uid: string;
  pool: PgtablePoolBuffers;
  folios: FolioTableBuffers;
  /** Word 0: the abort flag (a CPU failed); words 1..64: hugetlb_fault_mutex_table. */
  locks: SharedArrayBuffer;
}

export class Machine {
  readonly mode: PagingMode;
  readonly rootLevel: number;
  readonly pool: PgtablePool;
  readonly folios: FolioTable;
  readonly design: PtShareDesign;
  readonly faultAroundPages: number;
  readonly cpus: number;
  readonly shmemSwapReport: ShmemSwapReport;
  /** KSM's stable tree: content -> KSM folio (src/mm/ksm.ts). */
  readonly ksmStable = new Map<number, number>();
  /** Next swap slot (offset in swap type 0) handed to a page going out; slot 0 is the swap header. */
  nextSwapSlot = 1;
  /** The last TLB flush recorded (src/tlb/flush.ts). */
  lastFlush: FlushRecord | null = null;
  /** The TLB model receiving every flush (src/tlb/mmu.ts), or null when none is attached. */
  tlbSink: TlbShootdownSink | null = null;
  /** Every CPU any recorded flush targeted, OR-ed together (reset it to observe one change). */
  flushedCpus = 0;
  readonly events = new VmEvents();
  readonly files: AddressSpace[] = [];
  readonly mms = new Set<MmStruct>();
  /** Messages check_mm and the leak check would print. Empty on a healthy machine. */
  readonly bugs: string[] = [];
  nextAnonVmaId = 1;
  private nextMmId = 1;
  private nextFileId = 1;
  /** The struct vm_fault every fault on this machine reuses. */
  readonly vmf = new VmFault();
  /** A simulated CPU in a worker thread sharing this machine's memory with others (see `attach`). */
  readonly smp: boolean;
  /** Lock words shared by every CPU (MachineBuffers.locks). */
  readonly locks: Int32Array;
  /** This CPU's lock statistics (src/kernel/spinlock.ts). */
  readonly lockstat: LockStat = newLockStat();
  readonly uid: string;

  constructor(opts: MachineOptions = {}) {
    this.mode = pagingMode(opts.levels ?? 4);
    this.rootLevel = this.mode.rootLevel;
    const a = opts.attach;
    this.smp = a !== undefined;
    this.uid = a?.uid ?? randomUUID();
    this.pool = new PgtablePool(a?.pool.capacity ?? opts.ptPages ?? 4096, a?.pool);
    this.folios = new FolioTable(a?.folios.capacity ?? opts.frames ?? 65536, a?.folios);
    this.locks = new Int32Array(a?.locks ?? new SharedArrayBuffer(4 * (1 + HUGETLB_FAULT_MUTEXES)));
    if (this.smp) {
      this.pool.attachSmp(this.lockstat, this.locks);
      this.folios.attachSmp(this.lockstat, this.locks);
    }
    this.design = opts.design ?? privateDesign;
    const fab = opts.faultAroundBytes ?? 65536;
    if (!Number.isInteger(fab) || fab < PAGE_SIZE || (fab & (fab - 1)) !== 0 || fab > 512 * PAGE_SIZE) {
      throw new RangeError(`faultAroundBytes must be a power of two from 4096 to 2097152, got ${fab}`);
    }
    this.faultAroundPages = fab / PAGE_SIZE;
    this.shmemSwapReport = opts.shmemSwapReport ?? 'none';
    if (!SHMEM_SWAP_REPORTS.includes(this.shmemSwapReport)) throw new RangeError(`shmemSwapReport must be one of ${SHMEM_SWAP_REPORTS.join(', ')}, got ${String(this.shmemSwapReport)}`);
    this.cpus = opts.cpus ?? 2;
    if (!Number.isInteger(this.cpus) || this.cpus < 1 || this.cpus > 31) throw new RangeError(`cpus must be 1..31, got ${this.cpus}`);
  }

  /** The shared memory a worker thread attaches to. */
  get buffers(): MachineBuffers {
    return { uid: this.uid, pool: this.pool.buffers, folios: this.folios.buffers, locks: this.locks.buffer as SharedArrayBuffer };
  }

  // --- processes ---

  /** mm_alloc + pgd_alloc. */
  mm_alloc(): MmStruct {
    const pgd = this.pool.alloc(this.rootLevel);
    const mm = new MmStruct(this.nextMmId++, pgd);
    mm.nr[this.rootLevel] = 1;
    mm.cpumask = 1 << ((mm.id - 1) % this.cpus);
    this.mms.add(mm);
    return mm;
  }

  fork(mm: MmStruct): MmStruct {
    if (mm.dead) fail('EINVAL', 'mm', `mm ${mm.id} has exited`);
    return dup_mmap(this, mm);
  }

  /** exit of one task using `mm` (mmput). */
  exit(mm: MmStruct): void {
    if (mm.dead) fail('EINVAL', 'mm', `mm ${mm.id} has already exited`);
    mmput(this, mm);
  }

  // --- objects ---

  private addFile(f: AddressSpace): AddressSpace {
    this.files[f.id] = f;
    return f;
  }

  /** memfd_create / shm_open + ftruncate: a shmem file of `size` bytes. */
  memfd_create(name: string, size: number): AddressSpace {
    checkSize(size);
    return this.addFile(new AddressSpace(this.nextFileId++, name, 'shmem', size));
  }

  /** A regular file of `size` bytes on a disk filesystem (page cache, writeback, page_mkwrite). */
  open_file(name: string, size: number): AddressSpace {
    checkSize(size);
    return this.addFile(new AddressSpace(this.nextFileId++, name, 'file', size));
  }

  /** A hugetlbfs file with 2 MiB or 1 GiB pages. */
  hugetlbfs_create(name: string, size: number, pageSize: '2M' | '1G' = '2M'): AddressSpace {
    checkSize(size);
    const shift = pageSize === '1G' ? 30 : 21;
    if (size % 2 ** shift !== 0) fail('EINVAL', 'length', `hugetlbfs size ${size} is not a multiple of the ${pageSize} page size`);
    return this.addFile(new AddressSpace(this.nextFileId++, name, 'hugetlbfs', size, shift));
  }

  /**
   * An msharefs file (open with O_CREAT + ftruncate): an mshare region of `size` bytes, which must be
   * a multiple of 512 GiB (P4D_SIZE, the span of the PUD table the region shares).
   */
  msharefs_create(name: string, size: number): AddressSpace {
    checkSize(size);
    if (size % 2 ** 39 !== 0) fail('EINVAL', 'size', `mshare: the region size must be a multiple of 512 GiB (P4D_SIZE, the span of one shared PUD table), got ${size}`);
    return this.addFile(new AddressSpace(this.nextFileId++, `msharefs/${name}`, 'msharefs', size));
  }

  /** close(fd): drop the descriptor's reference. */
  close(file: AddressSpace): void {
    this.fput(file);
  }

  /** fput: the last reference truncates the page cache (the inode goes away). */
  fput(file: AddressSpace): void {
    if (file.refs <= 0) throw new Error(`BUG: file ${file.name} released twice`);
    if (--file.refs === 0) {
      this.design.fileReleased?.(this, file);
      file.truncateAll(this.folios);
      delete this.files[file.id];
    } else {
      this.design.fileRefDropped?.(this, file);
    }
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

  // --- walking ---

  /** The word offset of the leaf entry (PTE, or huge PMD/PUD) for `addr`, or -1 (no table there). */
  follow_page(mm: MmStruct, addr: number): number {
    const ent = this.pool.entries;
    let t = mm.pgd;
    for (let level = this.rootLevel; level >= 0; level--) {
      const off = t * 1024 + (((addr / ENTRY_SPAN[level]!) & 511) << 1);
      const lo = ent[off]!;
      if (level === 0 || (lo & _PAGE_PSE) !== 0 || (lo & _PAGE_PRESENT) === 0) {
        if (level > 0 && lo === 0 && ent[off + 1] === 0) return -1;
        return off;
      }
      t = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
    }
    return -1;
  }

  /** The folio a present leaf entry maps (ZERO_PFN for the zero page). */
  leafFolio(off: number): number {
    const ent = this.pool.entries;
    if ((ent[off]! & _PAGE_SPECIAL) !== 0) return ZERO_PFN;
    return (ent[off]! >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  }

  /** Is the leaf at `off` present (P or PROT_NONE)? */
  leafPresent(off: number): boolean {
    return off >= 0 && (this.pool.entries[off]! & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0;
  }

  /**
   * The leak check after everything has exited: no table, no folio, no file left. Returns the
   * problems found (and everything check_mm reported); an empty list is a clean machine.
   */
  leakCheck(): string[] {
    const out = [...this.bugs];
    if (this.mms.size > 0) out.push(`${this.mms.size} mm(s) still alive`);
    if (this.pool.inUse !== 0) out.push(`page-table pool: ${this.pool.inUse} table page(s) leaked`);
    const open = this.files.filter((f) => f !== undefined);
    if (open.length > 0) out.push(`${open.length} file(s) still open: ${open.map((f) => f.name).join(', ')}`);
    if (this.folios.inUse !== 0) out.push(`frame table: ${this.folios.inUse} folio(s) leaked`);
    return out;
  }
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size <= 0) fail('EINVAL', 'size', `must be a positive whole number of bytes, got ${size}`);
}

