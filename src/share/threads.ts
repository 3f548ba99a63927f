/**
 * `threads`: the processes of a scenario are tasks of one mm (CLONE_VM), so one set of VMAs and one
 * set of tables serves them all — the lower bound any sharing design can reach. Tables themselves are
 * private to that one mm.
 */
import { privateRoutes, type PtShareDesign } from '../mm/pt_share.js';

export const threadsDesign: PtShareDesign = {
  name: 'threads',
  summary: 'all processes are threads of one mm: one set of page tables (the lower bound)',
  mmPerProcess: false,
  shareTable: () => -1,
  countRoutes: (map) => ({ footprint: [map.start, map.end], routes: privateRoutes(map) }),
};
