/**
 * The counting engine (src/workload/pgtable_count.ts) against the materialized tables: thousands of
 * seeded random scenarios small enough to build, every design, compared to the byte — tables by level
 * machine-wide and per process, shared tables, folios — plus the figures the issue pins.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { countScenario } from '../../src/workload/pgtable_count.js';
import { designByName, DESIGNS } from '../../src/share/index.js';
import type { PtShareDesign } from '../../src/mm/pt_share.js';
import { sgaScenario } from '../../src/workload/sga.js';
import { materializeScenario, teardownScenario, type Scenario, type ScenarioCounts, type ScenarioGroup, type ScenarioMapping, type ScenarioObject } from '../../src/workload/scenario.js';
import { UsageError } from '../../src/lib/errors.js';
import { GiB, KiB, MiB } from '../helpers.js';

const SLOT = 2 ** 39;

/** One object's placement, shared by the processes that map it "the same way". */
interface Placement { addr: number; len: number; offset: number }

const pageOf = (o: ScenarioObject) => (o.page === '4k' ? 4096 : o.page === '2m' ? 2 * MiB : GiB);

/**
 * Scenarios: 1-2 objects of kinds the design accepts, 1-3 groups of 1-3 processes, each mapping every
 * object (at a common placement, 60 %, or its own) and sometimes private anonymous memory, touching
 * 1-3 ranges. Addresses: each object in its own 512 GiB slot (mshare attaches whole slots), at a
 * 1 GiB, 2 MiB or page offset inside it, so windows are met whole, partly and across boundaries.
 */
function scenarioArb(design: PtShareDesign): fc.Arbitrary<Scenario> {
  const kinds = (['shmem', 'file', 'hugetlb2m', 'hugetlb1g'] as const).filter((k) => {
    const kind = k.startsWith('hugetlb') ? 'hugetlb' : (k as 'shmem' | 'file');
    const page = k === 'hugetlb2m' ? '2m' : k === 'hugetlb1g' ? '1g' : '4k';
    return (design.checkScenario?.({ kind, page }) ?? null) === null;
  });
  // hugetlb-pmd shares only 2 MiB hugetlb pages: draw them more often.
  if (design.name === 'hugetlb-pmd') kinds.push('hugetlb2m', 'hugetlb2m');
  return fc.record({
    levels: fc.constantFrom<4 | 5>(4, 4, 4, 5),
    high: fc.boolean(),
    objs: fc.array(fc.record({ k: fc.constantFrom(...kinds), pages: fc.integer({ min: 1, max: 3 * 512 + 7 }), big: fc.constantFrom(true, true, false) }), { minLength: 1, maxLength: 2 }),
    seed: fc.array(fc.integer({ min: 0, max: 2 ** 30 }), { minLength: 64, maxLength: 64 }),
    groups: fc.array(fc.record({ count: fc.integer({ min: 1, max: 3 }), anon: fc.boolean(), write: fc.boolean() }), { minLength: 1, maxLength: 3 }),
    fab: fc.constantFrom(4096, 65536),
  }).map(({ levels, high, objs, seed, groups, fab }) => {
    let si = 0;
    const rnd = (n: number) => seed[si++ % seed.length]! % n;
    const objects: ScenarioObject[] = objs.map(({ k, pages, big }) => {
      if (k === 'hugetlb1g') return { kind: 'hugetlb', page: '1g', size: (1 + (pages % 3)) * GiB };
      if (k === 'hugetlb2m') return { kind: 'hugetlb', page: '2m', size: (big ? pages : 1 + (pages % 40)) * 2 * MiB };
      return { kind: k, page: '4k', size: big ? pages * 2 * MiB - rnd(3) * 4096 : 1 + rnd(4 * MiB) };
    });
    const base = levels === 5 && high ? 2 ** 52 : 0x7e0000000000;
    // ptshare maps in 2 MiB units (the mapping may run past EOF; touches stay inside the object).
    const align = design.mapAlign ?? 1;
    const place = (oi: number): Placement => {
      const o = objects[oi]!;
      const pb = Math.max(pageOf(o), align);
      const pages = Math.ceil(o.size / pb);
      const offPages = rnd(4) === 0 ? rnd(pages) : 0;
      const lenPages = Math.max(1, rnd(3) === 0 ? 1 + rnd(pages - offPages) : pages - offPages);
      const inSlot = [0, GiB, rnd(4) * GiB + rnd(512) * 2 * MiB, rnd(2) * GiB + rnd(512) * 2 * MiB + rnd(512) * 4096][rnd(4)]!;
      const addr = base + oi * SLOT + Math.floor(inSlot / pb) * pb;
      return { addr, len: lenPages * pb, offset: offPages * pb };
    };
    // ptshare, mshare and threads need every process to map an object the same way.
    const uniform = design.mapAlign !== undefined || design.name.startsWith('mshare') || !design.mmPerProcess;
    const common = objects.map((_, oi) => place(oi));
    const anonCommon = { addr: base + 2 * SLOT + rnd(3) * GiB + rnd(512) * 4096, len: (1 + rnd(600)) * 4096 };
    const touches = (len: number, pb: number, size = len): Array<[number, number]> => {
      const pages = Math.min(len, size) / pb;
      const out: Array<[number, number]> = [];
      for (let n = 1 + rnd(3); n > 0; n--) {
        const s = rnd(pages);
        const span = pb === 4096 ? (rnd(5) === 0 ? 1 + rnd(700) : 1 + rnd(24)) : 1 + rnd(4);
        out.push([s * pb, Math.min(pages, s + span) * pb]);
      }
      return out;
    };
    const gs: ScenarioGroup[] = groups.map(({ count, anon, write }) => {
      const maps: ScenarioMapping[] = objects.map((o, oi) => {
        const p = uniform || rnd(5) < 3 ? common[oi]! : place(oi);
        const inObject = Math.ceil(o.size / pageOf(o)) * pageOf(o) - p.offset;
        return { object: oi, ...p, touch: touches(p.len, pageOf(o), inObject), write: rnd(3) === 0 ? !write : write };
      });
      if (anon || uniform) {
        const len = uniform ? anonCommon.len : (1 + rnd(600)) * 4096;
        maps.push({ object: -1, addr: uniform ? anonCommon.addr : base + 2 * SLOT + rnd(3) * GiB + rnd(512) * 4096, len, offset: 0, touch: touches(len, 4096), write });
      }
      return { count, maps };
    });
    return { design, levels, objects, groups: gs, faultAroundBytes: fab };
  });
}

function expand(c: ScenarioCounts): Array<Omit<ScenarioCounts['processes'][number], 'count'>> {
  return c.processes.flatMap(({ count, ...x }) => Array.from({ length: count }, () => x));
}

for (const design of DESIGNS) {
  test(`counting engine = materialized tables, to the byte, for 600 random scenarios: ${design.name}`, () => {
    let compared = 0;
    let sharing = 0;
    fc.assert(fc.property(scenarioArb(design), (sc) => {
      let count: ScenarioCounts;
      try {
        count = countScenario(sc);
      } catch (e) {
        if (e instanceof UsageError) return; // refused by validation, shared by both engines
        throw e;
      }
      const run = materializeScenario(sc, count);
      const mat = run.counts;
      assert.deepEqual(count.tables, mat.tables);
      assert.equal(count.pageTableBytes, mat.pageTableBytes);
      assert.equal(count.sharedTables, mat.sharedTables);
      assert.equal(count.folios, mat.folios);
      assert.equal(count.framePages, mat.framePages);
      assert.deepEqual(expand(count), expand(mat));
      assert.deepEqual(teardownScenario(run), []);
      compared++;
      if (mat.sharedTables > 0) sharing++;
    }), { seed: 0x7ab1e5 + design.name.length, numRuns: 600 });
    // The generator must reach the design's rules, not only its refusals.
    assert.ok(compared >= 300, `${design.name}: only ${compared} of 600 scenarios were valid`);
    if (!['private', 'threads'].includes(design.name)) assert.ok(sharing >= 75, `${design.name}: only ${sharing} scenarios shared a table`);
  });
}

test('the mshare figure: 1,500 processes x 300 GB of shmem with private tables need 878.9 GB of PTE tables', () => {
  // The command's scenario: --procs 1500 --size 300GB (GB = 10^9 bytes, as the cover letter uses it)
  // --kind shmem, mapped at 0x7f0000000000 and written all over, 4 KiB pages.
  const sga = (name: string) => sgaScenario({ design: designByName(name), procs: 1500, size: 300e9, kind: 'shmem', page: '4k', offset: 0, touch: 'all', write: true, levels: 4 });
  const { scenario: sc, mapped } = sga('private');
  assert.equal(mapped, 300_000_002_048); // rounded up to 73,242,188 pages
  const c = countScenario(sc);
  // PTE tables per process: ceil(73,242,188 / 512) = 143,052 (the region starts 2 MiB-aligned).
  assert.equal(c.tables.pte, 143_052 * 1500);
  // 143,052 x 4,096 B x 1,500 = 878,911,488,000 B = 878.9 GB (= 818.6 GiB).
  assert.equal(c.tables.pte * 4096, 878_911_488_000);
  // PMD tables: ceil(300,000,002,048 / 2^30) = 280 per process; one PUD table (< 512 GiB); the PGD.
  assert.deepEqual(c.tables, { pgd: 1500, p4d: 0, pud: 1500, pmd: 280 * 1500, pte: 143_052 * 1500 });
  assert.deepEqual(c.processes, [{ count: 1500, tables: { pgd: 1, p4d: 0, pud: 1, pmd: 280, pte: 143_052 }, pageTableBytes: (1 + 1 + 280 + 143_052) * 4096, vmPTEBytes: (1 + 280 + 143_052) * 4096 }]);

  // What sharing would have cost instead (machine-wide table pages):
  const pages = (name: string) => countScenario(sga(name).scenario).tables;
  // threads: one mm, 1 + 1 + 280 + 143,052 tables.
  assert.deepEqual(pages('threads'), { pgd: 1, p4d: 0, pud: 1, pmd: 280, pte: 143_052 });
  // ptshare (the posted code, mm/ptshare.c): one host (1 + 1 + 280 + 143,052) + per process its own
  // PGD, PUD and 280 PMD tables whose entries find_shared_vma() copies from the host (PTE tables
  // shared) -- except the first mapper, whose PUD entry at the start ptshare_copy_pmd() pointed at
  // the host's first PMD table: 279 of its own. 280 + 280 x 1,500 - 1 = 280 x 1,501 - 1.
  assert.deepEqual(pages('ptshare'), { pgd: 1501, p4d: 0, pud: 1501, pmd: 280 * 1501 - 1, pte: 143_052 });
  // No link counts in VmPTE (neither pud_populate nor set_pmd calls mm_inc_nr_*): the first mapper
  // (1 PUD + 279 PMD) x 4,096, the other 1,499 (1 PUD + 280 PMD) x 4,096.
  assert.deepEqual(countScenario(sga('ptshare').scenario).processes.map((p) => [p.count, p.vmPTEBytes]), [[1, (1 + 279) * 4096], [1499, (1 + 280) * 4096]]);
  // mshare: one host (1 + 1 + 280 + 143,052) + per process only its PGD (its entry links the host PUD).
  assert.deepEqual(pages('mshare'), { pgd: 1501, p4d: 0, pud: 1, pmd: 280, pte: 143_052 });
  // ...and its VmPTE is 0: v3's set_p4d() of the host entry does not call mm_inc_nr_puds().
  assert.deepEqual(countScenario(sga('mshare').scenario).processes.map((p) => [p.count, p.vmPTEBytes]), [[1500, 0]]);
  // file-pt: each process links 279 whole GiB (host PMD tables), then the last 426,033,152 B =
  // 203 whole 2 MiB windows (host PTE tables) + 0.15 of one, faulted privately: own PGD, PUD, one
  // PMD and one PTE table per process. The cache host holds PGD, PUD, 280 PMD and 143,051 PTE
  // tables (the partial window never faults through it).
  assert.deepEqual(pages('file-pt'), { pgd: 1501, p4d: 0, pud: 1501, pmd: 280 + 1500, pte: 143_051 + 1500 });
  // hugetlb-pmd shares nothing of shmem.
  assert.deepEqual(pages('hugetlb-pmd'), c.tables);
});

test('counting engine: 1,500 x 300 GB in well under a second of work (cost does not grow with bytes)', () => {
  const sc: Scenario = {
    design: designByName('mshare'), levels: 4,
    objects: [{ kind: 'shmem', page: '4k', size: 2 ** 40 }],
    groups: [{ count: 1500, maps: [{ object: 0, addr: 0x7e0000000000, len: 2 ** 40, offset: 0, touch: [[0, 2 ** 40]], write: true }] }],
  };
  const c = countScenario(sc);
  // mshare, 1 TiB at a 512 GiB-aligned address: host 1 PGD + 2 PUD + 1,024 PMD + 524,288 PTE tables;
  // each process its PGD (linking the host's two PUD tables).
  assert.deepEqual(c.tables, { pgd: 1501, p4d: 0, pud: 2, pmd: 1024, pte: 524_288 });
  assert.equal(c.sharedTables, 2);
});

test('bad scenarios: zero processes, beyond the address space, overlapping mappings', () => {
  const base: Scenario = {
    design: designByName('private'), levels: 4, objects: [{ kind: 'shmem', page: '4k', size: 4 * MiB }],
    groups: [{ count: 1, maps: [{ object: 0, addr: 0x7f0000000000, len: 4 * MiB, offset: 0, touch: [[0, 4 * KiB]], write: true }] }],
  };
  assert.throws(() => countScenario({ ...base, groups: [{ ...base.groups[0]!, count: 0 }] }), /process count must be a whole number >= 1, got 0/);
  assert.throws(() => countScenario({ ...base, objects: [{ kind: 'shmem', page: '4k', size: 2 ** 47 }], groups: [{ count: 1, maps: [{ ...base.groups[0]!.maps[0]!, len: 2 ** 47 - GiB }] }] }),
    /does not fit in the 4-level user address space .*5-level paging \(--levels 5\) has 2\^56/);
  assert.throws(() => countScenario({ ...base, groups: [{ count: 1, maps: [base.groups[0]!.maps[0]!, { ...base.groups[0]!.maps[0]!, addr: 0x7f0000000000 + 2 * MiB }] }] }), /mappings overlap at 0x7f0000200000/);
});
