/**
 * Anonymous reverse mapping on the fault path (mm/rmap.c): anon_vma_prepare and a new exclusive
 * anonymous folio (folio_add_new_anon_rmap).
 */

import * as folio_flags from './folio.js';
import type { MachineState } from './machine_types.js';
import type { VmAreaStruct } from './vma.js';
import type { VmFault } from './vm_fault.js';
import * as geometry from '../arch/pgtable_64_types.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const PG_anon = folio_flags.PG_anon;
const PG_anon_exclusive = folio_flags.PG_anon_exclusive;
const PG_swapbacked = folio_flags.PG_swapbacked;
const PG_uptodate = folio_flags.PG_uptodate;
/** 1 / ENTRY_SPAN[L]: multiplying by a power-of-two reciprocal is exact and cheaper than dividing. */
const INV_SPAN = Float64Array.from(ENTRY_SPAN, (s) => 1 / s);

/** A folio allocated for a fault that another CPU won: never mapped, freed again. */
export function discard_new_anon_folio(m: MachineState, f: number): void {
  m.folios.mapcount[f] = 0;
  m.folios.put(f);
}

/** anon_vma_prepare. */
export function anon_vma_prepare(m: MachineState, vma: VmAreaStruct): void {
  if (vma.anon_vma !== null) return;
  if (m.smp) throw new Error('BUG: anon_vma_prepare on a concurrent CPU: the machine must be prepared first (smp_prepare)');
  vma.anon_vma = { id: m.nextAnonVmaId++ };
}

/** folio_add_new_anon_rmap + the new folio's bookkeeping: exclusive, mapped once. */
export function new_anon_folio(m: MachineState, vmf: VmFault): number {
  const fo = m.folios;
  const vma = vmf.vma!;
  return fo.alloc(0, 1, 1, PG_anon | PG_anon_exclusive | PG_swapbacked | PG_uptodate, vma.anon_vma!.id,
    (vmf.address - vma.vm_start) * INV_SPAN[0]! + vma.vm_pgoff);
}
