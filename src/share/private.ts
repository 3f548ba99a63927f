/** `private`: today's Linux for everything but hugetlb — every mm gets its own tables. The baseline of every saving. */
import { PT_SHARE_NONE, type PtShareDesign } from '../mm/pt_share.js';

export const privateDesign: PtShareDesign = PT_SHARE_NONE;
