/**
 * `ptbench compare` (= `npm run compare`): two runs side by side.
 *   ptbench compare                 your latest run vs your previous one (or the newest reference run)
 *   ptbench compare A.json B.json   any two files (B is the newer side)
 *   ptbench compare --base REF      run the suite on REF (a git worktree) and on the current tree,
 *                                   interleaved over --rounds rounds, each run a fresh process,
 *                                   analysed as pairs (one per round)
 */

import { compareResults, configDifferences, DEFAULT_COMPARE, TIMING_CONFIG_FIELDS, describeRun, kernelDifferences, machineDifferences, renderComparison, runBase } from '../harness/compare.js';
import { latestRun, loadResults, runsIn } from '../harness/load.js';
import { UsageError } from '../lib/errors.js';
import type { ResultsFile } from '../harness/types.js';
import { parseOptions } from '../lib/cli_args.js';

export const COMPARE_HELP = `usage: ptbench compare [A.json [B.json]] [options]      (npm run compare -- ...)

Compares two runs: timings with a Mann-Whitney U test and the ratio of medians (B/A) with a 95 %
bootstrap interval, reported only when significant and above the noise floor ('~' otherwise), plus a
geometric-mean row; deterministic counts exactly, listing every change.

  (no files)         your latest run in results/ against your previous one (with only one run:
                     against the newest reference run in results/reference/)
  A.json [B.json]    these files (B defaults to your latest run in results/)
  --base REF         run the suite on git REF and on the current tree, interleaved
  --rounds N         rounds for --base (default 6; each round runs both sides once, and the rounds
                     are analysed as pairs: a signed-rank test needs 6 to reach p < 0.05)
  --suite, --design, --quick   passed to the benchmark runs of --base
  --alpha P          significance level (default 0.05)
  --noise F          noise floor as a fraction (default 0.02 = 2 %)
  --force            compare runs from different machines, Node majors or kernel profiles anyway,
                     and judge timings of runs configured differently (quick, time, seed)
  --fail-on-regression   exit 1 when any timing is significantly slower; exit 2 when the runs
                     cannot be judged (different configurations, too few processes or rounds)
  --json             print the comparison as JSON
`;

export async function compareMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions({
    args: argv, strict: true, allowPositionals: true,
    options: {
      base: { type: 'string' },
      rounds: { type: 'string', default: '6' },
      suite: { type: 'string', default: 'default' },
      design: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      alpha: { type: 'string', default: String(DEFAULT_COMPARE.alpha) },
      noise: { type: 'string', default: String(DEFAULT_COMPARE.noise) },
      force: { type: 'boolean', default: false },
      'fail-on-regression': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(COMPARE_HELP);
    return 0;
  }
  const alpha = Number(values.alpha);
  const noise = Number(values.noise);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha: '${values.alpha}' is not a probability between 0 and 1`);
  if (!(noise >= 0 && noise < 1)) throw new UsageError(`--noise: '${values.noise}' is not a fraction between 0 and 1`);
  const repo = process.cwd();
  let A: ResultsFile;
  let B: ResultsFile;
  let aLabel: string;
  let bLabel: string;
  let againstReference = false;
  if (values.base !== undefined) {
    if (positionals.length > 0) throw new UsageError('--base takes no results files');
    if (!/^\d+$/.test(values.rounds) || Number(values.rounds) < 2) throw new UsageError(`--rounds: '${values.rounds}' is not a whole number >= 2`);
    const { SUITES } = await import('../harness/types.js');
    if (!(SUITES as readonly string[]).includes(values.suite)) throw new UsageError(`--suite: unknown suite '${values.suite}'; suites: ${SUITES.join(', ')}`);
    const { designsByList } = await import('../share/index.js');
    if (values.design) designsByList(values.design);
    ({ A, B, aLabel, bLabel } = await runBase(repo, { ref: values.base, rounds: Number(values.rounds), suite: values.suite, quick: values.quick, designs: values.design ?? [] }));
  } else {
    if (positionals.length > 2) throw new UsageError(`expected at most two results files, got ${positionals.length}`);
    const { user, reference } = runsIn(repo);
    let pa: string;
    let pb: string;
    if (positionals.length === 2) [pa, pb] = [positionals[0]!, positionals[1]!];
    else if (positionals.length === 1) {
      const latest = latestRun(repo);
      if (latest === undefined) throw new UsageError("no results file in results/ to compare against; run 'npm run bench' first, or give two files");
      [pa, pb] = [positionals[0]!, latest];
    } else if (user.length >= 2) {
      [pa, pb] = [user[user.length - 2]!, user[user.length - 1]!];
    } else if (user.length === 1 && reference.length > 0) {
      // First use: the one run made here against the newest reference run shipped with ptbench.
      [pa, pb] = [reference[reference.length - 1]!, user[0]!];
      againstReference = true;
    } else {
      throw new UsageError("no run of yours in results/ to compare; run 'npm run bench' (or 'npm run bench -- --quick'), then 'npm run compare'");
    }
    A = loadResults(pa);
    B = loadResults(pb);
    aLabel = describeRun('A', pa, A);
    bLabel = describeRun('B', pb, B);
  }
  const diffs = machineDifferences(A, B);
  // On first use the reference run may come from another machine: its timings are shown, not judged.
  if (diffs.length > 0 && !values.force && !againstReference) {
    throw new UsageError(`refusing to compare runs from different machines or Node majors: ${diffs.join('; ')} (use --force)`);
  }
  const kernels = kernelDifferences(A, B);
  if (kernels.length > 0 && !values.force) {
    throw new UsageError(`refusing to compare counts simulated for different kernels: ${kernels.join('; ')} (use --force)`);
  }
  const configs = configDifferences(A, B);
  // Runs whose timings measure different work (quick against full, other call times or seeds) are shown, not judged.
  const incomparable = configDifferences(A, B, TIMING_CONFIG_FIELDS);
  const notJudged = againstReference && diffs.length > 0 ? `A was made on another machine (${diffs.join('; ')})`
    : incomparable.length > 0 && !values.force ? `the runs' configurations differ (${incomparable.join('; ')}), so their timings measure different work; use --force to judge them anyway` : null;
  const c = compareResults(A, B, { alpha, noise, judge: notJudged === null, paired: values.base !== undefined });
  if (values['fail-on-regression']) {
    // A gate that cannot judge must not pass: exit 2, saying why, before printing a table.
    const why = notJudged ?? (c.rows.length === 0 ? 'the runs have no timed task in common'
      : c.rows.some((r) => r.verdict === 'too few processes') ? 'a side ran tasks in fewer than 3 processes (bench --quick runs 1); run bench with --processes 3 or more'
        : c.rows.some((r) => r.verdict === 'too few rounds') ? 'too few rounds for the signed-rank test; use --rounds 6 or more' : null);
    if (why !== null) throw new UsageError(`--fail-on-regression: cannot judge these runs: ${why}`);
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ a: aLabel, b: bLabel, alpha, noise, machineDifferences: diffs, configDifferences: configs, ...c }, null, 2)}\n`);
  } else {
    process.stdout.write(`ptbench compare\n${aLabel}\n${bLabel}\n`);
    if (againstReference) process.stdout.write("A is the newest reference run shipped in results/reference/, B your only run in results/ (run 'npm run bench' again to compare your own runs)\n");
    if (diffs.length > 0) process.stdout.write(againstReference ? `A was made on another machine (${diffs.join('; ')}): its timings are shown for scale, not judged; counts are compared exactly\n` : `warning: compared across machines (--force): ${diffs.join('; ')}\n`);
    if (configs.length > 0) process.stdout.write(`configurations differ: ${configs.join('; ')}\n`);
    if (incomparable.length > 0 && !values.force) process.stdout.write('timings are shown, not judged: no p-value or verdict across different configurations (--force judges them)\n');
    if (A.config.quick !== B.config.quick) process.stdout.write('note: --quick shrinks some tasks\' workloads (the scaling tasks touch fewer pages), so their counts differ from a full run\'s by design; compare two runs of the same kind to check the model\n');
    if (kernels.length > 0) process.stdout.write(`warning: counts simulated for different kernels (--force): ${kernels.join('; ')}\n`);
    const flags = (r: ResultsFile) => (r.environment.v8Flags ?? []).join(' ') || '(none recorded)';
    if (flags(A) !== flags(B)) process.stdout.write(`note: V8 flags differ (they change how the simulator is compiled, not what it counts): A ${flags(A)}; B ${flags(B)}\n`);
    process.stdout.write(`${renderComparison(c, alpha, noise)}\n`);
  }
  const slower = c.rows.filter((r) => r.verdict === 'slower');
  if (values['fail-on-regression'] && slower.length > 0) {
    process.stderr.write(`ptbench: ${slower.length} significant regression(s): ${slower.map((r) => r.key).join(', ')}\n`);
    return 1;
  }
  return 0;
}
