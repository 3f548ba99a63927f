/** `private`: today's Linux for everything but hugetlb — every mm gets its own tables. The baseline of every saving. */
import { privateRoutes, type PtShareDesign } from '../mm/pt_share.js';

export const privateDesign: PtShareDesign = {
  name: 'private',
  summary: 'every process has its own page tables (the baseline: Linux without hugetlb PMD sharing)',
  mmPerProcess: true,
  shareTable: () => -1,
  countRoutes: (map) => ({ footprint: [map.start, map.end], routes: privateRoutes(map) }),
};
