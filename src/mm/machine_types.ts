/**
 * The state of one simulated machine: the page-table pool and frame table (SharedArrayBuffer-backed),
 * the files, the mms, the sharing design in force, the event counters and the BUG reports, with the
 * small accessors kernel functions use (mm_alloc, the file constructors, fput, the leaf walk). Kernel
 * functions take a MachineState; the system calls a scenario drives are the Machine class
 * (machine.ts), which extends it.
 */
import { randomUUID } from 'node:crypto';
import { pagingMode, type PagingLevels, type PagingMode } from '../arch/pgtable_64_types.js';
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import { fail } from './errno.js';
import { PT_SHARE_NONE, type PtShareDesign } from './pt_share.js';
import type { FlushRecord, TlbShootdownSink } from './tlbflush.js';
import { AddressSpace } from './address_space.js';
import { FolioTable, type FolioTableBuffers } from './folio.js';
import * as folio_flags from './folio.js';
import { MmStruct } from './mm_types.js';
import { PgtablePool, type PgtablePoolBuffers } from './pgtable_pool.js';
import { HUGETLB_FAULT_MUTEXES, newLockStat, type LockStat } from './spinlock.js';
import { VmEvents } from './vmstat.js';
import { VmFault } from './vm_fault.js';
import { kernelConfig, type KernelConfig } from './kernel_profile.js';

/** How pagemap reports a swapped-out shmem page (a machine option; src/mm/pagemap.ts reads it). */
export type ShmemSwapReport = 'none' | 'pagecache-lookup' | 'pte-marker';
export const SHMEM_SWAP_REPORTS: readonly ShmemSwapReport[] = ['none', 'pagecache-lookup', 'pte-marker'];

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const PAGE_SIZE = geometry.PAGE_SIZE;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_PSE = pgtable_types._PAGE_PSE;
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
  /** The kernel simulated (src/mm/kernel_profile.ts); default kernelConfig(DEFAULT_KERNEL). */
  kernel?: KernelConfig;
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

export class MachineState {
  readonly mode: PagingMode;
  readonly rootLevel: number;
  readonly pool: PgtablePool;
  readonly folios: FolioTable;
  readonly design: PtShareDesign;
  readonly faultAroundPages: number;
  /** The kernel profile and knobs in force. */
  readonly kernel: KernelConfig;
  readonly cpus: number;
  readonly shmemSwapReport: ShmemSwapReport;
  /** KSM's stable tree: content -> KSM folio (src/mm/ksm.ts). */
  readonly ksmStable = new Map<number, number>();
  /** Next swap slot (offset in swap type 0) handed to a page going out; slot 0 is the swap header. */
  nextSwapSlot = 1;
  /** The last TLB flush recorded (src/mm/tlbflush.ts). */
  lastFlush: FlushRecord | null = null;
  /** The TLB model receiving every flush (src/tlb/mmu.ts), or null when none is attached. */
  tlbSink: TlbShootdownSink | null = null;
  /** Every CPU any recorded flush targeted, OR-ed together (reset it to observe one change). */
  flushedCpus = 0;
  /** Open mmu_gather operations (tlb_gather_begin/end), and whether one left an unshared table to one owner. */
  gatherDepth = 0;
  gatherFullyUnshared = false;
  /** INVLPGB in use: the attached TLB model's CPU has it and the kernel uses it (set by Mmu.attach). */
  tlbBroadcast = false;
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
  /** This CPU's lock statistics (src/mm/spinlock.ts). */
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
    this.design = opts.design ?? PT_SHARE_NONE;
    this.kernel = opts.kernel ?? kernelConfig();
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

