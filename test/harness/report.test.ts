/**
 * `ptbench report --html` and `ptbench history` over the repository's reference runs, and the page
 * opened in a real headless Chromium (Debian's chromium package; .ci/run installs it) driven by
 * playwright-core, which downloads no browser: no console errors, no network, every chart with one
 * series per design or task in the data, every series visible, a screenshot saved.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { chromium } from 'playwright-core';
import { buildHistory, loadHistoryRuns } from '../../src/harness/history.js';
import { renderReport } from '../../src/harness/report.js';
import { seriesOf } from '../../src/harness/chart.js';
import { DESIGN_STYLE } from '../../src/harness/report_svg.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

/** The installed Chromium: $CHROMIUM, else the first of the usual names on PATH. */
function chromiumPath(): string {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  assert.fail('no Chromium found: install Debian\'s chromium package (.ci/run does), or set CHROMIUM');
}

test('history over the reference runs: series apart, points in git order, steps judged by compare\'s test', () => {
  const { runs } = loadHistoryRuns(process.cwd());
  const h = buildHistory(runs.filter((r) => r.file.includes('/reference/')), []);
  assert.ok(h.series.length >= 2, 'runs before kernel profiles and with the 6.18 profile are separate series');
  for (const s of h.series) {
    for (const t of s.tasks) {
      for (const st of t.steps) {
        assert.ok(st.verdict === 'faster' || st.verdict === 'slower');
        assert.ok(st.lo <= st.ratio && st.ratio <= st.hi, `${t.key}: ${st.ratio} in [${st.lo}, ${st.hi}]`);
      }
    }
  }
  // The series before profiles holds the default-suite reference runs of three commits in git order.
  const before = h.series.find((s) => s.kernel.startsWith('no kernel profile') && s.mode === 'full')!;
  const fork = before.tasks.find((t) => t.key === 'fork/anon-1GiB [private]')!;
  assert.ok(fork.points.length >= 3);
  const r = spawnSync(process.execPath, [...CLI, 'history', '--task', 'fork/anon-1GiB', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { tool: string; series: Array<{ tasks: Array<{ key: string }> }> };
  assert.equal(j.tool, 'ptbench history');
  assert.ok(j.series.every((s) => s.tasks.every((t) => t.key.startsWith('fork/anon-1GiB'))));
  const bad = spawnSync(process.execPath, [...CLI, 'history', '--task', 'no-such-task'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^ptbench: error: EINVAL: --task: no task name contains 'no-such-task'; tasks: [^\n]+\n$/);
});

test('report --html in headless Chromium: no errors, no network, one visible series per design or task', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptbench-report-'));
  try {
    const page = join(dir, 'report.html');
    const r = spawnSync(process.execPath, [...CLI, 'report', '--html', page], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const html = readFileSync(page, 'utf8');
    // Self-contained: nothing fetched from anywhere.
    assert.doesNotMatch(html, /<script|<link|src=|https?:\/\//);
    // What the page must hold: one memory chart per scenario of the newest run with memory, with a
    // series per design in it; a history chart per task with two or more commits.
    const { runs } = loadHistoryRuns(process.cwd());
    const memRun = [...runs].reverse().find((x) => x.results.memory.length > 0)!;
    const expected = new Map(seriesOf(memRun.results).filter((s) => s.procs.length >= 2).map((s) => [`memory:${s.scenario}`, s.designs.map((d) => d.name)]));
    const h = buildHistory(runs, []);
    h.series.forEach((s, si) => s.tasks.filter((t) => t.points.length >= 2).forEach((t) => expected.set(`history:${si}:${t.key}`, [t.key])));
    assert.equal(renderReport(h, runs, 'x').split('data-chart=').length - 1, expected.size);

    const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
    try {
      const context = await browser.newContext({ offline: true, viewport: { width: 1000, height: 1300 } });
      const tab = await context.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      tab.on('pageerror', (e) => errors.push(String(e)));
      tab.on('request', (q) => { if (!q.url().startsWith('file:')) requests.push(q.url()); });
      await tab.goto(`file://${resolve(page)}`, { waitUntil: 'load' });
      // In the page: SVG geometry and computed style (the DOM's types are not in this project's lib).
      type Geometry = { getTotalLength(): number; getBBox(): { width: number; height: number } };
      type View = { getComputedStyle(e: unknown): { visibility: string; display: string } };
      const charts = await tab.$$eval('svg[data-chart]', (svgs) => svgs.map((svg) => ({
        id: svg.getAttribute('data-chart')!,
        expected: Number(svg.getAttribute('data-expected-series')),
        series: [...svg.querySelectorAll('g.series')].map((g) => {
          const line = g.querySelector('polyline.line') as unknown as (Geometry | null);
          const view = globalThis as unknown as View;
          const box = line?.getBBox();
          return {
            name: g.getAttribute('data-series')!,
            marker: g.getAttribute('data-marker')!,
            length: line ? line.getTotalLength() : 0,
            extent: box ? box.width + box.height : 0,
            points: g.querySelector('polyline.line')?.getAttribute('points') ?? '',
            markers: g.querySelectorAll('circle, rect, path:not(.flag)').length,
            shown: line ? view.getComputedStyle(line).visibility === 'visible' && view.getComputedStyle(line).display !== 'none' : false,
          };
        }),
        labels: [...svg.querySelectorAll('text.end-label')].map((t) => t.textContent ?? ''),
        width: Number(svg.getAttribute('width')),
        height: Number(svg.getAttribute('height')),
        labelBoxes: [...svg.querySelectorAll('text.end-label')].map((t) => {
          const b = (t as unknown as { getBBox(): { x: number; y: number; width: number; height: number } }).getBBox();
          return { text: t.textContent ?? '', x: b.x, y: b.y, w: b.width, h: b.height };
        }),
      })));
      assert.deepEqual(errors, []);
      assert.deepEqual(requests, []);
      assert.equal(charts.length, expected.size);
      for (const c of charts) {
        const want = expected.get(c.id);
        assert.ok(want !== undefined, `unexpected chart ${c.id}`);
        assert.deepEqual(c.series.map((s) => s.name), want, c.id);
        assert.equal(c.expected, want.length);
        for (const s of c.series) {
          assert.ok(s.shown && s.length > 0 && s.extent > 0, `${c.id}: ${s.name} is not drawn`);
          assert.ok(s.markers > 0, `${c.id}: ${s.name} has no markers`);
        }
        // Lines that coincide (private and hugetlb-pmd where nothing is hugetlb) stay distinguishable:
        // different markers, and their names share one end label.
        for (let i = 0; i < c.series.length; i++) {
          for (let k = i + 1; k < c.series.length; k++) {
            const [a, b] = [c.series[i]!, c.series[k]!];
            if (a.points === b.points) {
              assert.notEqual(a.marker, b.marker, `${c.id}: ${a.name} and ${b.name} coincide with the same marker`);
              assert.ok(c.labels.some((l) => l.includes(a.name) && l.includes(b.name)), `${c.id}: ${a.name} and ${b.name} coincide without a shared label`);
            }
          }
        }
        // End labels are drawn whole inside the chart and never on top of one another.
        for (const b of c.labelBoxes) {
          assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.w <= c.width + 0.5 && b.y + b.h <= c.height + 0.5, `${c.id}: label '${b.text}' is clipped (${JSON.stringify(b)} in ${c.width}x${c.height})`);
        }
        for (let i = 0; i < c.labelBoxes.length; i++) {
          for (let k = i + 1; k < c.labelBoxes.length; k++) {
            const [a, b] = [c.labelBoxes[i]!, c.labelBoxes[k]!];
            const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5;
            assert.ok(!overlap, `${c.id}: labels '${a.text}' and '${b.text}' overlap`);
          }
        }
        // Every design's colour and marker are its own, in every chart.
        for (const s of c.series) if (DESIGN_STYLE[s.name]) assert.equal(s.marker, DESIGN_STYLE[s.name]!.marker);
      }
      const shot = process.env.PTBENCH_SCREENSHOT ?? join(dir, 'report.png');
      await tab.screenshot({ path: shot });
      assert.ok(existsSync(shot) && statSync(shot).size > 10_000);
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
