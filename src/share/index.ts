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

/** A --design value: 'all', or comma-separated names (each as designByName reads it). */
export function designsByList(text: string): PtShareDesign[] {
  return text === 'all' ? [...DESIGNS] : text.split(',').map((d) => designByName(d.trim()));
}
