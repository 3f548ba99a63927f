/**
 * Byte sizes on the command line, with the units the kernel threads use: `GB` is 10^9 bytes and
 * `GiB` 2^30 (the mshare cover letters' "300 GB SGA" and "878 GB of PTEs" are decimal). Bare `K`,
 * `M`, `G`, `T` are binary, as in the kernel's memparse (hugepagesz=2M). `B` or no unit is bytes.
 * (The `bytes` package reads `GB` as 2^30, which is exactly the confusion this must avoid.)
 */
import { UsageError } from './errors.js';
const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gib: 2 ** 30, t: 2 ** 40, tib: 2 ** 40, p: 2 ** 50, pib: 2 ** 50,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15,
};

/** Parse `text` as a byte count for option `field`; throws UsageError naming the field. */
export function parseSize(text: string, field: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? m[2]!.toLowerCase() : '';
  if (!m || !(unit in UNITS)) {
    throw new UsageError(`${field}: '${text}' is not a size; use bytes or a number with KiB, MiB, GiB, TiB (2^10..) or KB, MB, GB, TB (10^3..), e.g. 300GB, 2MiB, 4096`);
  }
  const bytes = Number(m[1]) * UNITS[unit]!;
  if (bytes > Number.MAX_SAFE_INTEGER) {
    throw new UsageError(`${field}: '${text}' is more than 8 PiB (2^53 - 1 bytes), the largest size ptbench counts exactly; the x86-64 user address space is 128 TiB (4-level) or 64 PiB (5-level)`);
  }
  if (!Number.isSafeInteger(Math.round(bytes)) || Math.round(bytes) !== bytes) {
    throw new UsageError(`${field}: '${text}' is not a whole number of bytes`);
  }
  return bytes;
}

/** Round up to a multiple of `unit` (as mmap rounds a length up to the page size). */
export function roundUp(bytes: number, unit: number): number {
  return Math.ceil(bytes / unit) * unit;
}

/**
 * A whole-number CLI option from `lo` to `hi`, counted in `unit` ("rows", ...) when given; a UsageError
 * naming the option otherwise. (Number() parsing: '1e1' reads as 10, as these options always did.)
 */
export function intInRange(text: string, field: string, lo: number, hi: number, unit?: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new UsageError(`${field}: '${text}' is not a whole number${unit ? ` of ${unit}` : ''} from ${lo} to ${hi}`);
  return n;
}

/** A whole-number CLI option >= `min` (or `dflt` when absent); a UsageError naming the option otherwise. */
export function posInt(text: string | undefined, field: string, dflt: number, min = 1): number {
  if (text === undefined) return dflt;
  if (!/^\d+$/.test(text) || Number(text) < min) throw new UsageError(`${field}: '${text}' is not a whole number >= ${min}`);
  return Number(text);
}

/**
 * The most processes a 64-bit Linux can have: PID_MAX_LIMIT, 4 * 1024 * 1024 (include/linux/threads.h,
 * unchanged from v2.6 to v6.18). Page-table counts for more would not be a machine's, and their byte
 * totals would leave the exact integers of a double.
 */
export const PID_MAX_LIMIT = 4 * 1024 * 1024;

/** A --procs value (or one entry of a comma list): a whole number of processes from 1 to PID_MAX_LIMIT. */
export function procsCount(text: string, field = '--procs'): number {
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > PID_MAX_LIMIT) {
    throw new UsageError(`${field}: '${text}' is not a whole number of processes from 1 to 4194304 (PID_MAX_LIMIT of 64-bit Linux)`);
  }
  return Number(t);
}
