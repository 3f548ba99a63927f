/**
 * Results files are written atomically: to a temporary file in the same directory, then renamed, so
 * an interrupted run never leaves a partial results file behind.
 */
import { accessSync, constants, linkSync, mkdirSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../lib/errors.js';

let pendingTemp: string | null = null;

/** Compact JSON (one line): results files hold thousands of call times, one number a line when pretty-printed. */
export function writeJsonAtomic(path: string, data: unknown, o: { exclusive?: boolean } = {}): void {
  writeTextAtomic(path, `${JSON.stringify(data)}\n`, o);
}

/** A file-system error writing `path` (a full disk, a read-only mount) as one line naming the file. */
function writeFailed(e: unknown, path: string, bytes: number): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === undefined) throw e;
  const what: Record<string, string> = {
    ENOSPC: `no space left on the device for ${bytes} bytes; free some or give a path on another file system`,
    EDQUOT: `disk quota exceeded writing ${bytes} bytes; free some or give another path`,
    EROFS: 'the file system is read-only; give a writable path',
    EACCES: 'permission denied; give a writable path',
    EPERM: 'not permitted; give a writable path',
    EISDIR: 'is a directory; give a file name',
    ENOTDIR: 'a component of the path is not a directory',
    EEXIST: 'exists already (another run wrote it at the same moment); run again',
  };
  throw new UsageError(`cannot write ${path}: ${what[code] ?? (e as Error).message}`, code);
}

/**
 * Write `text` to `path` through a temporary file in the same directory, so a reader never sees a
 * partial file and a failure (a full disk) leaves nothing behind. `exclusive`: fail with EEXIST rather
 * than replace a file that exists (the temporary file is hard-linked into place, which is atomic).
 */
export function writeTextAtomic(path: string, text: string, o: { exclusive?: boolean } = {}): void {
  const bytes = Buffer.byteLength(text);
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    writeFailed(e, path, bytes);
  }
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.tmp`);
  pendingTemp = tmp;
  try {
    writeFileSync(tmp, text, { flag: 'wx' });
    if (o.exclusive) linkSync(tmp, path);
    else renameSync(tmp, path);
  } catch (e) {
    writeFailed(e, path, bytes);
  } finally {
    rmSync(tmp, { force: true });
    pendingTemp = null;
  }
}

/** Bytes free to an unprivileged writer in `dir`'s file system, or null when it cannot be read. */
function freeBytes(dir: string): number | null {
  try {
    const f = statfsSync(dir);
    return f.bavail * f.bsize;
  } catch {
    return null;
  }
}

/** Remove a temporary file left by a write that was interrupted (called from signal handlers). */
export function removePendingTemp(): void {
  if (pendingTemp !== null) rmSync(pendingTemp, { force: true });
}

/**
 * Check, before any long work starts, that `path` can be written: not a directory, and its nearest
 * existing ancestor a writable directory (the folders below it are made when the file is written).
 * With `needBytes`, the file system must also have that much free (a full disk is found before the
 * work, not after). Creates nothing. Throws a UsageError naming `field` otherwise.
 */
export function checkWritable(path: string, field: string, needBytes = 0): string {
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
      const free = needBytes > 0 ? freeBytes(dir) : null;
      if (free !== null && free < needBytes) {
        throw new UsageError(`${field} ${path}: ${dir} has ${free} bytes free and the output needs about ${needBytes}; free some space or give a path on another file system`, 'ENOSPC');
      }
      return abs;
    }
    const up = dirname(dir);
    if (up === dir) throw new UsageError(`${field} ${path}: no existing directory above it`);
    dir = up;
  }
}
