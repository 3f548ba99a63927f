/**
 * docs/ci/ptbench.yml, the GitHub Actions recipe of docs/ci.md: valid YAML with the structure Actions
 * needs, and every ptbench command in it a real command whose options its --help lists.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { parse } from 'yaml';

interface Step { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; if?: string }
interface Workflow { name: string; on: Record<string, unknown>; jobs: Record<string, { 'runs-on': string; steps: Step[] }> }

test('the CI recipe is valid YAML and every ptbench command in it exists with the options it uses', () => {
  const text = readFileSync('docs/ci/ptbench.yml', 'utf8');
  const wf = parse(text, { strict: true, uniqueKeys: true }) as Workflow;
  assert.equal(typeof wf.name, 'string');
  assert.ok('pull_request' in wf.on && 'push' in wf.on);
  const steps = wf.jobs.bench!.steps;
  assert.ok(steps.every((s) => (s.uses === undefined) !== (s.run === undefined)), 'each step either uses an action or runs commands');
  const runs = steps.flatMap((s) => (s.run ?? '').split('\n')).map((l) => l.trim()).filter((l) => l.startsWith('npx ptbench '));
  // What the issue asks of the recipe: the quick suite, compare against main failing on a regression,
  // the export for github-action-benchmark, the report.
  assert.ok(runs.some((l) => /^npx ptbench bench --quick/.test(l)));
  assert.ok(runs.some((l) => /^npx ptbench compare --base origin\/main .*--fail-on-regression/.test(l)));
  assert.ok(runs.some((l) => /^npx ptbench export --format github-action-benchmark/.test(l)));
  assert.ok(runs.some((l) => /^npx ptbench report --html /.test(l)));
  assert.ok(steps.some((s) => s.uses?.startsWith('actions/upload-artifact@') && String(s.with?.path).includes('results/report.html')));
  for (const line of runs) {
    const [cmd, ...args] = line.replace(/^npx ptbench /, '').split(/\s+/);
    const help = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', cmd!, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, `${line}: 'ptbench ${cmd} --help' failed: ${help.stderr}`);
    for (const opt of args.filter((a) => a.startsWith('--'))) assert.ok(help.stdout.includes(opt), `${line}: ${opt} is not in 'ptbench ${cmd} --help'`);
  }
  // The exported files the dashboard steps read are the ones export writes.
  const exportHelp = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'export', '--help'], { encoding: 'utf8' }).stdout;
  for (const s of steps.filter((x) => x.uses?.startsWith('benchmark-action/github-action-benchmark@'))) {
    const file = String(s.with?.['output-file-path']).split('/').pop()!;
    assert.ok(exportHelp.includes(file), `${file} is not what export writes`);
  }
});
