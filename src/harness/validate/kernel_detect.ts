/**
 * Which kernel profile the running kernel is: the newest profile not newer than `uname -r`, with
 * CONFIG_PT_RECLAIM read from /proc/config.gz or /boot/config-<release>, and PTI's state read from
 * /sys/devices/system/cpu/vulnerabilities/meltdown. Every choice comes with the reason, which
 * `ptbench validate` prints.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_PTI, KERNEL_PROFILES, kernelConfig, type KernelConfig, type KernelKnobs } from '../../mm/kernel_profile.js';

export interface DetectedKernel {
  config: KernelConfig;
  /** One line: which profile and why. */
  why: string;
  /** PTI active on this machine (null: not readable); config.pti follows it. */
  pti: boolean | null;
}

/** "6.18.44-fc" -> [6, 18]; null when it is not a version. */
export function kernelVersion(text: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** The value of `option` in a kernel config text ('y', 'm', a value), or 'n' when it is not set. */
export function configValue(text: string, option: string): string {
  const m = new RegExp(`^${option}=(.*)$`, 'm').exec(text);
  return m ? m[1]! : 'n';
}

/** Reads one of the host's files (/proc, /sys, /boot); null when it cannot be read. Tests pass their own. */
export type HostReader = (path: string) => Buffer | null;

export const readHostFile: HostReader = (path) => {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
};

function readConfig(rel: string, read: HostReader): { text: string; from: string } | null {
  const gz = read('/proc/config.gz');
  if (gz !== null) {
    try {
      return { text: gunzipSync(gz).toString('utf8'), from: '/proc/config.gz' };
    } catch { /* not gzip: fall through to /boot */ }
  }
  const boot = read(`/boot/config-${rel}`);
  return boot === null ? null : { text: boot.toString('utf8'), from: `/boot/config-${rel}` };
}

export function detectKernel(rel: string = release(), read: HostReader = readHostFile): DetectedKernel {
  const v = kernelVersion(rel);
  const byVersion = KERNEL_PROFILES.map((p) => ({ p, v: kernelVersion(p.name)! })).sort((a, b) => a.v[0] - b.v[0] || a.v[1] - b.v[1]);
  const fits = v === null ? [] : byVersion.filter((x) => x.v[0] < v[0] || (x.v[0] === v[0] && x.v[1] <= v[1]));
  const pick = fits.length > 0 ? fits[fits.length - 1]!.p : byVersion[0]!.p;
  const reasons: string[] = [v === null ? `uname -r '${rel}' is not a version: the oldest profile` : fits.length === 0 ? `uname -r ${rel} is older than every profile: the oldest` : `uname -r ${rel}: the newest profile not newer than it`];
  const knobs: KernelKnobs = {};
  const cfg = readConfig(rel, read);
  if (pick.rules.includes('pt_reclaim')) {
    if (cfg === null) {
      reasons.push(`kernel config not readable: CONFIG_PT_RECLAIM assumed ${kernelConfig(pick.name).ptReclaim ? 'on' : 'off'}, the profile's default`);
    } else {
      knobs.ptReclaim = configValue(cfg.text, 'CONFIG_PT_RECLAIM') === 'y';
      reasons.push(`CONFIG_PT_RECLAIM=${knobs.ptReclaim ? 'y' : 'n'} (${cfg.from})`);
    }
  }
  let pti: boolean | null = null;
  const meltdownFile = read('/sys/devices/system/cpu/vulnerabilities/meltdown');
  if (meltdownFile !== null) {
    const meltdown = meltdownFile.toString('utf8').trim();
    pti = /PTI/.test(meltdown);
    knobs.pti = pti;
    reasons.push(`PTI ${pti ? 'active' : 'inactive'} (meltdown: ${meltdown})`);
  } else {
    reasons.push(`PTI state not readable: assumed ${DEFAULT_PTI ? 'active' : 'inactive'}`);
  }
  if (cfg !== null && configValue(cfg.text, 'CONFIG_MITIGATION_PAGE_TABLE_ISOLATION') !== 'y' && configValue(cfg.text, 'CONFIG_PAGE_TABLE_ISOLATION') !== 'y') {
    reasons.push('built without page-table isolation: the PGD is 4 KiB whatever the profile says (no validate case depends on it)');
  }
  const config = kernelConfig(pick.name, knobs);
  return { config, why: `profile ${pick.name}: ${reasons.join('; ')}`, pti };
}
