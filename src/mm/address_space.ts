/**
 * A mappable object: shmem/memfd, a regular file, or a hugetlbfs file — struct inode with its
 * struct address_space (the page cache, i_pages) and i_mmap (the VMAs mapping it, for rmap walks and
 * page-table sharing). The model folds struct file into it: `refs` counts the open descriptor plus one
 * reference per VMA (get_file in mmap), and when it drops to zero the page cache is truncated
 * (truncate_inode_pages), so every folio is accounted for when the model is torn down. Regular files
 * therefore lose their page cache at last close, as after `echo 1 > drop_caches`.
 *
 * The page cache is an Int32Array over a SharedArrayBuffer indexed by page offset (in units of the
 * file's page size): 0 = hole, f+1 = folio f. Lookups in the fault path are one array read.
 */
import { PAGE_SHIFT } from '../arch/pgtable_64_types.js';
import { fail } from './errno.js';
import { PG_hugetlb, PG_swapbacked, PG_uptodate, type FolioTable } from './folio.js';
import { MM_FILEPAGES, MM_SHMEMPAGES } from './mm_types.js';
import type { VmAreaStruct } from './vma.js';

/** msharefs: an mshare region's file; it has no page cache of its own (its host mm maps other files). */
export type FileKind = 'shmem' | 'file' | 'hugetlbfs' | 'msharefs';

/** Where a swapped-out shmem page went: swap type 0, offset `slot` (the swap entry in i_pages). */
export interface SwapSlot {
  slot: number;
  content: number;
}

export class AddressSpace {
  readonly id: number;
  readonly name: string;
  readonly kind: FileKind;
  /** log2 of the page size of this file: 12, or 21 / 30 for hugetlbfs. */
  readonly pageShift: number;
  /** i_size in bytes. */
  size: number;
  /** i_pages: page offset (in this file's pages) -> folio + 1; 0 is a hole. */
  pages: Int32Array;
  /** Folios in the page cache (nrpages, in this file's page units). */
  nrpages = 0;
  /** The RSS counter its pages count in (MM_SHMEMPAGES or MM_FILEPAGES), and new folios' flags. */
  readonly rssCounter: number;
  readonly folioFlags: number;
  /** i_mmap: every VMA of every mm that maps this file. */
  readonly i_mmap: VmAreaStruct[] = [];
  /**
   * shmem pages swapped out (page offset -> swap slot and the page's content), or null while none is:
   * the page cache slot of a swapped page holds a swap entry in the kernel; here the slot is a hole
   * and this map says the next fault swaps the page in.
   */
  swapped: Map<number, SwapSlot> | null = null;
  /** Open descriptor + one per mapping VMA. */
  refs = 1;
  /**
   * The shmem object of a MAP_SHARED | MAP_ANONYMOUS mapping (shmem_zero_setup()): other processes
   * map it only by inheriting the VMA through fork.
   */
  anonShared = false;
  /** i_pages' xa_lock: one word, taken for page-cache insertion by simulated CPUs in worker threads. */
  readonly xa_lock: Int32Array;

  /** `pages` / `lock`: attach to an existing page cache (a worker thread's view of the same file). */
  constructor(id: number, name: string, kind: FileKind, size: number, pageShift = PAGE_SHIFT, shared?: { pages: SharedArrayBuffer; lock: SharedArrayBuffer }) {
    this.id = id;
    this.name = name;
    this.kind = kind;
    this.pageShift = pageShift;
    this.size = size;
    this.rssCounter = kind === 'file' ? MM_FILEPAGES : MM_SHMEMPAGES;
    this.folioFlags = kind === 'file' ? PG_uptodate : kind === 'shmem' ? PG_swapbacked | PG_uptodate : PG_hugetlb | PG_uptodate;
    this.limit = Math.ceil(size / 2 ** pageShift);
    this.pages = new Int32Array(shared?.pages ?? new SharedArrayBuffer(kind === 'msharefs' ? 4 : Math.max(4, this.limit * 4)));
    this.xa_lock = new Int32Array(shared?.lock ?? new SharedArrayBuffer(4));
  }

  /** i_size in this file's pages, rounded up (kept in step with `size` by ftruncate). */
  limit = 0;

  /** Size in this file's pages, rounded up. */
  sizeInPages(): number {
    return this.limit;
  }

  /** shmem/hugetlbfs pages are swap-backed and counted as MM_SHMEMPAGES; regular files as MM_FILEPAGES. */
  get swapBacked(): boolean {
    return this.kind !== 'file';
  }

  /** ftruncate: grow or shrink i_size; shrinking drops page-cache folios that are not mapped. */
  ftruncate(folios: FolioTable, size: number): void {
    if (!Number.isInteger(size) || size < 0) fail('EINVAL', 'length', `must be a non-negative integer, got ${size}`);
    if (this.kind === 'hugetlbfs' && size % 2 ** this.pageShift !== 0) {
      fail('EINVAL', 'length', `hugetlbfs size must be a multiple of the huge page size ${2 ** this.pageShift}`);
    }
    const newPages = Math.ceil(size / 2 ** this.pageShift);
    if (newPages < this.sizeInPages()) {
      for (let i = newPages; i < this.pages.length; i++) {
        const f = this.pages[i]! - 1;
        if (f < 0) continue;
        if (folios.mapcount[f]! > 0) fail('EINVAL', 'length', `truncating page ${i} of ${this.name} while it is mapped is not modelled`);
        this.pages[i] = 0;
        this.nrpages--;
        folios.put(f);
      }
    }
    if (this.swapped !== null) for (const i of [...this.swapped.keys()]) if (i >= newPages) this.swapped.delete(i);
    if (newPages > this.pages.length) {
      const grown = new Int32Array(new SharedArrayBuffer(newPages * 4));
      grown.set(this.pages);
      this.pages = grown;
    }
    this.size = size;
    this.limit = newPages;
  }

  /** shmem_writeout: page `pgoff` (mapped nowhere) leaves the page cache for swap slot `slot`. */
  swapOut(folios: FolioTable, pgoff: number, slot: number): void {
    const f = this.pages[pgoff]! - 1;
    (this.swapped ??= new Map()).set(pgoff, { slot, content: folios.content[f]! });
    this.pages[pgoff] = 0;
    this.nrpages--;
    folios.put(f);
  }

  /** The content of swapped page `pgoff`, removing its swap entry; undefined if it is not swapped. */
  swapIn(pgoff: number): number | undefined {
    const s = this.swapped;
    if (s === null) return undefined;
    const c = s.get(pgoff);
    if (c === undefined) return undefined;
    s.delete(pgoff);
    if (s.size === 0) this.swapped = null;
    return c.content;
  }

  /** truncate_inode_pages: drop every page-cache folio (the file's last reference went away). */
  truncateAll(folios: FolioTable): void {
    const pages = this.pages;
    for (let i = 0; i < pages.length; i++) {
      const f = pages[i]! - 1;
      if (f < 0) continue;
      pages[i] = 0;
      folios.put(f);
    }
    this.nrpages = 0;
    this.swapped = null;
  }
}
