/**
 * Kernel profiles: which kernel the simulated figures belong to. A profile is data: the kernel
 * version, the rules that version has (each with the version and commit that introduced it), and
 * the defaults of the config knobs that change figures. Kernel code asks the machine's
 * KernelConfig (`m.kernel`), never a version number.
 *
 * Rules model the x86-64 kernel built with its defaults (CONFIG_PT_RECLAIM=y where it exists), on a
 * CPU where page-table isolation is inactive (not affected by Meltdown: every AMD CPU, Intel since
 * Ice Lake); the 8 KiB PGD that PTI needs is not modelled yet.
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

export const KERNEL_PROFILES: readonly KernelProfile[] = [
  { name: '6.12', describes: 'Linux 6.12, the LTS of 2024 (x86-64, default config, PTI inactive)', rules: [], defaults: {} },
  { name: '6.18', describes: 'Linux 6.18 (x86-64, default config: CONFIG_PT_RECLAIM=y; PTI inactive)', rules: ['pt_reclaim'], defaults: { ptReclaim: true } },
];

export const DEFAULT_KERNEL = '6.18';

/** The kernel a machine simulates: the profile and the knobs in force (what results files record). */
export interface KernelConfig {
  profile: string;
  /** CONFIG_PT_RECLAIM in force: MADV_DONTNEED frees the PTE tables it empties. */
  ptReclaim: boolean;
}

export interface KernelKnobs {
  ptReclaim?: boolean;
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
  return { profile: p.name, ptReclaim: has('pt_reclaim') && (knobs.ptReclaim ?? p.defaults.ptReclaim ?? false) };
}

/** One line naming the kernel a figure belongs to, for reports. */
export function describeKernel(k: KernelConfig): string {
  const p = kernelProfile(k.profile);
  return `${p.describes}${p.rules.includes('pt_reclaim') ? `; PT_RECLAIM ${k.ptReclaim ? 'on' : 'off'}` : ''}`;
}

/** The --kernel and --pt-reclaim options of every command that simulates (node:util parseArgs form). */
export const KERNEL_OPTIONS = { kernel: { type: 'string' }, 'pt-reclaim': { type: 'string' } } as const;

/** --kernel NAME and --pt-reclaim on|off as a command gives them (absent: the profile's default). */
export function kernelFromOptions(kernel: string | undefined, ptReclaim: string | undefined): KernelConfig {
  if (ptReclaim !== undefined && ptReclaim !== 'on' && ptReclaim !== 'off') fail('EINVAL', '--pt-reclaim', `'${ptReclaim}' is not on or off`);
  return kernelConfig(kernel ?? DEFAULT_KERNEL, ptReclaim === undefined ? {} : { ptReclaim: ptReclaim === 'on' });
}

/** The --kernel and --pt-reclaim lines of a command's --help. */
export function kernelHelp(pad = 21): string {
  const line = (label: string, text: string) => (label.length < pad ? `${label.padEnd(pad)}${text}` : `${label}\n${' '.repeat(pad)}${text}`);
  return [
    line('  --kernel NAME', `kernel profile the simulated figures follow: ${KERNEL_PROFILES.map((k) => k.name).join(', ')} (default ${DEFAULT_KERNEL})`),
    line('  --pt-reclaim on|off', "CONFIG_PT_RECLAIM (6.14 and later; default: the profile's, on for 6.18)"),
  ].join('\n');
}
