/**
 * The plug point for page-table sharing designs. The fault path never allocates a lower-level table
 * itself: when it meets an empty upper entry it asks the design for a table to link there. A design
 * that shares returns an existing table (and raises that table's pt_share_count, the count of *extra*
 * sharers); `private` always answers "allocate a fresh one". The rest of the core — zap, free_pgtables,
 * fork, accounting — honours pt_share_count generically: a shared table is unlinked from one mm
 * (unshare) instead of being freed, and is counted once machine-wide and once in every sharer's
 * VmPTE-style count.
 *
 * A new design is one new file implementing this interface, registered in ./index.ts.
 */
import type { Machine } from '../mm/machine.js';
import type { VmAreaStruct } from '../mm/vma.js';

export interface PtShareDesign {
  /** Name on the command line (--design). */
  readonly name: string;
  /** One line for --help and reports. */
  readonly summary: string;
  /**
   * true: every simulated process has its own mm. false: the processes of a scenario are tasks
   * (threads) of one mm, the lower bound any sharing design can reach.
   */
  readonly mmPerProcess: boolean;
  /**
   * The fault path needs a table of `level` (0 = PTE table, 1 = PMD table, 2 = PUD table, ...) to
   * cover `addr` in `vma`'s mm, whose upper entry is empty. Return the number of an existing table to
   * link there — the design has already raised its pt_share_count — or -1 to allocate a private one.
   */
  shareTable(m: Machine, vma: VmAreaStruct, addr: number, level: number): number;
}
