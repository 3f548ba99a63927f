/**
 * Named CPU profiles: the TLB and paging-structure-cache geometry of real x86-64 cores, and the
 * latencies cycles are derived from. Every figure carries its source; figures no primary source
 * confirms are marked `verified: false` and reported as such by `ptbench tlb`. The reference
 * collection is ../shared/reference/kernel-semantics.md section 7.
 */
import { fail } from '../mm/errno.js';

export type PageSizeName = '4k' | '2m' | '1g';
export const PAGE_SIZE_CODE: Record<PageSizeName, number> = { '4k': 0, '2m': 1, '1g': 2 };

export interface Figure {
  source: string;
  verified: boolean;
}

/** One TLB array: `entries` in `ways`-way sets (ways = entries: fully associative), holding `sizes`. */
export interface TlbArraySpec extends Figure {
  name: string;
  entries: number;
  ways: number;
  sizes: PageSizeName[];
}

/** A paging-structure cache for the entries of one table level (Intel SDM Vol. 3 section 4.10.3). */
export interface PscSpec extends Figure {
  entries: number;
  ways: number;
}

export interface CpuProfile {
  name: string;
  description: string;
  /**
   * INVLPGB/TLBSYNC: broadcast TLB invalidation in hardware (AMD Zen 3 and later; AMD64 APM vol. 3).
   * Used by kernels with the invlpgb rule (KERNEL_RULES.invlpgb) instead of flush IPIs.
   */
  invlpgb: boolean;
  /** First-level data TLB arrays, looked up in parallel. */
  l1: TlbArraySpec[];
  /** Second-level (unified) TLB arrays. */
  stlb: TlbArraySpec[];
  /** The second level keeps a 1 GiB translation as the 2 MiB piece in use ("smashing", AMD). */
  smash1gInStlb: boolean;
  /** PML5E (LA57 only), PML4E, PDPTE and PDE caches. */
  psc: { pml5e: PscSpec; pml4e: PscSpec; pdpte: PscSpec; pde: PscSpec };
  /** Cycles: an STLB hit, a walk reference served by the LLC, one served by DRAM. */
  latency: { stlbHit: number; walkRefLlc: number; walkRefDram: number } & Figure;
}

const SDM_PSC = 'Intel SDM Vol. 3 section 4.10.3 (paging-structure caches exist, sizes undisclosed)';

const skylake: CpuProfile = {
  name: 'skylake',
  invlpgb: false,
  description: 'Intel Skylake client/server core',
  l1: [
    { name: 'L1 dTLB 4K', entries: 64, ways: 4, sizes: ['4k'], source: 'CPUID leaf 2 dump, community.intel.com thread 1371605', verified: true },
    { name: 'L1 dTLB 2M', entries: 32, ways: 4, sizes: ['2m'], source: 'CPUID leaf 2 dump, community.intel.com thread 1371605', verified: true },
    { name: 'L1 dTLB 1G', entries: 4, ways: 4, sizes: ['1g'], source: 'CPUID leaf 2 dump, community.intel.com thread 1371605', verified: true },
  ],
  stlb: [
    { name: 'STLB 4K/2M', entries: 1536, ways: 12, sizes: ['4k', '2m'], source: '1536 entries: CPUID leaf 2; 12-way per the Intel optimization manual (CPUID reports 6-way)', verified: false },
    { name: 'STLB 1G', entries: 16, ways: 4, sizes: ['1g'], source: 'CPUID leaf 2 dump, community.intel.com thread 1371605 (16 entries; 4-way assumed)', verified: false },
  ],
  smash1gInStlb: false,
  psc: {
    pml5e: { entries: 2, ways: 2, source: `${SDM_PSC}; no LA57 on Skylake, kept equal to PML4E`, verified: false },
    pml4e: { entries: 2, ways: 2, source: `${SDM_PSC}; 2 entries as commonly assumed in walk-cache studies`, verified: false },
    pdpte: { entries: 4, ways: 4, source: `${SDM_PSC}; 4 entries as commonly assumed in walk-cache studies`, verified: false },
    pde: { entries: 32, ways: 4, source: `${SDM_PSC}; 32 entries as commonly assumed in walk-cache studies`, verified: false },
  },
  latency: { stlbHit: 9, walkRefLlc: 42, walkRefDram: 200, source: 'STLB hit: Haswell measurement +9..12 cycles (pc.watch); LLC ~42 and DRAM ~200 cycles: typical Skylake figures', verified: false },
};

const goldenCove: CpuProfile = {
  name: 'golden-cove',
  invlpgb: false,
  description: 'Intel Golden Cove (Alder Lake P-core, Sapphire Rapids)',
  l1: [
    { name: 'L1 dTLB 4K', entries: 96, ways: 6, sizes: ['4k'], source: 'Intel Architecture Day 2021: load dTLB 64 -> 96 entries (secondary: cpunews.net Alder Lake analysis p.5); 6-way assumed', verified: false },
    { name: 'L1 dTLB 2M', entries: 32, ways: 4, sizes: ['2m'], source: 'carried over from Skylake (not published for Golden Cove)', verified: false },
    { name: 'L1 dTLB 1G', entries: 8, ways: 8, sizes: ['1g'], source: 'not published; 8 fully associative assumed', verified: false },
  ],
  stlb: [
    { name: 'STLB 4K/2M', entries: 2048, ways: 16, sizes: ['4k', '2m'], source: 'Intel Optimization Reference Manual table: 2048 entries shared 4K/2M; 16-way assumed', verified: false },
    { name: 'STLB 1G', entries: 1024, ways: 8, sizes: ['1g'], source: 'Intel Optimization Reference Manual table: 1024 x 1G (shared with 4K in hardware; modelled apart); 8-way assumed', verified: false },
  ],
  smash1gInStlb: false,
  psc: {
    pml5e: { entries: 2, ways: 2, source: `${SDM_PSC}; assumed equal to Skylake`, verified: false },
    pml4e: { entries: 2, ways: 2, source: `${SDM_PSC}; assumed equal to Skylake`, verified: false },
    pdpte: { entries: 4, ways: 4, source: `${SDM_PSC}; assumed equal to Skylake`, verified: false },
    pde: { entries: 32, ways: 4, source: `${SDM_PSC}; assumed equal to Skylake`, verified: false },
  },
  latency: { stlbHit: 9, walkRefLlc: 55, walkRefDram: 250, source: 'assumed: STLB as Skylake; LLC and DRAM latencies typical for Alder Lake / Sapphire Rapids', verified: false },
};

const zen4: CpuProfile = {
  name: 'zen4',
  invlpgb: true,
  description: 'AMD Zen 4 (Family 19h)',
  l1: [{ name: 'L1 dTLB', entries: 72, ways: 72, sizes: ['4k', '2m', '1g'], source: 'AMD Software Optimization Guide, Family 19h: 72 entries, fully associative, all page sizes', verified: false }],
  stlb: [{ name: 'L2 dTLB 4K/2M', entries: 3072, ways: 24, sizes: ['4k', '2m'], source: 'AMD Software Optimization Guide, Family 19h: 3072 entries; 24-way assumed; 1G pages smashed to 2M (WikiChip, Zen 2)', verified: false }],
  smash1gInStlb: true,
  psc: {
    pml5e: { entries: 2, ways: 2, source: 'AMD page-directory cache: sizes undisclosed; assumed', verified: false },
    pml4e: { entries: 2, ways: 2, source: 'AMD page-directory cache: sizes undisclosed; assumed', verified: false },
    pdpte: { entries: 4, ways: 4, source: 'AMD page-directory cache: sizes undisclosed; assumed', verified: false },
    pde: { entries: 64, ways: 4, source: 'WikiChip (Zen 2): the L2 dTLB also holds PDEs; 64 assumed', verified: false },
  },
  latency: { stlbHit: 7, walkRefLlc: 50, walkRefDram: 300, source: 'assumed: L2 dTLB hit ~7 cycles; L3 ~50 cycles; DRAM ~300 cycles', verified: false },
};

export const CPU_PROFILES: readonly CpuProfile[] = [goldenCove, zen4, skylake];

export function cpuProfile(name: string): CpuProfile {
  const p = CPU_PROFILES.find((c) => c.name === name);
  if (p === undefined) fail('EINVAL', 'cpu', `unknown CPU profile '${name}'; known: ${CPU_PROFILES.map((c) => c.name).join(', ')}`);
  return p;
}
