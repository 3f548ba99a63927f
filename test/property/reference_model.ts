/**
 * A deliberately simple reference model of Linux's memory-management rules, written for clarity and
 * not for speed: plain objects and Maps, no page-table pool, no bit encodings. Tables are a Set of
 * (level, region) keys and follow the declarative form of free_pgtables' rule: a table exists while
 * some VMA overlaps the region it maps and something faulted or was copied there.
 *
 * It covers private anonymous memory, shmem (MAP_SHARED) and regular files (MAP_PRIVATE and
 * MAP_SHARED), with faults, fault-around, COW, fork, munmap, mprotect and exit. The differential test
 * runs the same operations on it and on the machine and compares everything after every step.
 */
export const PAGE = 4096;
/** Bytes mapped by one table at level 0 (PTE table), 1 (PMD table), 2 (PUD table). */
export const REGION = [2 ** 21, 2 ** 30, 2 ** 39];

export type Kind = 'anon' | 'shmem' | 'file';

export class RFolio {
  static next = 1;
  readonly id = RFolio.next++;
  mapcount = 0;
  inCache = false;
  exclusive = false;
  content = 0;
  constructor(readonly anon: boolean, readonly file: RFile | null) {}
  get refcount(): number {
    return this.mapcount + (this.inCache ? 1 : 0);
  }
}

export class RFile {
  readonly cache = new Map<number, RFolio>();
  constructor(readonly name: string, readonly kind: 'shmem' | 'file', readonly pages: number) {}
}

export interface RVma {
  start: number;
  end: number;
  read: boolean;
  write: boolean;
  shared: boolean;
  file: RFile | null;
  /** Page offset of vm_start in the file (file VMAs). */
  pgoff: number;
  /** Has an anon_vma: some anonymous page was created in it (or in the VMA it was split from / forked from). */
  anon: boolean;
}

export interface RPte {
  /** null: the shared zero page. */
  folio: RFolio | null;
  writable: boolean;
  dirty: boolean;
}

export class RMm {
  vmas: RVma[] = [];
  readonly ptes = new Map<number, RPte>();
  readonly tables = new Set<string>();
  rss = { anon: 0, file: 0, shmem: 0 };
  constructor(readonly id: number) {}
}

export class RefError extends Error {
  constructor(readonly code: string) { super(code); }
}

export const SIGSEGV = 'SIGSEGV';
export const SIGBUS = 'SIGBUS';

export class RefMachine {
  readonly mms: RMm[] = [];
  readonly folios = new Set<RFolio>();
  private nextMm = 1;
  constructor(readonly faultAroundBytes = 65536) {}

  newMm(): RMm {
    const mm = new RMm(this.nextMm++);
    this.mms.push(mm);
    return mm;
  }

  private findVma(mm: RMm, addr: number): RVma | undefined {
    return mm.vmas.find((v) => v.start <= addr && addr < v.end);
  }

  private addTables(mm: RMm, addr: number, from = 0): void {
    for (let l = from; l < 3; l++) mm.tables.add(`${l}:${Math.floor(addr / REGION[l]!)}`);
  }

  /** Drop tables whose region no VMA overlaps any more (free_pgtables' floor/ceiling rule). */
  private pruneTables(mm: RMm): void {
    for (const key of [...mm.tables]) {
      const [l, idx] = key.split(':').map(Number) as [number, number];
      const lo = idx * REGION[l]!;
      const hi = lo + REGION[l]!;
      if (!mm.vmas.some((v) => v.start < hi && v.end > lo)) mm.tables.delete(key);
    }
  }

  private rssKey(f: RFolio): 'anon' | 'file' | 'shmem' {
    return f.anon ? 'anon' : f.file!.kind === 'shmem' ? 'shmem' : 'file';
  }

  private newFolio(anon: boolean, file: RFile | null): RFolio {
    const f = new RFolio(anon, file);
    this.folios.add(f);
    return f;
  }

  private map(mm: RMm, addr: number, f: RFolio | null, writable: boolean, dirty: boolean): void {
    this.addTables(mm, addr);
    mm.ptes.set(addr, { folio: f, writable, dirty });
    if (f) {
      f.mapcount++;
      mm.rss[this.rssKey(f)]++;
    }
  }

  private unmap(mm: RMm, addr: number): void {
    const p = mm.ptes.get(addr);
    if (!p) return;
    mm.ptes.delete(addr);
    const f = p.folio;
    if (!f) return;
    f.mapcount--;
    mm.rss[this.rssKey(f)]--;
    if (f.refcount === 0) this.folios.delete(f);
  }

  /** The page-cache folio for a file page, created if absent. */
  private cacheGet(file: RFile, idx: number): RFolio {
    let f = file.cache.get(idx);
    if (!f) {
      f = this.newFolio(false, file);
      f.inCache = true;
      file.cache.set(idx, f);
    }
    return f;
  }

  /** A shared mapping of shmem gets writable PTEs straight away (no write notification). */
  private sharedWritable(v: RVma): boolean {
    return v.shared && v.write && v.file!.kind === 'shmem';
  }

  /** A CPU access: no fault if the PTE allows it, else the fault rules. Returns null or a signal. */
  touch(mm: RMm, addr: number, write: boolean, value?: number): string | null {
    const v = this.findVma(mm, addr);
    if (!v) return SIGSEGV;
    if (write ? !v.write : !(v.read || v.write)) return SIGSEGV;
    const idx = v.file ? v.pgoff + (addr - v.start) / PAGE : 0;
    let p = mm.ptes.get(addr);
    if (!p) {
      // __handle_mm_fault allocates the PUD and PMD tables before anything else can fail; the PTE
      // table comes with the first page mapped in it (pte_alloc / finish_fault / fault-around).
      this.addTables(mm, addr, 1);
      // do_cow_fault prepares the anon_vma (vmf_anon_prepare) before __do_fault can fail.
      if (v.file && write && !v.shared) v.anon = true;
      // Writes check the file size first; reads run fault-around first (below).
      if (v.file && write && idx >= v.file.pages) return SIGBUS;
      if (!v.file) {
        if (!write) this.map(mm, addr, null, false, false);
        else {
          const f = this.newFolio(true, null);
          f.exclusive = true;
          v.anon = true;
          this.map(mm, addr, f, true, true);
        }
      } else if (!write) {
        // Fault-around: map what the page cache already holds in the 64 KiB block, clipped to the
        // VMA and the 2 MiB PTE table; then read the faulting page if it is still unmapped.
        const table = Math.floor(addr / REGION[0]!) * REGION[0]!;
        if (this.faultAroundBytes > PAGE) {
          const ws = Math.max(Math.floor(addr / this.faultAroundBytes) * this.faultAroundBytes, v.start, table);
          const we = Math.min(ws + this.faultAroundBytes, table + REGION[0]!, v.end);
          for (let a = ws; a < we; a += PAGE) {
            if (mm.ptes.has(a)) continue;
            const i = v.pgoff + (a - v.start) / PAGE;
            const f = i < v.file.pages ? v.file.cache.get(i) : undefined;
            if (f) this.map(mm, a, f, this.sharedWritable(v), false);
          }
        }
        if (!mm.ptes.has(addr)) {
          if (idx >= v.file.pages) return SIGBUS;
          this.map(mm, addr, this.cacheGet(v.file, idx), this.sharedWritable(v), false);
        }
      } else if (!v.shared) {
        const src = this.cacheGet(v.file, idx);
        const f = this.newFolio(true, null);
        f.exclusive = true;
        f.content = src.content;
        v.anon = true;
        this.map(mm, addr, f, true, true);
      } else {
        this.map(mm, addr, this.cacheGet(v.file, idx), true, true);
      }
      p = mm.ptes.get(addr)!;
    } else if (write && !p.writable) {
      if (v.shared) {
        p.writable = true;
      } else if (p.folio && p.folio.anon && (p.folio.exclusive || p.folio.refcount === 1)) {
        p.folio.exclusive = true;
        p.writable = true;
      } else {
        const old = p.folio;
        const f = this.newFolio(true, null);
        f.exclusive = true;
        f.content = old ? old.content : 0;
        v.anon = true;
        this.unmap(mm, addr);
        this.map(mm, addr, f, true, true);
      }
      p = mm.ptes.get(addr)!;
    }
    if (write) {
      p.dirty = true;
      if (value !== undefined) p.folio!.content = value;
    }
    return null;
  }

  /** Cut VMAs at `at` (the right half keeps the file offset in step). */
  private split(mm: RMm, at: number): void {
    const i = mm.vmas.findIndex((v) => v.start < at && at < v.end);
    if (i < 0) return;
    const v = mm.vmas[i]!;
    const tail: RVma = { ...v, start: at, pgoff: v.pgoff + (v.file ? (at - v.start) / PAGE : 0) };
    v.end = at;
    mm.vmas.splice(i + 1, 0, tail);
  }

  munmap(mm: RMm, start: number, len: number): void {
    const end = start + Math.ceil(len / PAGE) * PAGE;
    if (!mm.vmas.some((v) => v.start < end && v.end > start)) return;
    this.split(mm, start);
    this.split(mm, end);
    for (const a of [...mm.ptes.keys()]) if (a >= start && a < end) this.unmap(mm, a);
    mm.vmas = mm.vmas.filter((v) => v.end <= start || v.start >= end);
    this.pruneTables(mm);
  }

  mmap(mm: RMm, addr: number, len: number, kind: Kind, shared: boolean, read: boolean, write: boolean, file: RFile | null, pgoff: number): void {
    const end = addr + Math.ceil(len / PAGE) * PAGE;
    this.munmap(mm, addr, end - addr);
    const vma: RVma = { start: addr, end, read, write, shared, file: kind === 'anon' ? null : file, pgoff, anon: false };
    mm.vmas.push(vma);
    mm.vmas.sort((a, b) => a.start - b.start);
  }

  mprotect(mm: RMm, start: number, len: number, read: boolean, write: boolean): void {
    const end = start + Math.ceil(len / PAGE) * PAGE;
    if (end === start) return;
    for (let a = start; a < end;) {
      const v = this.findVma(mm, a);
      if (!v) throw new RefError('ENOMEM');
      a = v.end;
    }
    // mprotect_fixup leaves a VMA whose protection does not change alone (no split).
    const changes = (v: RVma | undefined) => v !== undefined && (v.write !== write || v.read !== read);
    if (changes(this.findVma(mm, start))) this.split(mm, start);
    if (changes(this.findVma(mm, end - PAGE))) this.split(mm, end);
    for (const v of mm.vmas) {
      if (v.end <= start || v.start >= end || (v.write === write && v.read === read)) continue;
      v.read = read;
      v.write = write;
      for (const [a, p] of mm.ptes) {
        if (a < v.start || a >= v.end) continue;
        if (!write || !p.folio) p.writable = false;
        else if (v.shared) p.writable = v.file!.kind === 'shmem' || p.dirty;
        else p.writable = p.folio.anon && p.folio.exclusive;
      }
    }
  }

  fork(parent: RMm): RMm {
    const child = this.newMm();
    for (const v of parent.vmas) {
      child.vmas.push({ ...v });
      if (!v.anon) continue; // vma_needs_copy: no anon_vma, the child refaults
      for (const key of parent.tables) {
        const [l, idx] = key.split(':').map(Number) as [number, number];
        const lo = idx * REGION[l]!;
        if (lo < v.end && lo + REGION[l]! > v.start) child.tables.add(key);
      }
      for (const [a, p] of parent.ptes) {
        if (a < v.start || a >= v.end) continue;
        if (p.folio && p.folio.anon) p.folio.exclusive = false;
        if (!v.shared) p.writable = false;
        this.map(child, a, p.folio, p.writable, p.dirty);
      }
    }
    return child;
  }

  exit(mm: RMm): void {
    for (const a of [...mm.ptes.keys()]) this.unmap(mm, a);
    mm.vmas = [];
    mm.tables.clear();
    this.mms.splice(this.mms.indexOf(mm), 1);
  }

  close(file: RFile): void {
    for (const f of file.cache.values()) {
      f.inCache = false;
      if (f.refcount === 0) this.folios.delete(f);
    }
    file.cache.clear();
  }

  /** Number of tables of an mm by level, plus its PGD. */
  tableCounts(mm: RMm): number[] {
    const n = [0, 0, 0, 1, 0];
    for (const key of mm.tables) n[Number(key.split(':')[0])]!++;
    return n;
  }

  read(mm: RMm, addr: number): number {
    const p = mm.ptes.get(addr)!;
    return p.folio ? p.folio.content : 0;
  }
}
