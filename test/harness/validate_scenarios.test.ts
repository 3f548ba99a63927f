/**
 * What `ptbench validate` predicts for the cases beyond PageTables of shmem and hugetlb, with the
 * kernel rules behind each (the measured side needs the running kernel: test/cli/cli.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultScenarios } from '../../src/harness/validate/scenarios.js';
import { kernelConfig } from '../../src/mm/kernel_profile.js';

const predicted = (name: string, profile = '6.18') => {
  const sc = defaultScenarios().find((s) => s.name === name);
  assert.ok(sc, `no scenario '${name}'`);
  return sc.predicted(kernelConfig(profile));
};

test('fork of 1 GiB of written private anonymous memory: the child gets all 514 tables in VmPTE', () => {
  // copy_page_range() copies a VMA with an anon_vma (vma_needs_copy()): 512 PTE + 1 PMD + 1 PUD
  // tables for 1 GiB at 16 TiB, counted by mm_inc_nr_ptes/pmds/puds: 514 x 4,096 = 2,105,344 B.
  assert.equal(predicted("anon 1024 MiB, fork: the child's VmPTE"), 514 * 4096);
  assert.equal(predicted("anon 1024 MiB, fork: the child's VmPTE", '6.12'), 514 * 4096);
});

test('fork of 1 GiB of written MAP_SHARED memory: the child gets no table (it refaults)', () => {
  // vma_needs_copy() is false for a shared mapping without anon_vma, uffd-wp, PFN or mixed map:
  // dup_mmap() copies the VMA and no page-table entry, so the child's VmPTE has nothing for it.
  assert.equal(predicted("shmem 1024 MiB, fork: the child's VmPTE"), 0);
});

test('hugetlb: one of 8 sharers mprotects 2 MiB and refaults its first GiB: one private PMD table', () => {
  // 8 processes share 2 PMD tables for 2 GiB at a 1 GiB-aligned address (huge_pmd_share). The
  // mprotect splits the VMA at 2 MiB: hugetlb_split() unshares the GiB around the split point for
  // that process (huge_pmd_unshare). Its refault finds no VMA covering that whole GiB
  // (want_pmd_share() false), so it allocates a PMD table of its own: +4,096 B machine-wide; the
  // shared table stays for the other 7.
  assert.equal(predicted('hugetlb 2048 MiB x8, one mprotects 2 MiB and refaults'), 4096);
});

test('shared cases predict the sum of the processes\' VmPTE: a shared hugetlb PMD table counts once per sharer', () => {
  // validate sums its probe processes' VmPTE (mm_pgtables_bytes(): PUD, PMD and PTE tables, never the
  // PGD). huge_pmd_share() (mm/hugetlb.c, 6.12 and 6.18) links the shared PMD table with
  // pud_populate() and calls mm_inc_nr_pmds(mm) for the linking mm, so each sharer's VmPTE holds it.
  // 8 processes x 2 GiB of 2 MiB hugetlb pages at 16 TiB, 1 GiB-aligned: each has 1 PUD table and
  // links the 2 shared PMD tables: 8 x 3 x 4 KiB (machine-wide it is 8 + 2 tables).
  assert.equal(predicted('hugetlb 2 MiB pages, 2048 MiB x8, 1 GiB-aligned'), 8 * (1 + 2) * 4096);
  // 2 MiB off alignment only the middle GiB lies wholly inside each VMA (want_pmd_share() and
  // range_in_vma()): 1 PUD, the 1 shared PMD table and 2 private ones (the partial GiBs at each end).
  assert.equal(predicted('hugetlb 2 MiB pages, 2048 MiB x8 at +2 MiB'), 8 * (1 + 1 + 2) * 4096);
  // Private shmem tables: 8 x (512 PTE + 1 PMD + 1 PUD) for 1 GiB each.
  assert.equal(predicted('shmem 1024 MiB x8'), 8 * 514 * 4096);
});
