/**
 * A consistency check of the whole machine, in the spirit of mm/page_table_check.c and the kernel's
 * debug_vm checks: walk every table reachable from every mm (each shared table once) and compare
 * what the entries say with the table pool and the frame table.
 *
 * - every table linked is in use, at the level its parent implies; every table in use is reachable
 *   (otherwise leaked); pt_share_count is the number of upper entries linking it, minus one;
 * - no leaf table maps one folio twice (the zero page aside);
 * - each folio's mapcount is the number of leaf entries mapping it; its refcount is that plus the page
 *   cache's reference (if it is in a file's page cache); pinned folios are left out of the refcount rule.
 *
 * Used after concurrent runs (src/smp) to show that racing CPUs left the same invariants as one CPU.
 */
import { _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_PSE, _PAGE_SPECIAL, PFN_HI_SHIFTED_MASK } from '../arch/pgtable_types.js';
import { PG_anon, ZERO_PFN } from './folio.js';
import type { MachineState } from './machine_types.js';

/** The problems found, one line each (at most `limit`); empty when the machine is consistent. */
export function page_table_check(m: MachineState, limit = 20): string[] {
  const out: string[] = [];
  const say = (s: string) => {
    if (out.length < limit) out.push(s);
  };
  const pool = m.pool;
  const ent = pool.entries;
  const links = new Int32Array(pool.capacity);
  const maps = new Int32Array(m.folios.capacity);
  const seenInTable = new Int32Array(m.folios.capacity).fill(-1);

  const visit = (t: number, level: number): void => {
    if (++links[t]! > 1) return;
    if (pool.level[t] !== level) {
      say(`table ${t} is linked as level ${level} but its ptdesc says ${pool.level[t] === -1 ? 'free' : `level ${pool.level[t]}`}`);
      return;
    }
    for (let i = 0; i < 512; i++) {
      const off = t * 1024 + 2 * i;
      const lo = ent[off]!;
      if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0) continue;
      const pfn = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
      if (level > 0 && (lo & _PAGE_PSE) === 0) {
        visit(pfn, level - 1);
        continue;
      }
      if ((lo & _PAGE_SPECIAL) !== 0 || pfn === ZERO_PFN) continue;
      if (m.folios.refcount[pfn]! <= 0) say(`table ${t} entry ${i} maps folio ${pfn}, which is free`);
      if (seenInTable[pfn] === t) say(`table ${t} maps folio ${pfn} more than once`);
      seenInTable[pfn] = t;
      maps[pfn]!++;
    }
  };
  for (const mm of m.mms) if (!mm.dead) visit(mm.pgd, m.rootLevel);

  for (let t = 0; t < pool.capacity; t++) {
    const lvl = pool.level[t]!;
    if (lvl >= 0 && links[t] === 0) say(`table ${t} (level ${lvl}) is in use but no mm reaches it (leaked)`);
    if (links[t]! > 0 && pool.shareCount[t] !== links[t]! - 1) say(`table ${t}: pt_share_count ${pool.shareCount[t]} but ${links[t]} upper entries link it`);
  }
  const fo = m.folios;
  const used = fo.header[1]!; // never-used watermark
  for (let f = 1; f < used; f++) {
    if (fo.refcount[f]! <= 0) continue;
    if (fo.mapcount[f] !== maps[f]) say(`folio ${f}: mapcount ${fo.mapcount[f]} but ${maps[f]} entries map it`);
    if (fo.maybeDmaPinned(f)) continue;
    const file = (fo.flags[f]! & PG_anon) === 0 ? m.files[fo.mapping[f]!] : undefined;
    const cached = file !== undefined && file.pages[fo.index[f]!] === f + 1 ? 1 : 0;
    if (fo.refcount[f] !== maps[f]! + cached) say(`folio ${f}: refcount ${fo.refcount[f]} but ${maps[f]} mappings + ${cached} page-cache reference`);
  }
  return out;
}
