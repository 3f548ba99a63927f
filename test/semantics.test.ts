/** The semantics matrix, pinned: what each design does when one process changes shared state. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CHANGES, renderMatrixMarkdown, semanticsMatrix } from '../src/semantics/matrix.js';

const cells = semanticsMatrix();
const row = (d: string) => CHANGES.map((c) => cells.find((x) => x.design === d && x.change === c)!.outcome);

test('outcomes per design, from the kernel rules and the series (columns: mprotect, munmap of part, uffd-wp, soft-dirty clear, MADV_DONTNEED)', () => {
  assert.deepEqual(row('private'), ['private', 'private', 'private', 'private', 'private']);
  // hugetlb: hugetlb_change_protection / __unmap_hugepage_range / hugetlb_unshare_all_pmds unshare;
  // clear_refs skips hugetlb VMAs.
  assert.deepEqual(row('hugetlb-pmd'), ['unshares', 'unshares', 'unshares', 'no effect', 'unshares']);
  // ptshare: protection is the host's PTEs (every sharer), partial unmap refused by the RFC.
  assert.deepEqual(row('ptshare'), ['visible', 'refused', 'refused', 'visible', 'refused']);
  // mshare v3 refuses mprotect/madvise/uffd inside the region; the 2022/23 variant applies mprotect to all.
  assert.deepEqual(row('mshare'), ['refused', 'refused', 'refused', 'visible', 'refused']);
  assert.deepEqual(row('mshare-protect-all'), ['visible', 'refused', 'refused', 'visible', 'refused']);
  // file-pt: page tables are an implementation detail: any per-process change unshares.
  assert.deepEqual(row('file-pt'), ['unshares', 'unshares', 'unshares', 'unshares', 'unshares']);
  assert.deepEqual(row('threads'), ['visible', 'visible', 'visible', 'visible', 'visible']);
});

test('pagemap after the change: soft-dirty is per table entry, so clearing it in a shared table clears it for the sharer too', () => {
  const sd = (d: string) => cells.find((x) => x.design === d && x.change === 'soft-dirty clear')!;
  // Private tables: A's clear leaves B's entry soft-dirty (B wrote it).
  assert.equal(sd('private').pagemapA, 'present, file, shared');
  assert.equal(sd('private').pagemapB, 'present, file, shared, soft-dirty');
  // ptshare: one PTE for both: B lost its soft-dirty bit too.
  assert.equal(sd('ptshare').pagemapB, 'present, file, exclusive');
  // file-pt: A unshared before clearing; B keeps the cached table with its soft-dirty bit.
  assert.equal(sd('file-pt').pagemapB, 'present, file, exclusive, soft-dirty');
});

test('docs/semantics-matrix.md is the current output of `npm run matrix`', () => {
  assert.equal(readFileSync(new URL('../docs/semantics-matrix.md', import.meta.url), 'utf8'), renderMatrixMarkdown(cells));
});

test('TLB flushes: a change to a shared table reaches every sharer\'s CPUs; mshare flushes every CPU; unsharing flushes only the unsharer', () => {
  const fl = (d: string, c: string) => cells.find((x) => x.design === d && x.change === c)!.flush;
  // Private tables: only A's CPU (0), no IPI. 2 MiB = 512 pages > 33: a full flush.
  assert.equal(fl('private', 'mprotect'), '1 (full), CPUs {0}, 0 IPI');
  // ptshare: the host's PTEs changed; A (CPU 0) and B (CPU 1) cache them: one IPI to CPU 1.
  assert.equal(fl('ptshare', 'mprotect'), '1 (full), CPUs {0,1}, 1 IPI');
  assert.equal(fl('ptshare', 'soft-dirty clear'), '1 (full), CPUs {0,1}, 1 IPI');
  // mshare: flush_tlb_all on host-table changes.
  assert.equal(fl('mshare-protect-all', 'mprotect'), '1 (global), CPUs {0,1}, 1 IPI');
  assert.equal(fl('mshare', 'soft-dirty clear'), '1 (global), CPUs {0,1}, 1 IPI');
  // hugetlb-pmd: A drops the shared PMD table: its whole GiB (PUD_SIZE) flushed on A's CPU only.
  assert.equal(fl('hugetlb-pmd', 'mprotect'), '1 (full), CPUs {0}, 0 IPI');
  // file-pt: uffd-wp registration over 4 MiB drops two linked PTE tables: two flushes on CPU 0.
  assert.equal(fl('file-pt', 'uffd-wp registration'), '2 (full), CPUs {0}, 0 IPI');
  // threads: one mm whose two tasks ran on both CPUs.
  assert.equal(fl('threads', 'mprotect'), '1 (full), CPUs {0,1}, 1 IPI');
});
