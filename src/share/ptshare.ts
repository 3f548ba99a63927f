/**
 * `ptshare`: the 2023 RFC "Add support for shared PTEs across processes" (Khalid Aziz,
 * <cover.1682453344.git.khalid.aziz@oracle.com>). A file mapped with MAP_SHARED | MAP_SHARED_PT gets a
 * host mm holding the real VMA and PTE tables; every guest VMA (VM_SHARED_PT) faults through the host
 * and then points its PMD entry at the host's PTE table, so PTE tables are shared per 2 MiB window.
 *
 * Rules as the RFC states them: address and length multiples of 2 MiB (PMD_SIZE); every mapping of
 * the object at the same virtual address (and offset); mprotect by one process changes the protection
 * for every sharer (the host's PTEs); partial munmap is refused. Pages are charged to the host mm's
 * RSS; each guest's VmPTE counts the host PTE tables it links (as hugetlb's sharers count the PMD).
 * The host goes away with the last guest mapping.
 */
import { PMD_SIZE } from '../arch/pgtable_64_types.js';
import { fail } from '../mm/errno.js';
import { mmput } from '../mm/mmput.js';
import type { AddressSpace } from '../mm/address_space.js';
import type { MachineState } from '../mm/machine_types.js';
import { __handle_mm_fault } from '../mm/memory.js';
import type { MmStruct } from '../mm/mm_types.js';
import { do_mmap, MAP_FIXED, MAP_SHARED, MAP_SHARED_PT, MAP_TYPE, PROT_EXEC, PROT_READ, PROT_WRITE, split_vma } from '../mm/mmap.js';
import { do_mprotect } from '../mm/mprotect.js';
import { table_of } from '../mm/pagewalk.js';
import { VM_ACCESS_FLAGS, VM_EXEC, VM_READ, VM_SHARED_PT, VM_WRITE, vma_set_page_prot, type VmAreaStruct } from '../mm/vma.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { UsageError } from '../lib/errors.js';
import { VM_FAULT_ERROR } from '../mm/vm_fault.js';
import { link_shared_table } from '../mm/pgalloc.js';

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

const hex = (n: number) => `0x${n.toString(16)}`;

function guests(file: AddressSpace): VmAreaStruct[] {
  return file.i_mmap.filter((v) => (v.vm_flags & VM_SHARED_PT) !== 0 && !v.vm_mm.dead);
}

export const ptshareDesign: PtShareDesign = {
  name: 'ptshare',
  summary: 'PTE tables shared per 2 MiB window through a host mm (2023 RFC, MAP_SHARED_PT; same address, protection changes apply to all)',
  mmPerProcess: true,
  mmapFlags: MAP_SHARED_PT,
  mapAlign: PMD_SIZE,
  protectSharedInPlace: true,
  shareTable: () => -1,

  checkScenario(s) {
    if (s.kind === 'anon') return 'ptshare shares MAP_SHARED file mappings (MAP_SHARED | MAP_SHARED_PT); --kind anon is private memory';
    if (s.kind === 'hugetlb') return 'ptshare shares PTE tables; hugetlb mappings have none (use --design hugetlb-pmd)';
    return null;
  },

  countRoutes(map, first) {
    if (map.start % PMD_SIZE !== 0 || (map.end - map.start) % PMD_SIZE !== 0) {
      throw new UsageError(`ptshare: a MAP_SHARED_PT mapping needs an address and length that are multiples of 2 MiB (PMD_SIZE), got ${hex(map.start)} + ${map.end - map.start}`);
    }
    if (first.start !== map.start || first.end !== map.end || first.offset !== map.offset) {
      throw new UsageError(`ptshare: object ${map.object} is shared at ${hex(first.start)}-${hex(first.end)} (offset ${first.offset}); every mapping must use the same address, length and offset`);
    }
    // The guest's own tables stop at the PMD; each PMD entry links the host's PTE table.
    return { footprint: [map.start, map.end], routes: [{ start: map.start, end: map.end, ownFrom: 1, link: 0, host: `ptshare:${map.object}`, delta: 0, holder: 'mm', hostAt: 'mmap' }] };
  },

  mmapPrepare(m, _mm, addr, len, flags, file, pgoff) {
    if ((flags & MAP_SHARED_PT) === 0) return 0;
    if (file === null || (flags & MAP_TYPE) === 0x02) fail('EINVAL', 'flags', 'ptshare: MAP_SHARED_PT needs a MAP_SHARED mapping of a file');
    if (addr % PMD_SIZE !== 0) fail('EINVAL', 'addr', `ptshare: the address ${hex(addr)} must be a multiple of 2 MiB (PMD_SIZE)`);
    if (len % PMD_SIZE !== 0) fail('EINVAL', 'length', `ptshare: the length ${len} must be a multiple of 2 MiB (PMD_SIZE)`);
    const h = hosts(m).get(file);
    if (h && (h.start !== addr || h.end !== addr + len || h.pgoff !== pgoff)) {
      fail('EINVAL', 'addr', `ptshare: ${file.name} is shared at ${hex(h.start)}-${hex(h.end)} (offset ${h.pgoff * 4096}); every mapping must use the same address, length and offset`);
    }
    return VM_SHARED_PT;
  },

  vmaMapped(m, vma) {
    if ((vma.vm_flags & VM_SHARED_PT) === 0) return;
    const file = vma.vm_file!;
    if (hosts(m).has(file)) return;
    // The host mm: a mm of no process, holding the real VMA and the PTE tables every guest links.
    const mm = m.mm_alloc();
    mm.cpumask = 0; // the host never runs
    const prot = (vma.vm_flags & VM_READ ? PROT_READ : 0) | (vma.vm_flags & VM_WRITE ? PROT_WRITE : 0) | (vma.vm_flags & VM_EXEC ? PROT_EXEC : 0);
    hosts(m).set(file, { mm, start: vma.vm_start, end: vma.vm_end, pgoff: vma.vm_pgoff });
    do_mmap(m, mm, { addr: vma.vm_start, length: vma.vm_end - vma.vm_start, prot, flags: MAP_SHARED | MAP_FIXED, file, offset: vma.vm_pgoff * 4096 });
  },

  handleFault(m, vma, flags) {
    const h = hosts(m).get(vma.vm_file!)!;
    const addr = m.vmf.address;
    const hvma = h.mm.find_vma(addr)!;
    const r = __handle_mm_fault(m, hvma, flags);
    m.vmf.address = addr;
    if ((r & VM_FAULT_ERROR) !== 0) return r;
    // Link: the guest's PMD entry points at the host's PTE table.
    const t = table_of(m, h.mm, addr, 0);
    if (t >= 0) link_shared_table(m, vma, 0, t);
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
