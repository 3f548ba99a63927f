/** The registry of sharing designs, by --design name. */
import type { PtShareDesign } from '../mm/pt_share.js';
import { filePtDesign } from './file_pt.js';
import { hugetlbPmdDesign } from './hugetlb_pmd.js';
import { mshareDesign, mshareProtectAllDesign } from './mshare.js';
import { privateDesign } from './private.js';
import { ptshareDesign } from './ptshare.js';
import { threadsDesign } from './threads.js';
import { UsageError } from '../lib/errors.js';

export const DESIGNS: readonly PtShareDesign[] = [privateDesign, hugetlbPmdDesign, ptshareDesign, mshareDesign, mshareProtectAllDesign, filePtDesign, threadsDesign];

export function designByName(name: string): PtShareDesign {
  const d = DESIGNS.find((x) => x.name === name);
  if (!d) throw new UsageError(`--design: unknown design '${name}'; known designs: ${DESIGNS.map((x) => x.name).join(', ')}`);
  return d;
}

/** A --design value: 'all', or comma-separated names (each as designByName reads it), each named once. */
export function designsByList(text: string | readonly string[]): PtShareDesign[] {
  const names = (typeof text === 'string' ? [text] : text).flatMap((t) => t.split(',')).map((d) => d.trim());
  if (names.length === 1 && names[0] === 'all') return [...DESIGNS];
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new UsageError(`--design: '${n}' is named twice; name each design once (or 'all')`);
    seen.add(n);
  }
  return names.map((d) => designByName(d));
}
