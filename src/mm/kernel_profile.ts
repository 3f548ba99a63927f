/**
 * Kernel profiles: which kernel the simulated figures belong to. A profile is data: the kernel
 * version, the rules that version has (each with the version and commit that introduced it), and
 * the defaults of the config knobs that change figures. Kernel code asks the machine's
 * KernelConfig (`m.kernel`), never a version number.
 *
 * Rules model the x86-64 kernel built with its defaults (CONFIG_PT_RECLAIM=y where it exists,
 * CONFIG_MITIGATION_PAGE_TABLE_ISOLATION=y), 4-level paging by default. Page-table isolation is a
 * runtime state (`--pti`): active on a CPU affected by Meltdown (Intel before Ice Lake) unless booted
 * with pti=off, inactive on every AMD CPU and on newer Intel ones.
 */
import { fail } from './errno.js';

/** A kernel behaviour that changes simulated figures, and where it comes from. */
export interface KernelRule {
  /** What changes, in one line. */
  summary: string;
  /** The first mainline release that has it. */
  since: string;
  /** The mainline commit that introduced it (12 hex digits). */
  commit: string;
  /** The kernel functions and files that implement it. */
  where: string;
  /** The config option that turns it on, when there is one. */
  config?: string;
}

export const KERNEL_RULES = {
  pt_reclaim: {
    summary: 'MADV_DONTNEED frees each PTE table it leaves empty (a whole 2 MiB window zapped, no entry skipped)',
    since: '6.14',
    commit: '6375e95f381e',
    where: 'zap_pte_range() with zap_details.reclaim_pt (madvise_dontneed_single_vma), reclaim_pt_is_enabled() and try_get_and_clear_pmd() in mm/pt_reclaim.c',
    config: 'CONFIG_PT_RECLAIM',
  },
  pgd_order_pti: {
    summary: 'the PGD is an 8 KiB (order-1) allocation only while PTI is active; before, whenever the kernel was built with CONFIG_MITIGATION_PAGE_TABLE_ISOLATION (x86-64 default y), PTI active or not',
    since: '6.15',
    commit: '4ce385f56434',
    where: 'pgd_allocation_order() in arch/x86/include/asm/pgalloc.h, used by _pgd_alloc() in arch/x86/mm/pgtable.c (also in 6.14.y stable)',
  },
  pgd_in_pagetables: {
    summary: 'the PGD counts in PageTables (/proc/meminfo NR_PAGETABLE), at its allocation size; before, x86 took it from __get_free_pages() and PageTables left it out',
    since: '6.14',
    commit: '68c601de75d8',
    where: 'pagetable_pgd_ctor() in __pgd_alloc() (include/asm-generic/pgalloc.h), which x86 _pgd_alloc() calls since a9b3c355c2e6',
  },
  hugetlb_unshare_sync: {
    summary: 'unsharing a hugetlb PMD table so that one owner is left (pt_share_count 0) makes the operation end with one GUP-fast synchronisation IPI to every other CPU (tlb_remove_table_sync_one), once per mmu_gather however many tables it unshared',
    since: '6.16',
    commit: '1013af4f585f',
    where: 'huge_pmd_unshare() sets mmu_gather.fully_unshared_tables; tlb_flush_unshared_tables() (include/asm-generic/tlb.h) syncs once. The race fix (1013af4f585f, 6.16) synced per unshared table; "mm/hugetlb: fix excessive IPI broadcasts when unsharing PMD tables using mmu_gather" (David Hildenbrand, 6.19) batched it. Both went to the stable trees: 6.1.167-rc1 (March 2026) carries the batching, so current 6.12.y and 6.18.y releases do too',
  },
  lazy_mm_cpumask: {
    summary: 'a CPU that switches away stays in mm_cpumask until a flush trims it, and flush IPIs go only to CPUs running the mm and not lazy (should_flush_tlb), except after freeing tables (freed_tables), which reaches every CPU in mm_cpumask; before, switch_mm cleared the CPU from mm_cpumask and only lazy CPUs were skipped (tlb_is_not_lazy)',
    since: '6.14',
    commit: '209954cbc7d0',
    where: 'switch_mm_irqs_off(), should_flush_tlb() and native_flush_tlb_multi() in arch/x86/mm/tlb.c; "x86/mm/tlb: Update mm_cpumask lazily" (tip x86/mm, December 2024) with "Only trim the mm_cpumask once a second" (6db2526c1d69); the once-a-second trim IPI is not modelled (a simulated run lasts less than a second)',
  },
  invlpgb: {
    summary: 'on CPUs with INVLPGB (AMD Zen 3 and later), flush_tlb_all and every flush of an mm with a global ASID (one active on 4 or more CPUs at once) are broadcast in hardware, without IPIs',
    since: '6.15',
    commit: 'the series "AMD broadcast TLB invalidation" (Rik van Riel, 2025)',
    where: 'flush_tlb_all() -> invlpgb_flush_all(); consider_global_asid() (mm_active_cpus_exceeds(mm, 3)) and flush_tlb_mm_range() -> invlpgb_tlb_flush() in arch/x86/mm/tlb.c; CONFIG_BROADCAST_TLB_FLUSH',
  },
} as const satisfies Record<string, KernelRule>;

export type KernelRuleId = keyof typeof KERNEL_RULES;

export interface KernelProfile {
  /** The --kernel name. */
  name: string;
  /** What the profile stands for. */
  describes: string;
  /** The rules this kernel has, each applied only where its knob (if any) is on. */
  rules: readonly KernelRuleId[];
  /** Defaults of the knobs that change figures (undefined: the knob does not exist in this kernel). */
  defaults: { ptReclaim?: boolean };
}

/** PTI knob default: inactive (AMD CPUs, Intel since Ice Lake; pti=off). */
export const DEFAULT_PTI = false;

export const KERNEL_PROFILES: readonly KernelProfile[] = [
  { name: '6.12', describes: 'Linux 6.12, the LTS of 2024 (x86-64, default config)', rules: ['hugetlb_unshare_sync'], defaults: {} },
  { name: '6.18', describes: 'Linux 6.18 (x86-64, default config: CONFIG_PT_RECLAIM=y)', rules: ['pt_reclaim', 'pgd_order_pti', 'pgd_in_pagetables', 'hugetlb_unshare_sync', 'lazy_mm_cpumask', 'invlpgb'], defaults: { ptReclaim: true } },
];

export const DEFAULT_KERNEL = '6.18';

/** The kernel a machine simulates: the profile and the knobs in force (what results files record). */
export interface KernelConfig {
  profile: string;
  /** CONFIG_PT_RECLAIM in force: MADV_DONTNEED frees the PTE tables it empties. */
  ptReclaim: boolean;
  /** Page-table isolation active (X86_FEATURE_PTI). */
  pti: boolean;
  /** Bytes of one PGD allocation: 8,192 (order 1) or 4,096 (pgd_allocation_order()). */
  pgdBytes: number;
  /** PageTables in /proc/meminfo counts the PGD (pagetable_pgd_ctor). VmPTE never does. */
  pgdInPageTables: boolean;
  /** A hugetlb PMD unshare that leaves one owner ends its operation with a GUP-fast sync IPI broadcast. */
  hugetlbUnshareSync?: boolean;
  /** Broadcast TLB invalidation (INVLPGB) is used where the CPU has it. */
  invlpgb?: boolean;
  /** mm_cpumask kept lazily; flush IPIs filtered by should_flush_tlb() (KERNEL_RULES.lazy_mm_cpumask). */
  lazyMmCpumask?: boolean;
}

export interface KernelKnobs {
  ptReclaim?: boolean;
  pti?: boolean;
}

/** A kernel configuration written down (a scenario file's `kernel` member): a profile and the knobs it sets. */
export interface KernelSetting extends KernelKnobs {
  profile: string;
}

export function kernelProfile(name: string): KernelProfile {
  const p = KERNEL_PROFILES.find((x) => x.name === name);
  if (p === undefined) fail('EINVAL', '--kernel', `unknown kernel profile '${name}'; profiles: ${KERNEL_PROFILES.map((x) => x.name).join(', ')}`);
  return p;
}

/**
 * The configuration of kernel `name` with `knobs` over its defaults. A knob the kernel does not have
 * (CONFIG_PT_RECLAIM before 6.14) can only be off.
 */
export function kernelConfig(name: string = DEFAULT_KERNEL, knobs: KernelKnobs = {}): KernelConfig {
  const p = kernelProfile(name);
  const has = (id: KernelRuleId) => p.rules.includes(id);
  if (knobs.ptReclaim === true && !has('pt_reclaim')) {
    const r = KERNEL_RULES.pt_reclaim;
    fail('EINVAL', '--pt-reclaim', `${r.config} does not exist in Linux ${p.name} (it came in ${r.since}); use --kernel ${KERNEL_PROFILES.filter((x) => x.rules.includes('pt_reclaim')).map((x) => x.name).join(' or ')}, or --pt-reclaim off`);
  }
  const pti = knobs.pti ?? DEFAULT_PTI;
  return {
    profile: p.name,
    ptReclaim: has('pt_reclaim') && (knobs.ptReclaim ?? p.defaults.ptReclaim ?? false),
    pti,
    // Before pgd_allocation_order(), PGD_ALLOCATION_ORDER was 1 whenever PTI was built in.
    pgdBytes: !has('pgd_order_pti') || pti ? 8192 : 4096,
    pgdInPageTables: has('pgd_in_pagetables'),
    hugetlbUnshareSync: has('hugetlb_unshare_sync'),
    invlpgb: has('invlpgb'),
    lazyMmCpumask: has('lazy_mm_cpumask'),
  };
}

/** One line naming the kernel a figure belongs to, for reports. */
export function describeKernel(k: KernelConfig): string {
  const p = kernelProfile(k.profile);
  const reclaim = p.rules.includes('pt_reclaim') ? `; PT_RECLAIM ${k.ptReclaim ? 'on' : 'off'}` : '';
  return `${p.describes}${reclaim}; PTI ${k.pti ? 'active' : 'inactive'}, PGD ${k.pgdBytes / 1024} KiB`;
}
