/**
 * The kernel options every command that simulates takes (--kernel, --pt-reclaim, --pti), as parseArgs
 * options, their parsing over a recorded configuration, and their --help lines. Command-line
 * vocabulary lives here, not in mm/: a bad value is a UsageError naming the option.
 */
import { UsageError } from '../../lib/errors.js';
import { KernelError } from '../../mm/errno.js';
import { DEFAULT_KERNEL, DEFAULT_PTI, KERNEL_PROFILES, kernelConfig, kernelProfile, type KernelConfig, type KernelKnobs, type KernelSetting } from '../../mm/kernel_profile.js';

/** The kernel options of every command that simulates (node:util parseArgs form). */
export const KERNEL_OPTIONS = { kernel: { type: 'string' }, 'pt-reclaim': { type: 'string' }, pti: { type: 'string' } } as const;

function onOff(option: string, v: string | undefined): boolean | undefined {
  if (v !== undefined && v !== 'on' && v !== 'off') throw new UsageError(`${option}: '${v}' is not on or off`);
  return v === undefined ? undefined : v === 'on';
}

/**
 * --kernel NAME, --pt-reclaim on|off and --pti on|off as a command gives them, each over `base` (a
 * scenario file's recorded configuration) and then the profile's defaults. A recorded PT_RECLAIM is
 * dropped when --kernel names a profile without it.
 */
export function kernelFromOptions(values: { kernel?: string; 'pt-reclaim'?: string; pti?: string }, base?: KernelSetting): KernelConfig {
  const knobs: KernelKnobs = {};
  const ptReclaim = onOff('--pt-reclaim', values['pt-reclaim']);
  const pti = onOff('--pti', values.pti);
  const profile = values.kernel ?? base?.profile ?? DEFAULT_KERNEL;
  const baseReclaim = base?.ptReclaim !== undefined && asUsage(() => kernelProfile(profile)).rules.includes('pt_reclaim') ? base.ptReclaim : undefined;
  if ((ptReclaim ?? baseReclaim) !== undefined) knobs.ptReclaim = (ptReclaim ?? baseReclaim)!;
  if ((pti ?? base?.pti) !== undefined) knobs.pti = (pti ?? base?.pti)!;
  return asUsage(() => kernelConfig(profile, knobs));
}

/** The model's refusal of a profile or knob (KernelError, errno first) as the option's UsageError. */
function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof KernelError) throw new UsageError(e.message.replace(/^[A-Z]+: /, ''), e.message.split(':')[0]);
    throw e;
  }
}

/** Which kernel options a command was given (the rest come from a recorded configuration or the defaults). */
export function kernelOptionsGiven(values: { kernel?: string; 'pt-reclaim'?: string; pti?: string }): string[] {
  return (['kernel', 'pt-reclaim', 'pti'] as const).filter((k) => values[k] !== undefined).map((k) => `--${k}`);
}

/** The --kernel and --pt-reclaim lines of a command's --help. */
export function kernelHelp(pad = 21): string {
  const line = (label: string, text: string) => (label.length < pad ? `${label.padEnd(pad)}${text}` : `${label}\n${' '.repeat(pad)}${text}`);
  return [
    line('  --kernel NAME', `kernel profile the simulated figures follow: ${KERNEL_PROFILES.map((k) => k.name).join(', ')} (default ${DEFAULT_KERNEL})`),
    line('  --pt-reclaim on|off', "CONFIG_PT_RECLAIM (6.14 and later; default: the profile's, on for 6.18)"),
    line('  --pti on|off', `page-table isolation active (default ${DEFAULT_PTI ? 'on' : 'off'}: AMD, Intel since Ice Lake); 8 KiB PGD while on (always on 6.12)`),
  ].join('\n');
}
