/**
 * GUP pins, after mm/gup.c: pin_user_pages faults the page in — a write fault for FOLL_WRITE, an
 * unsharing fault (FAULT_FLAG_UNSHARE) for a read-only pin of an anonymous page that is not
 * exclusive (gup_must_unshare) — and then pins it: small folios take GUP_PIN_COUNTING_BIAS references,
 * large folios one reference plus one in _pincount. The mm is marked MMF_HAS_PINNED, which makes fork
 * copy possibly-pinned anonymous pages eagerly.
 */
import { _PAGE_PRESENT, _PAGE_RW, _PAGE_SPECIAL } from '../arch/pgtable_types.js';
import { fail } from './errno.js';
import { GUP_PIN_COUNTING_BIAS, PG_anon, PG_anon_exclusive } from './folio.js';
import type { MachineState } from './machine_types.js';
import { handle_mm_fault, do_user_addr_fault } from './memory.js';
import { MMF_HAS_PINNED, type MmStruct } from './mm_types.js';
import { is_cow_mapping } from './vma.js';
import { FAULT_FLAG_UNSHARE, faultName, VM_FAULT_NOT_DONE } from './vm_fault.js';

/** Pin the page at `addr`; returns the pinned folio. */
export function pin_user_page(m: MachineState, mm: MmStruct, addr: number, write: boolean): number {
  for (let tries = 0; tries < 3; tries++) {
    const off = m.follow_page(mm, addr);
    const ent = m.pool.entries;
    if (off >= 0) {
      const lo = ent[off]!;
      const present = (lo & _PAGE_PRESENT) !== 0;
      const f = (lo & _PAGE_SPECIAL) !== 0 ? -1 : m.leafFolio(off);
      if (present && (!write || (lo & _PAGE_RW) !== 0)) {
        // gup_must_unshare: a R/O pin of an anonymous page that is not exclusive must unshare first.
        // Pins are FOLL_LONGTERM: a R/O pin of a not-exclusive anonymous page, or of the zero page or a
        // page-cache page in a COW mapping, must unshare first (gup_must_unshare).
        const vma = mm.find_vma(addr)!;
        const anon = f >= 0 && (m.folios.flags[f]! & PG_anon) !== 0;
        const mustUnshare = !write && (anon ? (m.folios.flags[f]! & PG_anon_exclusive) === 0 : is_cow_mapping(vma.vm_flags));
        if (!mustUnshare && f >= 0) {
          const fo = m.folios;
          if (fo.order[f]! > 0) { fo.refcount[f]!++; fo.pincount[f]!++; } else fo.refcount[f]! += GUP_PIN_COUNTING_BIAS;
          mm.flags |= MMF_HAS_PINNED;
          return f;
        }
        m.vmf.address = addr;
        const r = handle_mm_fault(m, vma, FAULT_FLAG_UNSHARE);
        if (r & VM_FAULT_NOT_DONE) fail('EFAULT', 'addr', `unshare fault at 0x${addr.toString(16)}: ${faultName(r)}`);
        continue;
      }
    }
    m.vmf.address = addr;
    const r = do_user_addr_fault(m, mm, write);
    if (r & VM_FAULT_NOT_DONE) fail('EFAULT', 'addr', `cannot pin 0x${addr.toString(16)}: ${faultName(r)}`);
  }
  return fail('EFAULT', 'addr', `page at 0x${addr.toString(16)} did not settle after 3 faults`);
}

/** unpin_user_page. */
export function unpin_user_page(m: MachineState, f: number): void {
  const fo = m.folios;
  if (fo.order[f]! > 0) {
    if (fo.pincount[f]! <= 0) fail('EINVAL', 'folio', `folio ${f} is not pinned`);
    fo.pincount[f]!--;
    fo.put(f);
  } else {
    if (fo.refcount[f]! < GUP_PIN_COUNTING_BIAS) fail('EINVAL', 'folio', `folio ${f} is not pinned`);
    fo.refcount[f]! -= GUP_PIN_COUNTING_BIAS - 1;
    fo.put(f);
  }
}
