/**
 * Simulated CPUs in worker threads (src/smp): a stress test of concurrent faults on shared and private
 * regions, for every design, against the single-threaded run of the same accesses; and a CPU that
 * fails surfaces as one error instead of a hang.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { mmAccounting, machineAccounting } from '../../src/mm/accounting.js';
import { Machine } from '../../src/mm/machine.js';
import { page_table_check } from '../../src/mm/page_table_check.js';
import { CpuPool, SmpError } from '../../src/smp/cpu_pool.js';
import { designByName } from '../../src/share/index.js';
import { countScenario } from '../../src/workload/pgtable_count.js';
import { scenarioMachine, teardownScenario, type Scenario } from '../../src/workload/scenario.js';
import { mapForSmp, planAccesses, runOnCpus, runOnMainThread, smpCapacity, smpRound, smpWorkload } from '../../src/workload/smp_run.js';
import { MiB } from '../helpers.js';

const SHARED = 0x7f0000000000;
const PRIVATE = 0x7e0000000000;
const CPUS = 3; // more simulated CPUs than the 2 cores: spinning waiters get preempted too

/**
 * 6 processes: each maps 8 MiB of one shmem file at SHARED and 2 MiB of private anonymous memory at
 * PRIVATE, and touches every page of both once (in address order, or each in its own random order); processes 0-2 read the
 * shared region (fault-around maps neighbours), 3-5 write it; all write their private memory.
 */
function stressScenario(design: string): Scenario {
  const maps = (write: boolean) => [
    { object: 0, addr: SHARED, len: 8 * MiB, offset: 0, touch: [[0, 8 * MiB]] as [number, number][], write },
    { object: -1, addr: PRIVATE, len: 2 * MiB, offset: 0, touch: [[0, 2 * MiB]] as [number, number][], write: true },
  ];
  return { design: designByName(design), levels: 4, objects: [{ kind: 'shmem', page: '4k', size: 8 * MiB }], groups: [{ count: 3, maps: maps(false) }, { count: 3, maps: maps(true) }] };
}

/** The accounting a test compares: machine-wide and per process. */
function accounting(m: Machine, mms: readonly { id: number }[]): unknown {
  return { machine: machineAccounting(m), processes: [...m.mms].filter((mm) => mms.some((x) => x.id === mm.id)).map((mm) => mmAccounting(m, mm)) };
}

describe('simulated CPUs in worker threads', () => {
  let pool: CpuPool;
  before(async () => {
    pool = await CpuPool.start(CPUS);
  });
  after(async () => {
    await pool.close();
  });

  for (const design of ['private', 'ptshare', 'mshare', 'file-pt', 'threads']) {
    it(`${design}: ${CPUS} CPUs fault shared and private regions in random orders; same end state as one CPU`, async () => {
      const sc = stressScenario(design);
      const counted = smpCapacity(countScenario(sc));
      // In address order the CPUs meet on the same pages at the same time (races on nearly every
      // page); in random orders they meet less often but anywhere.
      const plans = [planAccesses(sc, 6, 'seq', 0), planAccesses(sc, 6, 'random', 7), planAccesses(sc, 6, 'random', 8)];
      for (const plan of plans) {
        const m = scenarioMachine(sc, counted);
        const mapped = mapForSmp(m, sc, plan);
        const r = await runOnCpus(pool, m, plan, mapped);
        // 6 processes x (2,048 shared + 512 private pages) = 15,360 accesses, none failing.
        assert.equal(r.accesses, 15_360);
        assert.equal(r.failed, 0);
        // The run queue holds one task per process; each was taken by exactly one CPU.
        assert.equal(r.cpuTasks.length, CPUS);
        assert.equal(r.cpuTasks.reduce((a, b) => a + b, 0), 6);
        // The CPUs' running time lies within the round's wall time and covers the slowest CPU's own (to the
        // 0.01 ms the shared clock keeps: timeOrigin + now() is an epoch time in a double).
        assert.ok(r.parallelMs > 0 && r.parallelMs <= r.wallMs && r.parallelMs >= Math.max(...r.cpuMs) - 0.01, `parallelMs ${r.parallelMs}, wallMs ${r.wallMs}, cpuMs ${r.cpuMs}`);
        assert.deepEqual(page_table_check(m), [], 'every page mapped once per table, mapcounts and refcounts match, no leaked table');

        const ref = scenarioMachine(sc, counted);
        const refMapped = mapForSmp(ref, sc, plan);
        assert.equal(runOnMainThread(ref, refMapped).failed, 0);
        assert.deepEqual(accounting(m, mapped.mms), accounting(ref, refMapped.mms), 'deterministic accounting equals the single-threaded run');
        if (design === 'private') {
          // Per process: 1 PGD + 2 PUD (0x7f.. and 0x7e.. are in different 512 GiB slots) + 2 PMD +
          // 4 PTE tables (8 MiB / 2 MiB) + 1 PTE table (2 MiB anon) = 10 tables; 6 processes: 60.
          // Folios: 2,048 shmem pages + 6 x 512 anonymous pages = 5,120.
          assert.deepEqual(machineAccounting(m).tables, { pgd: 6, p4d: 0, pud: 12, pmd: 12, pte: 30 });
          assert.equal(machineAccounting(m).folios, 5_120);
        }
        if (design === 'threads') {
          // One mm: 1 + 2 + 2 + 5 = 10 tables; 2,048 shmem pages + 512 anonymous pages (the tasks share them).
          assert.deepEqual(machineAccounting(m).tables, { pgd: 1, p4d: 0, pud: 2, pmd: 2, pte: 5 });
          assert.equal(machineAccounting(m).folios, 2_560);
        }
        assert.deepEqual(teardownScenario({ machine: m, mms: mapped.mms }), [], 'no leak after exit');
        assert.deepEqual(teardownScenario({ machine: ref, mms: refMapped.mms }), []);
        // Tables are allocated under the upper table's lock after a recheck: no duplicate allocations.
        assert.equal(m.pool.allocs, ref.pool.allocs);
        assert.equal(m.pool.frees, ref.pool.frees);
      }
    });
  }

  it('hugetlb-pmd: racing first faults may each allocate a PMD table (as in the kernel); the state stays consistent', async () => {
    const w = smpWorkload({ design: designByName('hugetlb-pmd'), procs: 6, size: 2 * 2 ** 30, kind: 'hugetlb', page: '2m', write: true, order: 'random', seed: 3 });
    const m = scenarioMachine(w.scenario, w.capacity);
    const r = await smpRound(pool, m, w);
    assert.deepEqual(r.problems, []);
    // 6 processes x 1,024 huge pages of 2 MiB: 6,144 accesses.
    assert.equal(r.accesses, 6_144);
    // One PMD table per GiB would be shared by all 6 (2 tables); racing CPUs can add at most one per CPU and GiB.
    assert.ok(r.acc.tables.pmd >= 2 && r.acc.tables.pmd <= 2 + CPUS * 2, `PMD tables ${r.acc.tables.pmd}`);
    assert.deepEqual(m.leakCheck(), []);
  });

  it('the host control runs on every CPU of the pool and reports the slowest thread\'s time', async () => {
    const ms = await pool.hostControl(10_000);
    assert.ok(ms > 0 && Number.isFinite(ms), `host control ${ms} ms`);
  });

  it('a CPU that runs out of table pages fails the run with one line, and nothing hangs', async () => {
    const w = smpWorkload({ design: designByName('private'), procs: 6, size: 8 * MiB, kind: 'shmem', page: '4k', write: true, order: 'random', seed: 1 });
    // 6 processes need 6 x (1 + 1 + 1 + 4) = 42 tables; give the pool 20.
    const m = new Machine({ ptPages: 20, frames: 20_000 });
    const mapped = mapForSmp(m, w.scenario, w.plan);
    await assert.rejects(runOnCpus(pool, m, w.plan, mapped), (e: unknown) => {
      assert.ok(e instanceof SmpError);
      assert.match(e.message, /^simulated CPU \d of 3 failed: ENOMEM: page-table pool: all 20 table pages of the simulated machine are in use/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
    // The pool is still usable afterwards.
    const m2 = scenarioMachine(w.scenario, w.capacity);
    const ok = await smpRound(pool, m2, w);
    assert.deepEqual(ok.problems, []);
  });
});
