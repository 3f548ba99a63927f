/**
 * `ptshare`: what the posted code of "Add support for sharing page tables across processes
 * (Previously mshare)" (Khalid Aziz, RFC of December 2022, resent January 2023, and v2 of April 2023,
 * mm/ptshare.c) does. A file mapped with MAP_SHARED | MAP_SHARED_PT gets a host mm (ptshare_new_mm)
 * holding a copy of the VMA and the tables every sharer uses.
 *
 * - At the first such mmap of the file, ptshare_insert_vma() calls ptshare_copy_pmd(): when the
 *   creator's PUD entry for the mapping's start is empty, it gets the host's PMD table for that
 *   1 GiB (pud_populate), so the creator shares a whole PMD table there. Later mappers get nothing at
 *   mmap.
 * - At a fault, find_shared_vma() walks both mms to the PMD entry (get_pmd() allocates missing PUD
 *   and PMD tables in each). The same entry (the creator's linked GiB) or equal entries: the fault
 *   runs in the host. Different entries: the host's PMD entry is copied into the sharer's own PMD
 *   table (set_pmd) and the fault returns VM_FAULT_NOPAGE; the access retries. So outside a linked
 *   GiB each sharer has its own PMD tables whose entries point at the host's PTE tables.
 * - Neither link is counted in the sharer's mm_pgtables_bytes: pud_populate() and set_pmd() do not
 *   call mm_inc_nr_pmds() / mm_inc_nr_ptes(). A sharer's VmPTE holds only its own tables.
 * - A mapping shares only at the creator's start and length (do_mmap compares both) with a 2 MiB
 *   aligned start and end; any other MAP_SHARED_PT mapping of the file gets private tables. The code
 *   does not compare file offsets; the model gives a mapping at another offset private tables too,
 *   where the code would map the host's pages of the creator's offset.
 * - Partial munmap is refused (-EINVAL in do_mas_munmap). Pages are charged to the host mm.
 *
 * Where the model goes past the code: ptshare_copy_pmd() does not allocate the creator's PUD table
 * when its PGD entry is empty (the model does); free_pgtables() of a sharer leaves its own PMD
 * tables under a shared VMA unfreed and counted (the model frees them); the host VMA is given the
 * file (the code clears vm_file); mprotect, MADV_DONTNEED and uffd-wp are the model's choices below.
 */
import { PMD_SIZE, PUD_SIZE } from '../arch/pgtable_64_types.js';
import { fail } from '../mm/errno.js';
import { mmput } from '../mm/mmput.js';
import type { AddressSpace } from '../mm/address_space.js';
import type { MachineState } from '../mm/machine_types.js';
import { __handle_mm_fault } from '../mm/memory.js';
import type { MmStruct } from '../mm/mm_types.js';
import { do_mmap, MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED, MAP_SHARED_PT, MAP_TYPE, PROT_EXEC, PROT_READ, PROT_WRITE, split_vma } from '../mm/mmap.js';
import { do_mprotect } from '../mm/mprotect.js';
import { VM_ACCESS_FLAGS, VM_EXEC, VM_READ, VM_SHARED_PT, VM_WRITE, vma_set_page_prot, type VmAreaStruct } from '../mm/vma.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { entry_table } from '../mm/pagewalk.js';
import { VM_FAULT_NOPAGE } from '../mm/vm_fault.js';
import { copy_host_entry, link_shared_table, pgtable_alloc, pte_none, walk_alloc } from '../mm/pgalloc.js';
import { privateRoutes } from '../mm/pt_share.js';
import { hex } from '../lib/format.js';

interface Host {
  mm: MmStruct;
  start: number;
  end: number;
  pgoff: number;
}

/** Per machine: the host of each shared-PT file (designs are stateless singletons). */
const hostsOf = new WeakMap<MachineState, Map<AddressSpace, Host>>();
function hosts(m: MachineState): Map<AddressSpace, Host> {
  let h = hostsOf.get(m);
  if (!h) hostsOf.set(m, (h = new Map()));
  return h;
}


function guests(file: AddressSpace): VmAreaStruct[] {
  return file.i_mmap.filter((v) => (v.vm_flags & VM_SHARED_PT) !== 0 && !v.vm_mm.dead);
}

export const ptshareDesign: PtShareDesign = {
  name: 'ptshare',
  summary: 'host mm tables linked per 2 MiB (PMD entries copied) and, for the first mapper, its first GiB (PUD entry linked); 2022/23 RFC code, MAP_SHARED_PT',
  sharesOnly: "MAP_SHARED file and shmem mappings at the creator's 2 MiB-aligned start and length; not MAP_SHARED | MAP_ANONYMOUS, not hugetlbfs (do_mmap)",
  mmPerProcess: true,
  mmapFlags: MAP_SHARED_PT,
  mapAlign: PMD_SIZE,
  protectSharedInPlace: true,
  creatorRoutes: true,
  linksInVmPTE: false,
  shareTable: () => -1,

  checkScenario(s) {
    if (s.kind === 'anon') return 'ptshare shares MAP_SHARED file mappings (MAP_SHARED | MAP_SHARED_PT); --kind anon is private memory';
    if (s.kind === 'hugetlb') return 'ptshare shares PTE tables; hugetlb mappings have none (use --design hugetlb-pmd)';
    return null;
  },

  countRoutes(map, first, creator) {
    const whole: [number, number] = [map.start, map.end];
    // do_mmap: shared only at the creator's start and length, PMD-aligned (offset: see the header).
    if (map.kind === 'hugetlb' || map.start % PMD_SIZE !== 0 || map.end % PMD_SIZE !== 0 || first.start !== map.start || first.end !== map.end || first.offset !== map.offset) {
      return { footprint: whole, routes: privateRoutes(map) };
    }
    const host = `ptshare:${map.object}`;
    const route = (start: number, end: number, ownFrom: number, link: number, linkAtMmap: boolean) => ({ start, end, ownFrom, link, host, delta: 0, holder: 'mm' as const, hostAt: 'mmap' as const, linkAtMmap });
    if (!creator) return { footprint: whole, routes: [route(map.start, map.end, 1, 0, false)] };
    // The creator: its PUD entry at vm_start links the host's PMD table for that GiB (its own PUD
    // entry is empty: a scenario maps nothing else in a ptshare mapping's first GiB).
    const g1 = Math.min(map.end, (Math.floor(map.start / PUD_SIZE) + 1) * PUD_SIZE);
    const routes = [route(map.start, g1, 2, 1, true)];
    if (g1 < map.end) routes.push(route(g1, map.end, 1, 0, false));
    return { footprint: whole, routes };
  },

  mmapPrepare(m, _mm, addr, len, flags, file, pgoff) {
    if ((flags & MAP_SHARED_PT) === 0) return 0;
    // MAP_SHARED | MAP_ANONYMOUS: do_mmap has no file when it checks (shmem_zero_setup comes later),
    // so the mapping keeps private tables, and so do the copies of its VMA that fork gives children
    // (a replayed capture maps such an object in each process: anonShared).
    if ((flags & MAP_ANONYMOUS) !== 0 && (flags & MAP_TYPE) !== 0x02) return 0;
    if (file?.anonShared === true) return 0;
    if (file === null || (flags & MAP_TYPE) === 0x02) fail('EINVAL', 'flags', 'ptshare: MAP_SHARED_PT needs a MAP_SHARED mapping of a file');
    // do_mmap shares only a PMD-aligned mapping of a file that is not hugetlbfs (is_file_hugepages).
    if (addr % PMD_SIZE !== 0 || len % PMD_SIZE !== 0 || file.kind === 'hugetlbfs') return 0;
    const h = hosts(m).get(file);
    if (h && (h.start !== addr || h.end !== addr + len || h.pgoff !== pgoff)) return 0;
    return VM_SHARED_PT;
  },

  vmaMapped(m, vma) {
    if ((vma.vm_flags & VM_SHARED_PT) === 0) return;
    const file = vma.vm_file!;
    if (hosts(m).has(file)) return;
    // ptshare_new_mm: a mm of no process, holding the real VMA and the tables every sharer links.
    const mm = m.mm_alloc();
    mm.cpumask = 0; // the host never runs
    const prot = (vma.vm_flags & VM_READ ? PROT_READ : 0) | (vma.vm_flags & VM_WRITE ? PROT_WRITE : 0) | (vma.vm_flags & VM_EXEC ? PROT_EXEC : 0);
    hosts(m).set(file, { mm, start: vma.vm_start, end: vma.vm_end, pgoff: vma.vm_pgoff });
    do_mmap(m, mm, { addr: vma.vm_start, length: vma.vm_end - vma.vm_start, prot, flags: MAP_SHARED | MAP_FIXED, file, offset: vma.vm_pgoff * 4096 });
    // ptshare_copy_pmd(): an empty PUD entry of the creator at vm_start gets the host's PMD table.
    const hvma = mm.find_vma(vma.vm_start)!;
    const saved = m.vmf.address;
    m.vmf.address = vma.vm_start;
    const guestPud = walk_alloc(m, vma, 1);
    if (pte_none(m.pool.entries, guestPud)) {
      const hostPud = walk_alloc(m, hvma, 1);
      let t = entry_table(m.pool.entries, hostPud);
      if (t < 0) t = pgtable_alloc(m, hvma, 1, hostPud);
      link_shared_table(m, vma, 1, t);
    }
    m.vmf.address = saved;
  },

  handleFault(m, vma, flags) {
    const h = hosts(m).get(vma.vm_file!)!;
    const addr = m.vmf.address;
    const hvma = h.mm.find_vma(addr)!;
    // find_shared_vma(): get_pmd() in both mms; set_pmd(guest_pmd, *host_pmd) when they differ.
    if (copy_host_entry(m, vma, hvma, addr, 0)) return VM_FAULT_NOPAGE;
    const r = __handle_mm_fault(m, hvma, flags);
    m.vmf.address = addr;
    return r;
  },

  // The RFC says nothing about these; the model refuses them on shared-PT mappings: both would act on
  // (or need per-process state in) PTEs that every sharer uses.
  madviseCheck(_m, mm, start, end) {
    if (mm.hasVmaWith(VM_SHARED_PT, start, end)) {
      fail('EINVAL', 'addr', 'ptshare: MADV_DONTNEED on a shared-PT mapping would zap every sharer\'s PTEs; refused (model choice, the 2023 RFC is silent)');
    }
  },
  uffdWpCheck(_m, mm, start, end) {
    if (mm.hasVmaWith(VM_SHARED_PT, start, end)) {
      fail('EINVAL', 'addr', 'ptshare: uffd-wp keeps per-process state in PTEs that every sharer uses; refused (model choice, the 2023 RFC is silent)');
    }
  },

  rssOwner(m, vma) {
    const h = vma.vm_file !== null && (vma.vm_flags & VM_SHARED_PT) !== 0 ? hosts(m).get(vma.vm_file) : undefined;
    return h !== undefined ? h.mm : vma.vm_mm;
  },

  flushTargets(m, vma) {
    // The host never runs: a change to the shared PTE tables must reach every guest's CPUs.
    const file = vma.vm_file;
    if (file === null) return [vma];
    const h = hosts(m).get(file);
    if (!h || (vma.vm_mm !== h.mm && (vma.vm_flags & VM_SHARED_PT) === 0)) return [vma];
    return guests(file);
  },

  munmapCheck(_m, mm, start, end) {
    for (const v of mm.vmas) {
      if ((v.vm_flags & VM_SHARED_PT) === 0 || v.vm_end <= start || v.vm_start >= end) continue;
      if (start > v.vm_start || end < v.vm_end) fail('EINVAL', 'addr', `ptshare: partial munmap of the shared-PT mapping ${hex(v.vm_start)}-${hex(v.vm_end)} is refused (2023 RFC); unmap all of it`);
    }
  },

  mprotect(m, mm, start, end, prot) {
    const v = mm.vmas.find((x) => (x.vm_flags & VM_SHARED_PT) !== 0 && x.vm_start < end && x.vm_end > start);
    if (v === undefined) return false;
    if (start < v.vm_start || end > v.vm_end) fail('EINVAL', 'addr', `ptshare: mprotect must stay inside the shared-PT mapping ${hex(v.vm_start)}-${hex(v.vm_end)}`);
    const file = v.vm_file!;
    const h = hosts(m).get(file)!;
    // The protection is the host's PTEs: change them once, for every sharer...
    do_mprotect(m, h.mm, start, end - start, prot);
    // ...and keep every guest VMA's flags in step, so that access checks agree.
    let bits = 0;
    if (prot & PROT_READ) bits |= VM_READ;
    if (prot & PROT_WRITE) bits |= VM_WRITE | VM_READ;
    if (prot & PROT_EXEC) bits |= VM_EXEC;
    for (const g of guests(file)) {
      split_vma(m, g.vm_mm, start);
      split_vma(m, g.vm_mm, end);
    }
    for (const g of guests(file)) {
      if (g.vm_start < start || g.vm_end > end) continue;
      g.vm_flags = (g.vm_flags & ~VM_ACCESS_FLAGS) | bits;
      vma_set_page_prot(g);
      g.vm_mm.mmap_cache = null;
    }
    return true;
  },

  exportState(m) {
    return [...hosts(m)].map(([file, h]) => ({ file: file.id, mm: h.mm.id, start: h.start, end: h.end, pgoff: h.pgoff }));
  },
  importState(m, state, mm, file) {
    const h = hosts(m);
    h.clear();
    for (const x of state as { file: number; mm: number; start: number; end: number; pgoff: number }[]) h.set(file(x.file), { mm: mm(x.mm), start: x.start, end: x.end, pgoff: x.pgoff });
  },

  vmaRemoved(m, vma) {
    if ((vma.vm_flags & VM_SHARED_PT) === 0) return;
    const file = vma.vm_file!;
    const h = hosts(m).get(file);
    if (!h || guests(file).length > 0) return;
    hosts(m).delete(file);
    mmput(m, h.mm);
  },
};
