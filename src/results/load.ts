/**
 * Reading results files back: JSON, the schema version, and the shipped JSON Schema
 * (schema/ptbench-results-1.schema.json, checked with ajv). Every problem is one line naming the file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { UsageError } from '../lib/size.js';
import type { ResultsFile } from '../cli/bench.js';

export const SCHEMA_VERSION = 1;

function schemaPath(): string {
  // src/results/load.ts and dist/src/results/load.js both sit three or four levels below the repo root.
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['../..', '../../..']) {
    const p = resolve(here, up, 'schema', `ptbench-results-${SCHEMA_VERSION}.schema.json`);
    try {
      readFileSync(p);
      return p;
    } catch { /* try the next */ }
  }
  throw new Error(`cannot find schema/ptbench-results-${SCHEMA_VERSION}.schema.json`);
}

let validator: ((x: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null } | null = null;

function validate(x: unknown): string | null {
  if (validator === null) {
    const Ajv = (Ajv2020 as unknown as { default?: typeof Ajv2020 }).default ?? Ajv2020;
    // 'date-time' is declared known (documentation for readers of the schema) rather than checked.
    const ajv = new (Ajv as unknown as new (o: object) => { compile(s: unknown): typeof validator })({ allErrors: false, strict: false, formats: { 'date-time': true } });
    validator = ajv.compile(JSON.parse(readFileSync(schemaPath(), 'utf8')));
  }
  if (validator!(x)) return null;
  const e = validator!.errors?.[0];
  return e ? `${e.instancePath || '/'} ${e.message ?? 'is invalid'}` : 'is invalid';
}

/** Load and check one results file; throws UsageError (exit 2) with one line. */
export function loadResults(path: string): ResultsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new UsageError(`results file ${path}: cannot read it (${code})`, code);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`results file ${path}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const schema = (data as { schema?: unknown } | null)?.schema;
  const m = typeof schema === 'string' ? /^ptbench-results\/(\d+)$/.exec(schema) : null;
  if (!m) throw new UsageError(`results file ${path}: not a ptbench results file (no "schema": "ptbench-results/N" field)`);
  const version = Number(m[1]);
  if (version > SCHEMA_VERSION) {
    throw new UsageError(`results file ${path}: schema ptbench-results/${version} is newer than this ptbench understands (ptbench-results/${SCHEMA_VERSION}); update ptbench`);
  }
  const err = validate(data);
  if (err !== null) throw new UsageError(`results file ${path}: does not match schema ptbench-results/${SCHEMA_VERSION}: ${err}`);
  return data as ResultsFile;
}

/** Results files in a directory, oldest first (file names start with the ISO date). */
export function listResults(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => /^\d{4}-\d{2}-\d{2}T.*\.json$/.test(n)).sort().map((n) => join(dir, basename(n)));
}

/** The one results file a command was given, or the latest in results/. */
export function resultsFileArg(positionals: string[]): string {
  if (positionals.length > 1) throw new UsageError(`expected at most one results file, got ${positionals.length}`);
  if (positionals[0] !== undefined) return positionals[0];
  const files = listResults(resolve('results'));
  if (files.length === 0) throw new UsageError("no results file in results/; run 'npm run bench' first, or give a file");
  return files[files.length - 1]!;
}
