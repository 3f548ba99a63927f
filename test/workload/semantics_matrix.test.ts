/** The semantics matrix, pinned: what each design does when one process changes shared state. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CHANGES, renderMatrixMarkdown, semanticsMatrix, STATE_ROWS, stateMatrix } from '../../src/workload/semantics_matrix.js';

const cells = semanticsMatrix();
const state = stateMatrix();
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

test('pagemap after the change: a process that never cleared soft-dirty reads every entry soft-dirty (VM_SOFTDIRTY); A\'s clear shows in its own entries', () => {
  const sd = (d: string) => cells.find((x) => x.design === d && x.change === 'soft-dirty clear')!;
  // A cleared: VM_SOFTDIRTY off and its PTE bits cleared. B never cleared: pte_to_pagemap_entry adds
  // PM_SOFT_DIRTY for every entry of a VM_SOFTDIRTY VMA, whatever the PTE says.
  assert.equal(sd('private').pagemapA, 'present, file, shared');
  assert.equal(sd('private').pagemapB, 'present, file, shared, soft-dirty');
  assert.equal(sd('ptshare').pagemapA, 'present, file, exclusive');
  assert.equal(sd('ptshare').pagemapB, 'present, file, exclusive, soft-dirty');
  assert.equal(sd('file-pt').pagemapB, 'present, file, exclusive, soft-dirty');
});

test('soft-dirty in a shared PTE table: when both processes track, A\'s clear_refs erases B\'s record of its write (ptshare), not with private tables', async () => {
  const { Machine } = await import('../../src/mm/machine.js');
  const { designByName } = await import('../../src/share/index.js');
  const { MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE } = await import('../../src/mm/mmap.js');
  const seen: Record<string, boolean> = {};
  for (const name of ['private', 'ptshare']) {
    const d = designByName(name);
    const m = new Machine({ design: d, ptPages: 256, frames: 4096 });
    const f = m.memfd_create('shm', 2 ** 21);
    const [a, b] = [m.mm_alloc(), m.mm_alloc()];
    for (const mm of [a, b]) {
      m.mmap(mm, { addr: 2 ** 39, length: 2 ** 21, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_FIXED | (d.mmapFlags ?? 0), file: f });
      m.touch(mm, 2 ** 39, true);
    }
    m.clear_refs_soft_dirty(b); // B starts tracking
    m.touch(b, 2 ** 39, true); // B writes: its entry is soft-dirty again
    m.clear_refs_soft_dirty(a); // A starts tracking too
    seen[name] = m.pagemap(b, 2 ** 39).softDirty;
    for (const mm of [a, b]) m.exit(mm);
    m.close(f);
    assert.deepEqual(m.leakCheck(), []);
  }
  // Private tables: B still sees its write. ptshare: the one shared PTE lost the bit: B missed its own write.
  assert.deepEqual(seen, { private: true, ptshare: false });
});

test('per-process state rows: uffd-wp survives MADV_DONTNEED where allowed, reclaim clears one entry per shared table, pagemap variants, pins, KSM', () => {
  const st = (d: string, r: number) => state.find((x) => x.design === d && x.row === STATE_ROWS[r])!.text;
  assert.equal(st('private', 0), "kept: the zapped entry became a marker; A's write → monitor; B writes freely");
  assert.equal(st('threads', 0), "kept: the zapped entry became a marker; A's write → monitor; B's write → monitor");
  assert.match(st('ptshare', 0), /^refused: /);
  assert.match(st('mshare', 0), /^refused: /);
  // Reclaim of a page A and B map: private tables 2 entries in 2 tables; one shared PTE table: 1.
  // Reclaim runs on CPU 0: A's entry (A ran on CPU 0) is flushed there at once, B's (CPU 1) goes out
  // as a batched flush with one IPI -- as many IPIs as the shared table's single flush to both CPUs.
  assert.equal(st('private', 1), '2 entries in 2 tables, 2 flushes (per mm), 1 IPI');
  assert.equal(st('file-pt', 1), '1 entry in 1 table, 1 flush (per mm), 1 IPI');
  assert.equal(st('mshare', 1), '1 entry in 1 table, 1 flush (global), 1 IPI');
  assert.match(st('hugetlb-pmd', 1), /hugetlb folios are never reclaimed/);
  // pagemap: today's kernel 0 (+ VM_SOFTDIRTY), lookup = swap + file + slot 1, marker = swap + type 31 | 16 << 5.
  assert.equal(st('private', 2), '0x0080000000000000 / 0x6080000000000020 / 0x408000000000021f');
  assert.equal(st('mshare', 2), '0x0080000000000000 / 0x0080000000000000 / 0x408000000000021f');
  for (const d of ['private', 'ptshare', 'file-pt', 'threads']) assert.match(st(d, 4), /^skipped/);
});

test('docs/semantics-matrix.md is the current output of `npm run matrix`', () => {
  assert.equal(readFileSync(new URL('../../docs/semantics-matrix.md', import.meta.url), 'utf8'), renderMatrixMarkdown(cells, state));
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
  // hugetlb-pmd: A drops the shared PMD table: its whole GiB (PUD_SIZE) flushed on A's CPU only,
  // no flush IPI. The table is left to B alone (pt_share_count 1 -> 0), so the mprotect's mmu_gather
  // ends with one GUP-fast sync (tlb_remove_table_sync_one, KERNEL_RULES.hugetlb_unshare_sync): an
  // IPI to the other CPU, CPU 1. 0 + 1 = 1 IPI.
  assert.equal(fl('hugetlb-pmd', 'mprotect'), '1 (full), CPUs {0}, 1 IPI');
  // file-pt: uffd-wp registration over 4 MiB drops two linked PTE tables: two flushes on CPU 0.
  assert.equal(fl('file-pt', 'uffd-wp registration'), '2 (full), CPUs {0}, 0 IPI');
  // threads: one mm whose two tasks ran on both CPUs.
  assert.equal(fl('threads', 'mprotect'), '1 (full), CPUs {0,1}, 1 IPI');
});
