/** Where and on what a run happened: git state, Node/V8, CPU, memory, package versions. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { v8FlagsInEffect } from '../lib/v8_flags.js';

export interface RunEnvironment {
  git: { commit: string | null; dirty: boolean | null; branch: string | null };
  node: string;
  v8: string;
  /**
   * V8 flags the run used: the command line's own (src/lib/v8_flags.ts) and any given to node.
   * Absent in results files written before it was recorded.
   */
  v8Flags?: string[];
  platform: string;
  arch: string;
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  packages: Record<string, string>;
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export function packageVersion(name: string): string {
  try {
    const req = createRequire(import.meta.url);
    // Resolve the package's own package.json through its entry, which works for ESM-only packages.
    let dir = req.resolve(name);
    for (let i = 0; i < 6; i++) {
      dir = dir.slice(0, dir.lastIndexOf('/'));
      try {
        const pj = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as { name?: string; version?: string };
        if (pj.name === name && pj.version) return pj.version;
      } catch { /* keep climbing */ }
    }
  } catch { /* not installed */ }
  return 'unknown';
}

export function runEnvironment(repoDir: string): RunEnvironment {
  const status = git(['status', '--porcelain', '--untracked-files=no'], repoDir);
  return {
    git: {
      commit: git(['rev-parse', 'HEAD'], repoDir),
      dirty: status === null ? null : status.length > 0,
      branch: git(['rev-parse', '--abbrev-ref', 'HEAD'], repoDir),
    },
    node: process.version,
    v8: process.versions.v8,
    v8Flags: v8FlagsInEffect(),
    platform: process.platform,
    arch: process.arch,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    packages: Object.fromEntries(['tinybench', 'pure-rand', 'pretty-bytes', 'cli-table3'].map((p) => [p, packageVersion(p)])),
  };
}
