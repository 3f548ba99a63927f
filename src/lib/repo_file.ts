/**
 * A file shipped in the repository (schema/, probe/), found from a module running either as
 * TypeScript (src/x/y.ts, two levels below the root) or compiled (dist/src/x/y.js, three levels).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoFile(rel: string): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['../..', '../../..']) {
    const p = resolve(here, up, rel);
    if (existsSync(p)) return p;
  }
  throw new Error(`cannot find ${rel} in the repository`);
}
