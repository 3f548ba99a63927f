/**
 * fork's memory half, after kernel/fork.c dup_mmap: every VMA is duplicated into the child mm
 * (VM_DONTCOPY ones skipped, VM_WIPEONFORK ones left empty), file references and i_mmap links are
 * taken, the child gets its own anon_vma where the parent has one (anon_vma_fork), and
 * copy_page_range copies the tables of the VMAs that need it. A userfaultfd-registered VMA stays
 * registered in the child, as with UFFD_FEATURE_EVENT_FORK (without that feature dup_userfaultfd
 * clears the uffd flags and the child's tables are not copied).
 */
import { copy_page_range } from './copy_page_range.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import { VM_DONTCOPY, VM_WIPEONFORK } from './vma.js';
import { flush_tlb_range } from './tlbflush.js';

export function dup_mmap(m: MachineState, oldmm: MmStruct): MmStruct {
  const mm = m.mm_alloc();
  for (const vma of oldmm.vmas) {
    if ((vma.vm_flags & VM_DONTCOPY) !== 0) continue;
    const tmp = vma.dup(mm);
    if ((vma.vm_flags & VM_WIPEONFORK) !== 0) tmp.anon_vma = null;
    else if (vma.anon_vma !== null) tmp.anon_vma = { id: m.nextAnonVmaId++ };
    if (tmp.vm_file !== null) {
      tmp.vm_file.refs++;
      tmp.vm_file.i_mmap.push(tmp);
    }
    mm.vmas.push(tmp);
    if ((vma.vm_flags & VM_WIPEONFORK) === 0) copy_page_range(m, tmp, vma);
  }
  // dup_mmap ends with flush_tlb_mm(oldmm), whatever it copied (kernel/fork.c, every version
  // modelled): the parent's write-protected PTEs must leave every TLB that caches them.
  flush_tlb_range(m, oldmm, [oldmm], 0, 0, Infinity);
  return mm;
}
