/**
 * Results files are written atomically: to a temporary file in the same directory, then renamed, so
 * an interrupted run never leaves a partial results file behind.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let pendingTemp: string | null = null;

export function writeJsonAtomic(path: string, data: unknown): void {
  writeTextAtomic(path, `${JSON.stringify(data, null, 2)}\n`);
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
