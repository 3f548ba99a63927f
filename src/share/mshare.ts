/**
 * `mshare`: the 2025 series (Anthony Yznaga, v1-v3, <20250820010415.699353-1-anthony.yznaga@oracle.com>).
 *
 * An msharefs file is a region whose size is a multiple of 512 GiB; it owns a host mm (a mm of no
 * process) into which objects are mapped (MSHAREFS_CREATE_MAPPING). A process attaches the whole
 * region with mmap at a 512 GiB-aligned address (different processes may use different addresses, as
 * in v2). Its VMA is VM_MSHARE: faults run against the host VMA, so PTEs land in host tables, and the
 * process's top-level entry (PGD with 4-level paging, P4D with 5-level) is pointed at the host's PUD
 * table. Every change to host tables is a global TLB flush (flush_tlb_all; counted in
 * events.flushTlbAll). v3 refuses mprotect inside the region; `mshare-protect-all` is the 2022/23
 * behaviour, where a protection change applies to every sharer. Partial munmap of an attached region
 * is refused (the shared PUD table spans all of it). The host goes with the region's file.
 */
import { P4D_SIZE } from '../arch/pgtable_64_types.js';
import { fail } from '../mm/errno.js';
import { mmput } from '../mm/mmput.js';
import type { AddressSpace } from '../mm/address_space.js';
import type { MachineState } from '../mm/machine_types.js';
import { __handle_mm_fault } from '../mm/memory.js';
import type { MmStruct } from '../mm/mm_types.js';
import { do_mmap, MAP_FIXED, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import { do_mprotect } from '../mm/mprotect.js';
import { VM_MSHARE, VM_READ, VM_WRITE } from '../mm/vma.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { UsageError } from '../lib/errors.js';
import { FAULT_FLAG_WRITE, VM_FAULT_NOPAGE, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV } from '../mm/vm_fault.js';
import { copy_host_entry } from '../mm/pgalloc.js';
import { hex } from '../lib/format.js';

/**
 * Where the host mm maps a region: any 512 GiB-aligned address of its own address space will do; the
 * lowest (512 GiB) leaves room below TASK_SIZE for regions of up to 127 TiB with 4-level paging.
 */
const HOST_BASE = P4D_SIZE;
const LEVEL_PUD = 2;

interface Region {
  host: MmStruct;
  size: number;
}

const regionsOf = new WeakMap<MachineState, Map<AddressSpace, Region>>();
/** Scenario helper state: the region each shared object was put in. */
const objectRegionOf = new WeakMap<MachineState, Map<AddressSpace, { region: AddressSpace; offset: number }>>();

function regions(m: MachineState): Map<AddressSpace, Region> {
  let r = regionsOf.get(m);
  if (!r) regionsOf.set(m, (r = new Map()));
  return r;
}

function region(m: MachineState, file: AddressSpace): Region {
  let r = regions(m).get(file);
  if (!r) {
    r = { host: m.mm_alloc(), size: file.size };
    r.host.cpumask = 0; // the host never runs: its mm_cpumask stays empty (hence flush_tlb_all)
    regions(m).set(file, r);
  }
  return r;
}


/**
 * MSHAREFS_CREATE_MAPPING: map `len` bytes of `file` (from `fileOffset`) at `offset` inside the region,
 * into its host mm.
 */
export function mshare_create_mapping(m: MachineState, regionFile: AddressSpace, offset: number, len: number, prot: number, file: AddressSpace, fileOffset = 0): void {
  if (regionFile.kind !== 'msharefs') fail('EINVAL', 'file', `${regionFile.name} is not an msharefs file`);
  const r = region(m, regionFile);
  if (offset < 0 || offset + len > r.size) fail('EINVAL', 'offset', `mshare: [${offset}, ${offset + len}) is outside the ${r.size}-byte region`);
  do_mmap(m, r.host, { addr: HOST_BASE + offset, length: len, prot, flags: MAP_SHARED | MAP_FIXED, file, offset: fileOffset });
}

function makeMshare(protectAll: boolean): PtShareDesign {
  return {
    name: protectAll ? 'mshare-protect-all' : 'mshare',
    summary: protectAll
      ? 'mshare with the 2022/23 semantics: a protection change by one process applies to every sharer (global TLB flush)'
      : 'mshare (2025 v3): a host mm per 512 GiB region, processes link the host PUD table; mprotect inside refused',
    sharesOnly: 'memory mapped inside an mshare region: a 512 GiB-aligned region attached whole at a 512 GiB-aligned address (a workload is written for it; capture places objects so)',
    mmPerProcess: true,
    // set_p4d() of the host's entry does not call mm_inc_nr_puds(): the process's VmPTE leaves the
    // linked PUD table (and everything under it) out.
    linksInVmPTE: false,
    protectSharedInPlace: true,
    shareTable: () => -1,

    checkScenario(s) {
      if (s.kind === 'anon') return 'mshare maps shared objects into a region; --kind anon is private memory of each process';
      return null;
    },

    countRoutes(map, first) {
      // The scenario helper (mapShared) puts each object in its own region at the first mapper's
      // offset within its 512 GiB slot; every process attaches the whole region.
      const slot = Math.floor(map.start / P4D_SIZE) * P4D_SIZE;
      const slotOff = map.start - slot;
      const firstOff = first.start - Math.floor(first.start / P4D_SIZE) * P4D_SIZE;
      if (slotOff !== firstOff || map.end - map.start !== first.end - first.start || map.offset !== first.offset) {
        throw new UsageError(`mshare: object ${map.object} sits at offset ${firstOff} of its region (length ${first.end - first.start}, file offset ${first.offset}); every process must map it at that offset of a 512 GiB-aligned region, with that length and file offset`);
      }
      const size = Math.ceil((slotOff + map.end - map.start) / P4D_SIZE) * P4D_SIZE;
      // The process's own tables stop above the PUD: its PGD (4-level) or P4D (5-level) entry links
      // the host's PUD table, one per 512 GiB.
      return {
        footprint: [slot, slot + size],
        routes: [{ start: map.start, end: map.end, ownFrom: LEVEL_PUD + 1, link: LEVEL_PUD, host: `mshare:${map.object}`, delta: HOST_BASE - slot, holder: 'mm', hostAt: 'mmap' }],
      };
    },

    mmapPrepare(m, _mm, addr, len, _flags, file, pgoff) {
      if (file === null || file.kind !== 'msharefs') return 0;
      if (addr % P4D_SIZE !== 0) fail('EINVAL', 'addr', `mshare: a region is attached at a 512 GiB-aligned address (P4D_SIZE), got ${hex(addr)}`);
      if (len !== file.size || pgoff !== 0) fail('EINVAL', 'length', `mshare: attach the whole region (${file.size} bytes from offset 0)`);
      region(m, file);
      return VM_MSHARE;
    },

    handleFault(m, vma, flags) {
      const r = region(m, vma.vm_file!);
      const addr = m.vmf.address;
      const haddr = HOST_BASE + (addr - vma.vm_start);
      const hvma = r.host.find_vma(haddr);
      // A hole in the region, or an access the host VMA does not allow (checked on the host VMA, as
      // the series' fault path does once it has found it).
      if (hvma === null) return VM_FAULT_SIGBUS;
      if ((flags & FAULT_FLAG_WRITE) !== 0 ? (hvma.vm_flags & VM_WRITE) === 0 : (hvma.vm_flags & (VM_READ | VM_WRITE)) === 0) return VM_FAULT_SIGSEGV;
      // find_shared_vma() (v3 patch 13/22, mm/mshare.c): walk_to_p4d() in both mms. When the process's entry is
      // not the host's, set_p4d() copies it (the host's PUD table, ptdesc_pud_pts_inc) and the fault
      // returns VM_FAULT_NOPAGE: the access retries. Otherwise the fault runs in the host.
      if (copy_host_entry(m, vma, hvma, haddr, LEVEL_PUD)) return VM_FAULT_NOPAGE;
      m.vmf.address = haddr;
      const res = __handle_mm_fault(m, hvma, flags);
      m.vmf.address = addr;
      return res;
    },

    // v3 cannot change host tables safely from a process (Sep 2025 plan: reject madvise; uffd unsupported).
    madviseCheck(_m, mm, start, end) {
      if (mm.hasVmaWith(VM_MSHARE, start, end)) {
        fail('EINVAL', 'addr', 'mshare: madvise inside an msharefs mapping is refused (it would change host tables without their locks)');
      }
    },
    uffdWpCheck(_m, mm, start, end) {
      if (mm.hasVmaWith(VM_MSHARE, start, end)) {
        fail('EINVAL', 'addr', 'mshare: userfaultfd on an msharefs mapping is not supported');
      }
    },

    // Host tables: the host never runs, so the series flushes every CPU (flush_tlb_all).
    flushTargets(m, vma) {
      if ((vma.vm_flags & VM_MSHARE) !== 0) return 'all';
      for (const r of regions(m).values()) if (r.host === vma.vm_mm) return 'all';
      return [vma];
    },

    munmapCheck(_m, mm, start, end) {
      for (const v of mm.vmas) {
        if ((v.vm_flags & VM_MSHARE) === 0 || v.vm_end <= start || v.vm_start >= end) continue;
        if (start > v.vm_start || end < v.vm_end) fail('EINVAL', 'addr', `mshare: the region ${hex(v.vm_start)}-${hex(v.vm_end)} is unmapped whole (one shared PUD table spans it)`);
      }
    },

    mprotect(m, mm, start, end, prot) {
      const v = mm.vmas.find((x) => (x.vm_flags & VM_MSHARE) !== 0 && x.vm_start < end && x.vm_end > start);
      if (v === undefined) return false;
      if (!protectAll) fail('EINVAL', 'addr', 'mshare (v3): mprotect inside an msharefs mapping is not supported (use --design mshare-protect-all for the 2022/23 behaviour)');
      if (start < v.vm_start || end > v.vm_end) fail('EINVAL', 'addr', `mshare: mprotect must stay inside the region ${hex(v.vm_start)}-${hex(v.vm_end)}`);
      const r = region(m, v.vm_file!);
      do_mprotect(m, r.host, HOST_BASE + (start - v.vm_start), end - start, prot & (PROT_READ | PROT_WRITE | PROT_EXEC));
      return true;
    },

    exportState(m) {
      return [...regions(m)].map(([file, r]) => ({ file: file.id, host: r.host.id, size: r.size }));
    },
    importState(m, state, mm, file) {
      const r = regions(m);
      r.clear();
      for (const x of state as { file: number; host: number; size: number }[]) r.set(file(x.file), { host: mm(x.host), size: x.size });
    },

    fileReleased(m, file) {
      const r = regions(m).get(file);
      if (!r) return;
      regions(m).delete(file);
      mmput(m, r.host);
    },

    sharedRegionAlign: P4D_SIZE,

    mapShared(m, mm, file, addr, len, prot, fileOffset) {
      let placed = objectRegionOf.get(m)?.get(file);
      const attach = Math.floor(addr / P4D_SIZE) * P4D_SIZE;
      if (!placed) {
        const offset = addr - attach;
        const size = Math.ceil((offset + len) / P4D_SIZE) * P4D_SIZE;
        const rf = m.msharefs_create(file.name, size);
        mshare_create_mapping(m, rf, offset, len, prot, file, fileOffset);
        placed = { region: rf, offset };
        if (!objectRegionOf.has(m)) objectRegionOf.set(m, new Map());
        objectRegionOf.get(m)!.set(file, placed);
      }
      return do_mmap(m, mm, { addr: attach, length: placed.region.size, prot, flags: MAP_SHARED | MAP_FIXED, file: placed.region });
    },
  };
}

export const mshareDesign = makeMshare(false);
export const mshareProtectAllDesign = makeMshare(true);
