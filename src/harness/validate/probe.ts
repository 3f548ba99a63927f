/**
 * The C probe (probe/ptprobe.c): compiled at run time with the system's C compiler ($CC, else cc)
 * into a temporary directory, and driven stage by stage over its stdin/stdout.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { repoFile } from '../../lib/repo_file.js';

/** Compile the probe; returns its path and a cleanup, or why it cannot be built. */
export function compileProbe(): { path: string; cleanup: () => void } | { skip: string } {
  const cc = process.env.CC ?? 'cc';
  const dir = mkdtempSync(join(tmpdir(), 'ptprobe-'));
  const out = join(dir, 'ptprobe');
  const r = spawnSync(cc, ['-O2', '-o', out, repoFile('probe/ptprobe.c')], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const why = r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT'
      ? `no C compiler: '${cc}' not found (install gcc or clang, or set CC)`
      : `the C compiler '${cc}' failed: ${(r.stderr || String(r.error)).trim().split('\n')[0]}`;
    return { skip: why };
  }
  return { path: out, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One probe process, stepped through its stages. */
export class ProbeRun {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly queue: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private stderr = '';
  private ended = false;

  constructor(path: string, args: string[]) {
    this.child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on('line', (l) => this.push(l));
    this.lines.on('close', () => { this.ended = true; this.push(null); });
    this.child.on('error', (e) => { this.stderr += String(e); });
  }

  private push(l: string | null): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(l);
    } else if (l !== null) {
      this.queue.push(l);
    }
  }

  /** The processes that hold the probe's mapping, from its "idle pids=..." line. */
  pids: number[] = [];

  /** The next stage line, which must start with `stage`; its key=value fields as numbers (pids= is kept in `pids`). */
  async expect(stage: string): Promise<Record<string, number>> {
    const line = this.queue.shift() ?? (this.ended ? null : await new Promise<string | null>((r) => { this.waiting = r; }));
    if (line === null || !line.startsWith(stage)) {
      throw new Error(`probe: expected '${stage}', got ${line === null ? 'end of output' : `'${line}'`}${this.stderr ? `: ${this.stderr.trim().split('\n')[0]}` : ''}`);
    }
    const fields: Record<string, number> = {};
    for (const kv of line.split(' ').slice(1)) {
      const [k, v] = kv.split('=');
      if (k === 'pids') this.pids = v!.split(',').map(Number);
      else fields[k!] = Number(v);
    }
    return fields;
  }

  /** Let the probe go on to its next stage. */
  next(): void {
    this.child.stdin.write('\n');
  }

  /** End the probe (EOF on stdin) and wait for it and its children to be gone. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const done = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.stdin.end();
      await done;
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
