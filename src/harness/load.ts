/**
 * Reading results files back: JSON, the schema version, and the shipped JSON Schema
 * (schema/ptbench-results-1.schema.json, checked with ajv). Every problem is one line naming the file.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { repoFile } from '../lib/repo_file.js';
import { UsageError } from '../lib/errors.js';
import type { ResultsFile } from './types.js';

export const SCHEMA_VERSION = 1;

interface ValidatorError { instancePath: string; keyword: string; schemaPath: string; message?: string; params?: { additionalProperty?: string; allowedValues?: unknown[] } }
type Validator = ((x: unknown) => boolean) & { errors?: ValidatorError[] | null };
const validators = new Map<string, Validator>();

/** Check `x` against the shipped schema `name` (schema/NAME.schema.json): null, or the first problem as "/path message". */
export function validate(name: string, x: unknown): string | null {
  let v = validators.get(name);
  if (v === undefined) {
    const Ajv = (Ajv2020 as unknown as { default?: typeof Ajv2020 }).default ?? Ajv2020;
    // 'date-time' is declared known (documentation for readers of the schema) rather than checked.
    const ajv = new (Ajv as unknown as new (o: object) => { compile(s: unknown): Validator })({ allErrors: false, strict: false, formats: { 'date-time': true } });
    v = ajv.compile(JSON.parse(readFileSync(repoFile(`schema/${name}.schema.json`), 'utf8')));
    validators.set(name, v);
  }
  if (v(x)) return null;
  const e = v.errors?.[0];
  if (!e) return 'is invalid';
  // Name the offending key, or the values allowed, so the line says what would be right.
  const extra = e.params?.additionalProperty !== undefined ? ` ('${e.params.additionalProperty}')`
    : e.params?.allowedValues !== undefined ? `: ${e.params.allowedValues.map((x) => JSON.stringify(x)).join(', ')}` : '';
  // The scenario schema's one "not": a touch's page list without "pattern": "pages".
  if (e.keyword === 'not' && /\/else\/not$/.test(e.schemaPath)) return `${e.instancePath || '/'}: "pages" is given, but only "pattern": "pages" takes a page list; add that pattern or leave "pages" out`;
  return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`;
}

/** The largest JSON file read (results files are about 1 MB; a captured scenario of a large server a few MB). */
export const MAX_JSON_BYTES = 256 * 2 ** 20;

/** Read and parse a JSON file (a regular file, at most MAX_JSON_BYTES); UsageError (one line naming the file) when it cannot. */
export function readJson(path: string, what: string): unknown {
  let text: string;
  // A device (/dev/zero), a FIFO with no writer or a directory would block or never end: only regular files.
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new UsageError(`${what} ${path}: cannot read it (${code})`, code);
  }
  if (!st.isFile()) throw new UsageError(`${what} ${path}: not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a file'}); give a JSON file`);
  if (st.size > MAX_JSON_BYTES) throw new UsageError(`${what} ${path}: ${st.size} bytes, more than the ${MAX_JSON_BYTES / 2 ** 20} MiB a ptbench JSON file can be`, 'EFBIG');
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new UsageError(`${what} ${path}: cannot read it (${code})`, code);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} ${path}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Check a parsed file against the shipped schema `kind` (results or sweep), version `current`. */
function checkSchema(path: string, data: unknown, kind: 'results' | 'sweep', current: number): void {
  const schema = (data as { schema?: unknown } | null)?.schema;
  const m = typeof schema === 'string' ? new RegExp(`^ptbench-${kind}/(\\d+)$`).exec(schema) : null;
  if (!m) throw new UsageError(`${kind} file ${path}: not a ptbench ${kind} file (no "schema": "ptbench-${kind}/N" field)`);
  const version = Number(m[1]);
  if (version > current) {
    throw new UsageError(`${kind} file ${path}: schema ptbench-${kind}/${version} is newer than this ptbench understands (ptbench-${kind}/${current}); update ptbench`);
  }
  const err = validate(`ptbench-${kind}-${current}`, data);
  if (err !== null) throw new UsageError(`${kind} file ${path}: does not match schema ptbench-${kind}/${current}: ${err}`);
}

/** Load and check one results file; throws UsageError (exit 2) with one line. */
export function loadResults(path: string): ResultsFile {
  const data = readJson(path, 'results file');
  checkSchema(path, data, 'results', SCHEMA_VERSION);
  return data as ResultsFile;
}

/** What `ptbench chart` reads: the memory rows of a results file or of a sweep file. */
export interface MemorySource {
  memory: ResultsFile['memory'];
  date: string;
  git: ResultsFile['environment']['git'];
}

export function loadMemorySource(path: string): MemorySource {
  const data = readJson(path, 'results file');
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (typeof schema === 'string' && schema.startsWith('ptbench-sweep/')) {
    checkSchema(path, data, 'sweep', 1);
    const s = data as { memory: ResultsFile['memory']; date: string; environment: ResultsFile['environment'] };
    return { memory: s.memory, date: s.date, git: s.environment.git };
  }
  checkSchema(path, data, 'results', SCHEMA_VERSION);
  const r = data as ResultsFile;
  return { memory: r.memory, date: r.date, git: r.environment.git };
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

/**
 * The runs in a repository's results/: `user` are the runs made here (results/*.json that git does
 * not track: new runs are git-ignored), oldest first; `reference` are the runs shipped with ptbench
 * (results/reference/*.json, and older files still tracked in results/), oldest first.
 */
export function runsIn(repo: string): { user: string[]; reference: string[] } {
  const dir = resolve(repo, 'results');
  let tracked = new Set<string>();
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--', 'results'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    tracked = new Set(out.split('\0').filter(Boolean).map((f) => resolve(repo, f)));
  } catch { /* not a git checkout: every file in results/ is the user's */ }
  const here = listResults(dir);
  const byName = (a: string, b: string) => (basename(a) < basename(b) ? -1 : basename(a) > basename(b) ? 1 : 0);
  return {
    user: here.filter((f) => !tracked.has(f)),
    reference: [...listResults(join(dir, 'reference')), ...here.filter((f) => tracked.has(f))].sort(byName),
  };
}

/** The user's latest run in `repo`'s results/, else the newest reference run; undefined when there is none. */
export function latestRun(repo: string): string | undefined {
  const { user, reference } = runsIn(repo);
  return user[user.length - 1] ?? reference[reference.length - 1];
}

/**
 * The results file with memory scenarios a chart draws when given none: your newest run that has
 * them, else the newest reference run that has them; with a note when that is not your newest run.
 */
export function latestMemoryRun(repo: string): { path: string; note: string | null } {
  const { user, reference } = runsIn(repo);
  const has = (f: string) => {
    try {
      return loadMemorySource(f).memory.length > 0;
    } catch {
      return false;
    }
  };
  const newest = user[user.length - 1];
  const mine = [...user].reverse().find(has);
  const why = newest === undefined ? 'you have no run in results/' : `your newest run, ${basename(newest)}, has no memory scenarios`;
  if (mine !== undefined) return { path: mine, note: mine === newest ? null : `${why}; charting ${basename(mine)}, your newest run that has them` };
  const ref = [...reference].reverse().find(has);
  if (ref !== undefined) return { path: ref, note: `${why}; charting the newest reference run that has them (run 'npm run bench' or 'npm run bench -- --suite mem' for your own)` };
  throw new UsageError(`${why}, and no reference run has any; run 'npm run bench' (the default suite) or 'npm run bench -- --suite mem' first`);
}

/** The one results file a command was given, or latestRun() of the current directory. */
export function resultsFileArg(positionals: string[]): string {
  if (positionals.length > 1) throw new UsageError(`expected at most one results file, got ${positionals.length}`);
  if (positionals[0] !== undefined) return positionals[0];
  const latest = latestRun(process.cwd());
  if (latest === undefined) throw new UsageError("no results file in results/; run 'npm run bench' first, or give a file");
  return latest;
}
