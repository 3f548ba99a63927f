/** A results file in the formats other tools read (github-action-benchmark's bigger/smaller lists). */
import { taskRate } from './stats/rate.js';
import type { ResultsFile } from './types.js';

export interface GabEntry {
  name: string;
  unit: string;
  value: number;
  range?: string;
  extra?: string;
}

export function toGithubActionBenchmark(r: ResultsFile): { bigger: GabEntry[]; smaller: GabEntry[] } {
  const commit = r.environment.git.commit?.slice(0, 10) ?? 'unknown';
  const bigger = r.tasks.map((t) => ({
    name: `${t.name} [${t.design}]`,
    unit: `${t.unit}/s`,
    value: Math.round(taskRate(t).value * 100) / 100,
    range: `±${t.latencyMs.rme.toFixed(2)}%`,
    extra: `measured: ${taskRate(t).statistic === 'median call' ? `median of ${t.calls} calls` : `median of ${taskRate(t).n} process medians (${t.calls} calls)`} of ${t.opsPerCall} ${t.unit}; commit ${commit}; ${r.environment.cpuModel}, Node ${r.environment.node}`,
  }));
  const smaller = r.memory.map((m) => ({
    name: `${m.scenario} x${m.procs} [${m.design}] page-table bytes`,
    unit: 'bytes',
    value: m.pageTableBytes,
    extra: `simulated, exact; saving ${(m.savingVsPrivate * 100).toFixed(2)}% against private`,
  }));
  return { bigger, smaller };
}
