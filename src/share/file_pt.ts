/**
 * `file-pt`: page tables cached on the file, as David Hildenbrand proposed on the list (v2 mshare
 * thread, July 2022; Nov 2023): nobody has built it, so this is a model of the proposal.
 *
 * - For each file and each protection (PROT_READ|PROT_WRITE, PROT_READ, ...) a cache holds PTE and PMD
 *   tables: here a cache host mm mapping the whole file at a 1 GiB-aligned address, whose tables are
 *   the cached set.
 * - A MAP_SHARED mapping of a shmem or regular file is eligible unless it has uffd-wp or soft-dirty
 *   tracking (those keep per-process state in PTEs). Its faults run in the host of its protection and
 *   then link, in this mm, the host's PMD table where the mapping covers a whole 1 GiB of the file and
 *   its address is congruent to the file offset modulo 1 GiB, else the host's PTE table where it covers
 *   a whole 2 MiB window congruently; anything else is faulted into private tables.
 * - mprotect unshares (the core's default) and the next faults link the cached set for the new
 *   protection, or private tables where the pieces no longer cover whole windows.
 * - Pages are charged to the cache's host mm. Cached tables outlive their users until the shrinker
 *   step (`file_pt_shrink`) frees the sets nobody links, counted in events.ptCacheShrunk; they go
 *   with the file at its last close.
 */
import { PMD_SIZE, PUD_SIZE } from '../arch/pgtable_64_types.js';
import { mmput } from '../mm/mmput.js';
import type { AddressSpace } from '../mm/address_space.js';
import type { MachineState } from '../mm/machine_types.js';
import { handle_pte_level_fault } from '../mm/memory.js';
import type { MmStruct } from '../mm/mm_types.js';
import { do_mmap, MAP_FIXED, MAP_SHARED, MAP_TYPE, PROT_EXEC, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import { table_of } from '../mm/pagewalk.js';
import { VM_ACCESS_FLAGS, VM_EXEC, VM_FILE_PT, VM_READ, VM_SOFTDIRTY, VM_UFFD_WP, VM_WRITE, type VmAreaStruct } from '../mm/vma.js';
import { unshare_range } from '../mm/zap.js';
import { privateRoutes, routeWindows, type CountRoute, type PtShareDesign } from '../mm/pt_share.js';
import { VM_FAULT_ERROR } from '../mm/vm_fault.js';
import { link_shared_table } from '../mm/pgalloc.js';

/** Where a cache host maps its file: 512 GiB (1 GiB-aligned, and room for files of up to 127 TiB). */
const HOST_BASE = 2 ** 39;

/** Per machine: file -> protection bits -> cache host mm. */
const cachesOf = new WeakMap<MachineState, Map<AddressSpace, Map<number, MmStruct>>>();
function caches(m: MachineState): Map<AddressSpace, Map<number, MmStruct>> {
  let c = cachesOf.get(m);
  if (!c) cachesOf.set(m, (c = new Map()));
  return c;
}

function host(m: MachineState, file: AddressSpace, access: number): MmStruct {
  let perProt = caches(m).get(file);
  if (!perProt) caches(m).set(file, (perProt = new Map()));
  let h = perProt.get(access);
  if (!h) {
    if (m.smp) throw new Error(`BUG: file-pt cache host for ${file.name} created on a concurrent CPU; smpPrepare creates them first`);
    h = m.mm_alloc();
    h.cpumask = 0; // the cache's host never runs
    const prot = (access & VM_READ ? PROT_READ : 0) | (access & VM_WRITE ? PROT_WRITE : 0) | (access & VM_EXEC ? PROT_EXEC : 0);
    do_mmap(m, h, { addr: HOST_BASE, length: Math.ceil(file.size / 4096) * 4096, prot, flags: MAP_SHARED | MAP_FIXED, file });
    perProt.set(access, h);
  }
  return h;
}

/** Where the cache host maps the file page that `vma` maps at page-aligned `addr`. */
function hostAddress(vma: VmAreaStruct, addr: number): number {
  return HOST_BASE + ((addr - vma.vm_start) / 4096 + vma.vm_pgoff) * 4096;
}

/** Eligible: MAP_SHARED shmem or regular file, no uffd-wp, no soft-dirty tracking (VM_SOFTDIRTY set). */
function eligible(vma: VmAreaStruct): boolean {
  const f = vma.vm_file;
  return f !== null && (f.kind === 'shmem' || f.kind === 'file') && (vma.vm_flags & VM_UFFD_WP) === 0 && (vma.vm_flags & VM_SOFTDIRTY) !== 0;
}

/** Does `vma` cover the whole `size` window around `addr` with its address congruent to the file offset? */
function covers(vma: VmAreaStruct, addr: number, size: number): boolean {
  const start = Math.floor(addr / size) * size;
  return start >= vma.vm_start && start + size <= vma.vm_end && (vma.vm_start - vma.vm_pgoff * 4096) % size === 0;
}

/** The shrinker step: free every cached set that no mapping links. Returns the table pages freed. */
export function file_pt_shrink(m: MachineState): number {
  let freed = 0;
  for (const [, perProt] of caches(m)) {
    for (const [access, h] of perProt) {
      if (h.vmas.length > 0 && anyLinked(m, h)) continue;
      const before = m.pool.inUse;
      perProt.delete(access);
      mmput(m, h);
      freed += before - m.pool.inUse;
    }
  }
  m.events.ptCacheShrunk += freed;
  return freed;
}

/** Is any table of the host linked by some mapping? (pt_share_count > 0 on its PMD or PTE tables) */
function anyLinked(m: MachineState, h: MmStruct): boolean {
  const v = h.vmas[0]!;
  for (let a = v.vm_start; a < v.vm_end; a += PUD_SIZE) {
    const pmd = table_of(m, h, a, 1);
    if (pmd < 0) continue;
    if (m.pool.shareCount[pmd]! > 0) return true;
    for (let b = a; b < Math.min(a + PUD_SIZE, v.vm_end); b += PMD_SIZE) {
      const pte = table_of(m, h, b, 0);
      if (pte >= 0 && m.pool.shareCount[pte]! > 0) return true;
    }
  }
  return false;
}

export const filePtDesign: PtShareDesign = {
  name: 'file-pt',
  summary: 'PTE/PMD tables cached on the file per (offset window, protection), reused by congruent MAP_SHARED mappings (proposal)',
  sharesOnly: 'MAP_SHARED file and shmem mappings covering whole 2 MiB (PTE table) or 1 GiB (PMD table) windows of the file at addresses congruent to the file offset, without uffd-wp or soft-dirty',
  mmPerProcess: true,
  shareTable: () => -1,

  mmapPrepare(_m, _mm, _addr, _len, flags, file) {
    if (file === null || (flags & MAP_TYPE) === 0x02 || (file.kind !== 'shmem' && file.kind !== 'file')) return 0;
    return VM_FILE_PT;
  },

  rssOwner(m, vma, addr, off) {
    // The entry sits in a cached table when its PTE table is the cache host's for that offset.
    const file = vma.vm_file;
    const h = file !== null && (vma.vm_flags & VM_FILE_PT) !== 0 ? caches(m).get(file)?.get(vma.vm_flags & VM_ACCESS_FLAGS) : undefined;
    if (h === undefined) return vma.vm_mm;
    return table_of(m, h, hostAddress(vma, addr), 0) === Math.floor(off / 1024) ? h : vma.vm_mm;
  },

  flushTargets(_m, vma) {
    // A cached table is linked by every file-pt mapping of the file with the same protection: a
    // change to it must reach all of them (a superset where some map that window privately). The
    // cache hosts never run (empty cpumask), so including them costs nothing.
    const file = vma.vm_file;
    if (file === null || (vma.vm_flags & VM_FILE_PT) === 0) return [vma];
    const access = vma.vm_flags & VM_ACCESS_FLAGS;
    return file.i_mmap.filter((v) => (v.vm_flags & VM_FILE_PT) !== 0 && (v.vm_flags & VM_ACCESS_FLAGS) === access);
  },

  handleFault(m, vma, flags) {
    if (!eligible(vma)) return handle_pte_level_fault(m, vma, flags);
    const addr = m.vmf.address;
    const level = covers(vma, addr, PUD_SIZE) ? 1 : covers(vma, addr, PMD_SIZE) ? 0 : -1;
    if (level < 0) return handle_pte_level_fault(m, vma, flags);
    const h = host(m, vma.vm_file!, vma.vm_flags & VM_ACCESS_FLAGS);
    const haddr = hostAddress(vma, addr);
    m.vmf.address = haddr;
    const r = handle_pte_level_fault(m, h.vmas[0]!, flags);
    m.vmf.address = addr;
    if ((r & VM_FAULT_ERROR) !== 0) return r;
    const t = table_of(m, h, haddr, level);
    if (t >= 0) link_shared_table(m, vma, level, t);
    return r;
  },

  countRoutes(map) {
    // Scenarios map read-write, so one cache (one protection) per file; the host maps the file at
    // HOST_BASE, so the holder address is HOST_BASE + file offset.
    // Whole windows of the mapping whose address is congruent to the file offset modulo the window
    // link the cache's PMD table (1 GiB) or else its PTE table (2 MiB); the rest is faulted privately.
    const delta = HOST_BASE + map.offset - map.start;
    const host = `file-pt:${map.object}`;
    const linked = (size: number, link: number) => ((map.start - map.offset) % size !== 0 ? null
      : (s: number, e: number): CountRoute => ({ start: s, end: e, ownFrom: link + 1, link, host, delta, holder: 'mm', hostAt: 'fault' }));
    const pte = (s: number, e: number) => routeWindows(s, e, PMD_SIZE, linked(PMD_SIZE, 0), (a, b) => privateRoutes({ start: a, end: b, leaf: 0 }));
    return { footprint: [map.start, map.end], routes: routeWindows(map.start, map.end, PUD_SIZE, linked(PUD_SIZE, 1), pte) };
  },

  vmaSplit(m, vma, addr) {
    // A split inside a window leaves no piece covering it: drop the links around the split point, as
    // hugetlb_split does, so the private fallback never writes into a cached table.
    // (A GiB-level link is dropped whole by the walk; PTE-level links only in the 2 MiB around addr.)
    const w = Math.floor(addr / PMD_SIZE) * PMD_SIZE;
    unshare_range(m, vma.vm_mm, Math.max(vma.vm_start, w), Math.min(vma.vm_end, w + PMD_SIZE));
  },

  // uffd-wp and soft-dirty keep per-process state in PTEs: such VMAs never share (the proposal).
  uffdWpRegistered(m, vma) {
    unshare_range(m, vma.vm_mm, vma.vm_start, vma.vm_end);
  },
  softDirtyClear(m, vma) {
    unshare_range(m, vma.vm_mm, vma.vm_start, vma.vm_end);
  },

  smpPrepare(m) {
    // The cache host of every eligible mapping's (file, protection) exists before CPUs fault
    // concurrently: creating it is an mm_alloc and an mmap (mmap_lock for writing), not a fault's work.
    for (const mm of [...m.mms]) {
      for (const v of mm.vmas) if ((v.vm_flags & VM_FILE_PT) !== 0 && eligible(v)) host(m, v.vm_file!, v.vm_flags & VM_ACCESS_FLAGS);
    }
  },
  exportState(m) {
    return [...caches(m)].flatMap(([file, perProt]) => [...perProt].map(([access, h]) => ({ file: file.id, access, mm: h.id })));
  },
  importState(m, state, mm, file) {
    const c = caches(m);
    c.clear();
    for (const x of state as { file: number; access: number; mm: number }[]) {
      const f = file(x.file);
      let perProt = c.get(f);
      if (!perProt) c.set(f, (perProt = new Map()));
      perProt.set(x.access, mm(x.mm));
    }
  },

  fileRefDropped(m, file) {
    // The cache belongs to the inode: once the only references left are its own hosts' mappings (no
    // descriptor, no user mapping), the inode is going away and the cache with it.
    const perProt = caches(m).get(file);
    if (!perProt || file.refs !== perProt.size) return;
    caches(m).delete(file);
    for (const h of perProt.values()) mmput(m, h);
  },

  checkScenario(s) {
    if (s.kind === 'anon') return 'file-pt caches tables on files; --kind anon is private memory';
    if (s.kind === 'hugetlb') return 'file-pt covers shmem and regular files; hugetlb has its own PMD sharing (--design hugetlb-pmd)';
    return null;
  },
};
