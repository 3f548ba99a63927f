/**
 * PT_RECLAIM (Linux 6.14, CONFIG_PT_RECLAIM, commit 6375e95f381e): MADV_DONTNEED frees the PTE tables
 * it empties. zap_pte_range() reclaims a table only when the zap covers all of it
 * (reclaim_pt_is_enabled(): end - start >= PMD_SIZE) and no entry was skipped (a uffd-wp marker keeps
 * it); PMD and higher tables stay. Linux 6.12 has no PT_RECLAIM: every table stays.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mmAccounting } from '../../src/mm/accounting.js';
import { kernelConfig } from '../../src/mm/kernel_profile.js';
import { KernelError } from '../../src/mm/errno.js';
import { assertClean, BASE, GiB, machine, mapAnon, mapShared, MiB, touchAll } from '../helpers.js';

describe('PT_RECLAIM: MADV_DONTNEED frees emptied PTE tables (6.18), keeps them (6.12)', () => {
  it('1 GiB written then MADV_DONTNEED whole: 512 PTE tables freed on 6.18, VmPTE 2,056 KiB -> 8 KiB', () => {
    // Measured on a 6.18 kernel with CONFIG_PT_RECLAIM: VmPTE 2,096 KiB -> 48 KiB for 1 GiB, a drop
    // of 2,048 KiB = 512 PTE tables x 4 KiB; the process's other mappings make up the 48 KiB there.
    const m = machine({ kernel: kernelConfig('6.18') });
    const mm = m.mm_alloc();
    mapAnon(m, mm, BASE, GiB);
    touchAll(m, mm, BASE, GiB, true);
    // 512 PTE + 1 PMD + 1 PUD tables: (512 + 1 + 1) x 4,096 = 2,105,344 B = 2,056 KiB.
    assert.equal(mmAccounting(m, mm).vmPTEBytes, 514 * 4096);
    m.madvise_dontneed(mm, BASE, GiB);
    // Every 2 MiB window lies inside the range and is empty: 512 tables freed, (1 + 1) x 4,096 left.
    assert.equal(m.events.pteTablesReclaimed, 512);
    assert.deepEqual(mmAccounting(m, mm).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 0 });
    assert.equal(mmAccounting(m, mm).vmPTEBytes, 2 * 4096);
    // A refault allocates its PTE table again (the walk cache must not hand out the freed one).
    touchAll(m, mm, BASE, 4096, true);
    assert.equal(mmAccounting(m, mm).tables.pte, 1);
    m.exit(mm);
    assertClean(m);
  });

  it('6.12 has no PT_RECLAIM: the 512 tables stay; asking for it on 6.12 is an error naming the version', () => {
    const m = machine({ kernel: kernelConfig('6.12') });
    const mm = m.mm_alloc();
    mapAnon(m, mm, BASE, GiB);
    touchAll(m, mm, BASE, GiB, true);
    m.madvise_dontneed(mm, BASE, GiB);
    assert.equal(m.events.pteTablesReclaimed, 0);
    assert.equal(mmAccounting(m, mm).tables.pte, 512);
    m.exit(mm);
    assertClean(m);
    assert.throws(() => kernelConfig('6.12', { ptReclaim: true }), (e: unknown) => e instanceof KernelError && /CONFIG_PT_RECLAIM does not exist in Linux 6.12 \(it came in 6.14\)/.test(e.message));
    assert.throws(() => kernelConfig('5.4'), /unknown kernel profile '5.4'; profiles: 6.12, 6.18/);
    // The knob off on 6.18 is the 6.12 behaviour for this rule.
    assert.equal(kernelConfig('6.18', { ptReclaim: false }).ptReclaim, false);
  });

  it('only windows the range covers whole: [1 MiB, 5 MiB) of 6 MiB frees the one table of [2 MiB, 4 MiB)', () => {
    const m = machine({ kernel: kernelConfig('6.18') });
    const mm = m.mm_alloc();
    mapAnon(m, mm, BASE, 6 * MiB);
    touchAll(m, mm, BASE, 6 * MiB, true);
    assert.equal(mmAccounting(m, mm).tables.pte, 3);
    m.madvise_dontneed(mm, BASE + MiB, 4 * MiB);
    // [0, 2 MiB) and [4 MiB, 6 MiB) are zapped only in part (reclaim_pt_is_enabled: end - start < PMD_SIZE).
    assert.equal(m.events.pteTablesReclaimed, 1);
    assert.equal(mmAccounting(m, mm).tables.pte, 2);
    m.exit(mm);
    assertClean(m);
  });

  it('a uffd-wp marker left by the zap keeps its table (any_skipped), as does a shmem page still mapped', () => {
    const m = machine({ kernel: kernelConfig('6.18') });
    const mm = m.mm_alloc();
    const f = m.memfd_create('buf', 4 * MiB);
    mapShared(m, mm, f, BASE, 4 * MiB);
    touchAll(m, mm, BASE, 4 * MiB, true);
    m.uffd_register_wp(mm, BASE, 2 * MiB);
    m.uffd_writeprotect(mm, BASE, 4096, true);
    m.madvise_dontneed(mm, BASE, 4 * MiB);
    // The first table keeps the protected page's marker (zap_install_uffd_wp_if_needed); the second is freed.
    assert.equal(m.events.pteTablesReclaimed, 1);
    assert.equal(mmAccounting(m, mm).tables.pte, 1);
    m.uffd_unregister(mm, BASE, 2 * MiB);
    m.exit(mm);
    m.close(f);
    assertClean(m);
  });
});
