/**
 * The semantics matrix: for every design, what a change made by one process does to the others that
 * share its mapping, observed on the machine rather than written by hand. Two processes A and B map
 * the same object and touch it; A makes one change; the outcome is classified from what happened:
 *   refused        the call failed (the design forbids it), with the rule
 *   unshares       A dropped its link to a shared table (B untouched; A refaults privately later)
 *   visible        B's page-table entries changed too (the state lives in a shared table)
 *   private        only A's own entries changed (no sharing involved)
 *   no effect      nothing changed (e.g. clear_refs skips hugetlb)
 * and both processes' pagemap entries for the changed page are recorded afterwards.
 */
import { KernelError } from '../mm/errno.js';
import type { AddressSpace } from '../mm/address_space.js';
import { Machine, type MachineOptions } from '../mm/machine.js';
import { SHMEM_SWAP_REPORTS } from '../mm/machine_types.js';
import type { MmStruct } from '../mm/mm_types.js';
import { MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import type { PagemapEntry } from '../mm/pagemap.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { DESIGNS } from '../share/index.js';
import { VM_FAULT_RETRY } from '../mm/vm_fault.js';
import { describeKernel, kernelConfig, type KernelConfig } from '../mm/kernel_profile.js';

export const CHANGES = ['mprotect', 'munmap of part', 'uffd-wp registration', 'soft-dirty clear', 'MADV_DONTNEED'] as const;
export type Change = (typeof CHANGES)[number];
export type Outcome = 'refused' | 'unshares' | 'visible' | 'private' | 'no effect';

export interface MatrixCell {
  design: string;
  change: Change;
  outcome: Outcome;
  /** The rule, for refusals. */
  rule?: string;
  pagemapA: string;
  pagemapB: string;
  /** TLB flushes the change caused: count, target CPUs (union), IPIs, and whether one was global. */
  flush: string;
}

const BASE = 0x7f0000000000;
const MiB = 2 ** 20;
const RW = PROT_READ | PROT_WRITE;

interface World { m: Machine; a: MmStruct; b: MmStruct; size: number; step: number; files: AddressSpace[] }

/** A and B sharing a mapping the way each design shares (hugetlb-pmd: 2 MiB hugetlb; others: shmem). */
function world(d: PtShareDesign, opts: MachineOptions = {}): World {
  const m = new Machine({ design: d, ptPages: 4096, frames: 8192, ...opts });
  const hugetlb = d.name === 'hugetlb-pmd';
  const size = hugetlb ? 2 ** 30 : 4 * MiB;
  const step = hugetlb ? 2 * MiB : 4096;
  const file = hugetlb ? m.hugetlbfs_create('obj', size, '2M') : m.memfd_create('obj', size);
  const files = [file];
  const a = m.mm_alloc();
  const b = d.mmPerProcess ? m.mm_alloc() : a;
  if (!d.mmPerProcess) {
    a.mm_users = 2;
    a.cpumask = 0b11; // the two tasks run on CPUs 0 and 1
  }
  for (const mm of d.mmPerProcess ? [a, b] : [a]) {
    if (d.mapShared !== undefined) d.mapShared(m, mm, file, BASE, size, RW, 0);
    else m.mmap(mm, { addr: BASE, length: size, prot: RW, flags: MAP_SHARED | MAP_FIXED | (d.mmapFlags ?? 0), file });
  }
  for (const mm of [a, b]) for (let x = BASE; x < BASE + size; x += step) m.touch(mm, x, true);
  return { m, a, b, size, step, files: [...files, ...m.files.filter((f) => f !== undefined && f.kind === 'msharefs')] };
}

/** Every mm exits and every file closes; anything left on the machine is a bug in the model. */
function teardownWorld(w: World, d: PtShareDesign, label: string): void {
  const { m, a, b } = w;
  for (const mm of d.mmPerProcess ? [a, b] : [a]) while (!mm.dead) m.exit(mm);
  for (const f of w.files) if (m.files[f.id] !== undefined) m.close(f);
  const leaks = m.leakCheck();
  if (leaks.length > 0) throw new Error(`matrix ${d.name} / ${label}: ${leaks.join('; ')}`);
}

/** The rule of a refusal: the KernelError's message without its "ERRNO: field: " prefix. */
function ruleOf(e: KernelError): string {
  return e.message.replace(/^[A-Z]+: \w+: /, '');
}

function apply(w: World, c: Change): void {
  const { m, a } = w;
  switch (c) {
    case 'mprotect': return m.mprotect(a, BASE, 2 * MiB, PROT_READ);
    case 'munmap of part': { m.munmap(a, BASE, 2 * MiB); return; }
    case 'uffd-wp registration': return m.uffd_register_wp(a, BASE, w.size);
    case 'soft-dirty clear': return m.clear_refs_soft_dirty(a);
    case 'MADV_DONTNEED': return m.madvise_dontneed(a, BASE, 2 * MiB);
  }
}

/** The leaf words of an mm over the first 2 MiB (what "B's entries changed" compares). */
function leaves(m: Machine, mm: MmStruct, step: number): string {
  const out: number[] = [];
  for (let x = BASE; x < BASE + 2 * MiB; x += step) {
    const off = m.follow_page(mm, x);
    out.push(off < 0 ? 0 : m.pool.entries[off]!);
  }
  return out.join(',');
}

function pm(e: PagemapEntry): string {
  if (!e.present) return e.swapped ? 'swapped' : '0 (not present)';
  const f = [e.file ? 'file' : 'anon', e.exclusive ? 'exclusive' : 'shared', e.softDirty ? 'soft-dirty' : '', e.uffdWp ? 'uffd-wp' : ''].filter(Boolean);
  return `present, ${f.join(', ')}`;
}

export function matrixCell(d: PtShareDesign, c: Change, kernel?: KernelConfig): MatrixCell {
  const w = world(d, { kernel });
  const { m, a, b } = w;
  const beforeA = leaves(m, a, w.step);
  const beforeB = leaves(m, b, w.step);
  const unshared0 = m.events.tablesUnshared;
  const ev0 = { ...m.events.snapshot() };
  m.flushedCpus = 0;
  let outcome: Outcome;
  let rule: string | undefined;
  try {
    apply(w, c);
    const changedB = d.mmPerProcess && leaves(m, b, w.step) !== beforeB;
    if (!d.mmPerProcess) outcome = 'visible';
    else if (m.events.tablesUnshared > unshared0) outcome = 'unshares';
    else if (changedB) outcome = 'visible';
    else if (leaves(m, a, w.step) !== beforeA || c === 'uffd-wp registration') outcome = 'private';
    else outcome = 'no effect';
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    outcome = 'refused';
    rule = ruleOf(e);
  }
  const ev = m.events;
  const flushes = ev.tlbFlushes - ev0.tlbFlushes!;
  const cpus = m.flushedCpus;
  const flush = flushes === 0 ? 'none' : `${flushes} (${ev.flushTlbAll - ev0.flushTlbAll! > 0 ? 'global' : ev.tlbFlushFull - ev0.tlbFlushFull! > 0 ? 'full' : 'ranged'}), CPUs {${[0, 1, 2, 3].filter((i) => cpus & (1 << i)).join(',')}}, ${ev.tlbIpis - ev0.tlbIpis!} IPI`;
  const cell: MatrixCell = { design: d.name, change: c, outcome, flush, pagemapA: pm(m.pagemap(a, BASE + 2 * MiB - w.step)), pagemapB: pm(m.pagemap(b, BASE + 2 * MiB - w.step)) };
  if (rule !== undefined) cell.rule = rule;
  teardownWorld(w, d, c);
  return cell;
}

export function semanticsMatrix(designs: readonly PtShareDesign[] = DESIGNS, kernel?: KernelConfig): MatrixCell[] {
  return designs.flatMap((d) => CHANGES.map((c) => matrixCell(d, c, kernel)));
}

/** The per-process-state rows (uffd-wp markers, reclaim, pagemap of swapped shmem, GUP pins, KSM). */
export const STATE_ROWS = [
  'uffd-wp: A protects its first page, MADV_DONTNEED, refault',
  'reclaim of the first page (rmap walk)',
  'pagemap of the swapped first page, A (none / pagecache-lookup / pte-marker)',
  'R/O GUP pin by A, then B writes the page',
  'MADV_MERGEABLE (KSM) on the shared mapping',
] as const;
export type StateRow = (typeof STATE_ROWS)[number];

export interface StateCell {
  design: string;
  row: StateRow;
  text: string;
}

/** Run `body` on a fresh world and tear it down, checking for leaks; a KernelError becomes "refused: rule". */
function inWorld(d: PtShareDesign, opts: MachineOptions, label: string, body: (w: World) => string): string {
  const w = world(d, opts);
  let text: string;
  try {
    text = body(w);
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    text = `refused: ${ruleOf(e)}`;
  }
  teardownWorld(w, d, label);
  return text;
}

function stateCell(d: PtShareDesign, row: StateRow, kernel?: KernelConfig): StateCell {
  const text = ((): string => {
    switch (row) {
      case STATE_ROWS[0]: return inWorld(d, { kernel }, row, (w) => {
        const { m, a, b } = w;
        m.uffd_register_wp(a, BASE, w.size);
        m.read(a, BASE); // mapped again in A (a design that unshared on registration refaults privately)
        m.uffd_writeprotect(a, BASE, w.step, true);
        const mk0 = m.events.uffdWpMarkers;
        m.madvise_dontneed(a, BASE, 2 * MiB);
        const markers = m.events.uffdWpMarkers - mk0;
        m.read(a, BASE);
        const aw = m.touch(a, BASE, true, 1) === VM_FAULT_RETRY ? "A's write → monitor" : "A's write went through";
        const bw = m.touch(b, BASE, true, 2) === VM_FAULT_RETRY ? "B's write → monitor" : 'B writes freely';
        return `${markers === 1 ? 'kept: the zapped entry became a marker' : `${markers} markers`}; ${aw}; ${bw}`;
      });
      case STATE_ROWS[1]: return inWorld(d, { kernel }, row, (w) => {
        const r = w.m.reclaim_shmem_page(w.files[0]!, 0);
        const ev = w.m.events;
        const kind = ev.flushTlbAll > 0 ? 'global' : 'per mm';
        return `${r.entriesCleared} entr${r.entriesCleared === 1 ? 'y' : 'ies'} in ${r.tablesVisited} table${r.tablesVisited === 1 ? '' : 's'}, ${r.flushes} flush${r.flushes === 1 ? '' : 'es'} (${kind}), ${r.ipis} IPI`;
      });
      case STATE_ROWS[2]: {
        const parts = SHMEM_SWAP_REPORTS.map((v) => inWorld(d, { shmemSwapReport: v, kernel }, row, (w) => {
          w.m.reclaim_shmem_page(w.files[0]!, 0);
          return `0x${w.m.pagemap(w.a, BASE).raw}`;
        }));
        return parts.every((p) => p.startsWith('refused') && p === parts[0]) ? parts[0]! : parts.join(' / ');
      }
      case STATE_ROWS[3]: return inWorld(d, { kernel }, row, (w) => {
        const { m, a, b } = w;
        const f = m.pin(a, BASE, false);
        m.touch(b, BASE, true, 9);
        const sees = m.folios.content[f] === 9 && m.leafFolio(m.follow_page(a, BASE)) === f;
        m.unpin(f);
        return sees ? "no unshare (shared mapping); the pin sees B's write" : "the pin does NOT see B's write";
      });
      case STATE_ROWS[4]: return inWorld(d, { kernel }, row, (w) => {
        const n = w.m.madvise_mergeable(w.a, BASE, w.size);
        return n === 0 ? 'skipped (VM_SHARED/hugetlb: KSM merges private anonymous pages only)' : `${n} VMA(s) mergeable`;
      });
    }
  })();
  return { design: d.name, row, text };
}

export function stateMatrix(designs: readonly PtShareDesign[] = DESIGNS, kernel?: KernelConfig): StateCell[] {
  return designs.flatMap((d) => STATE_ROWS.map((r) => stateCell(d, r, kernel)));
}

export function renderMatrixMarkdown(cells: MatrixCell[], state: StateCell[], kernel: KernelConfig = kernelConfig()): string {
  const designs = [...new Set(cells.map((c) => c.design))];
  /** One markdown table: a row per design, a column per change, `text` of each cell. */
  const table = (text: (x: MatrixCell) => string): string[] => [
    `| design | ${CHANGES.join(' | ')} |`,
    `|---|${CHANGES.map(() => '---').join('|')}|`,
    ...designs.map((d) => `| ${d} | ${CHANGES.map((c) => text(cells.find((x) => x.design === d && x.change === c)!)).join(' | ')} |`),
  ];
  const lines = [
    '# Semantics matrix (generated by `ptbench matrix`; checked by test/workload/semantics_matrix.test.ts)',
    '',
    `Kernel: ${describeKernel(kernel)}.`,
    '',
    'Two processes A and B share a mapping the way each design shares it (hugetlb-pmd: 1 GiB of 2 MiB hugetlb pages; the others: 4 MiB of shmem; threads: two tasks of one mm). A makes the change in the first 2 MiB; the cell says what happened to the sharing. `refused`: the call failed (rule below); `unshares`: A dropped its link to a shared table and refaults privately, B is untouched; `visible`: B\'s page-table entries changed too; `private`: only A\'s entries changed; `no effect`: nothing changed.',
    '',
    ...table((x) => x.outcome),
    '',
    '## pagemap afterwards (last 4 KiB or 2 MiB page of the changed range), A / B',
    '',
    ...table((x) => `${x.pagemapA} / ${x.pagemapB}`),
    '',
    '## TLB flushes the change caused (2 CPUs; A runs on CPU 0, B on CPU 1; hosts never run)',
    '',
    ...table((x) => x.flush),
    '',
    '## Refusals',
    '',
    ...cells.filter((c) => c.rule).map((c) => `- ${c.design}, ${c.change}: ${c.rule}`),
    '',
    '## Per-process state on shared memory',
    '',
    'Same worlds (the first page is 4 KiB, or 2 MiB for hugetlb-pmd); one row per piece of state the neighbouring threads argue about, one column per design. Reclaim flushes: `per mm` = ptep_clear_flush on the mapping mms\' CPUs (and every sharer of a shared table), `global` = flush_tlb_all. pagemap: the raw 64-bit entry under each variant of `MachineOptions.shmemSwapReport` (bit 55 soft-dirty comes from VM_SOFTDIRTY, which a mapping has until clear_refs; mshare\'s process VMA is an msharefs file, so the page-cache lookup has no shmem to ask).',
    '',
    `| | ${designs.join(' | ')} |`,
    `|---|${designs.map(() => '---').join('|')}|`,
    ...STATE_ROWS.map((r) => `| ${r} | ${designs.map((d) => state.find((x) => x.design === d && x.row === r)?.text ?? '').join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}
