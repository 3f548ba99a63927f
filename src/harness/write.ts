/**
 * Results files are written atomically: to a temporary file in the same directory, then renamed, so
 * an interrupted run never leaves a partial results file behind.
 */
import { accessSync, constants, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../lib/errors.js';

let pendingTemp: string | null = null;

/** Compact JSON (one line): results files hold thousands of call times, one number a line when pretty-printed. */
export function writeJsonAtomic(path: string, data: unknown): void {
  writeTextAtomic(path, `${JSON.stringify(data)}\n`);
}

export function writeTextAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  pendingTemp = tmp;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
    pendingTemp = null;
  }
}

/** Remove a temporary file left by a write that was interrupted (called from signal handlers). */
export function removePendingTemp(): void {
  if (pendingTemp !== null) rmSync(pendingTemp, { force: true });
}

/**
 * Check, before any long work starts, that `path` can be written: not a directory, and its nearest
 * existing ancestor a writable directory (the folders below it are made when the file is written).
 * Creates nothing. Throws a UsageError naming `field` otherwise.
 */
export function checkWritable(path: string, field: string): string {
  const abs = resolve(path);
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(abs);
  } catch { /* does not exist yet */ }
  if (st?.isDirectory()) throw new UsageError(`${field} ${path}: is a directory; give a file name`);
  let dir = dirname(abs);
  for (;;) {
    let d: ReturnType<typeof statSync> | undefined;
    try {
      d = statSync(dir);
    } catch { /* climb */ }
    if (d !== undefined) {
      if (!d.isDirectory()) throw new UsageError(`${field} ${path}: ${dir} is not a directory`);
      // Permission bits say little for root (and nothing for /proc or a read-only mount): write
      // and remove a probe file in that directory.
      const probe = join(dir, `.ptbench-probe-${process.pid}.tmp`);
      try {
        if (st !== undefined) accessSync(abs, constants.W_OK);
        writeFileSync(probe, '');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'EACCES';
        throw new UsageError(`${field} ${path}: cannot write in ${dir} (${code}); give a writable path`, 'EACCES');
      } finally {
        rmSync(probe, { force: true });
      }
      return abs;
    }
    const up = dirname(dir);
    if (up === dir) throw new UsageError(`${field} ${path}: no existing directory above it`);
    dir = up;
  }
}
