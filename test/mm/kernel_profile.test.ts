/**
 * The PGD's size and whether PageTables counts it, per kernel profile and PTI.
 *
 * - Linux 6.12, arch/x86/include/asm/pgalloc.h: PGD_ALLOCATION_ORDER is 1 whenever the kernel is
 *   built with CONFIG_MITIGATION_PAGE_TABLE_ISOLATION (x86-64 default y), PTI active or not, so every
 *   PGD is 8 KiB. _pgd_alloc() takes it from __get_free_pages(), so PageTables leaves it out.
 * - Linux 6.15 (commit 4ce385f56434, also 6.14.y stable): pgd_allocation_order() is 1 only when
 *   cpu_feature_enabled(X86_FEATURE_PTI): 4 KiB on a CPU without PTI, 8 KiB with it.
 * - Linux 6.14 (commit 68c601de75d8): __pgd_alloc() calls pagetable_pgd_ctor(), which adds the PGD's
 *   pages to NR_PAGETABLE: PageTables counts it.
 * - VmPTE (mm_pgtables_bytes) counts PTE, PMD and PUD tables only, on every version.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { machineAccounting, mmAccounting } from '../../src/mm/accounting.js';
import { UsageError } from '../../src/lib/errors.js';
import { kernelConfig } from '../../src/mm/kernel_profile.js';
import { kernelFromOptions } from '../../src/cli/options/kernel.js';
import { kernelDifferences } from '../../src/harness/compare.js';
import { designByName } from '../../src/share/index.js';
import { countScenario } from '../../src/workload/pgtable_count.js';
import { memReport } from '../../src/workload/mem_report.js';
import { sgaScenario, type SgaScenario } from '../../src/workload/sga.js';
import type { ResultsFile } from '../../src/harness/types.js';
import { BASE, GiB, machine, mapAnon, touchAll } from '../helpers.js';

/** One process writing 1 GiB of private anonymous memory: 512 PTE + 1 PMD + 1 PUD tables and the PGD. */
function oneGiB(kernel: ReturnType<typeof kernelConfig>) {
  const m = machine({ kernel });
  const mm = m.mm_alloc();
  mapAnon(m, mm, BASE, GiB);
  touchAll(m, mm, BASE, GiB, true);
  return { mm: mmAccounting(m, mm), machine: machineAccounting(m) };
}

describe('PGD size: 8 KiB on 6.12 (PTI built in), 4 KiB on 6.18 unless PTI is active', () => {
  it('6.18, PTI inactive: (514 x 4,096) + 4,096 = 2,109,440 B', () => {
    const k = kernelConfig('6.18');
    assert.equal(k.pgdBytes, 4096);
    const a = oneGiB(k);
    assert.equal(a.mm.pageTableBytes, 514 * 4096 + 4096);
    assert.equal(a.mm.vmPTEBytes, 514 * 4096);
  });

  it('6.18, PTI active: (514 x 4,096) + 8,192 = 2,113,536 B; VmPTE unchanged', () => {
    const k = kernelConfig('6.18', { pti: true });
    assert.equal(k.pgdBytes, 8192);
    const a = oneGiB(k);
    assert.equal(a.mm.pageTableBytes, 514 * 4096 + 8192);
    assert.equal(a.machine.pageTableBytes, 514 * 4096 + 8192);
    assert.equal(a.mm.vmPTEBytes, 514 * 4096);
  });

  it('6.12: 8 KiB with PTI inactive too (PGD_ALLOCATION_ORDER follows the config, not the CPU)', () => {
    assert.equal(kernelConfig('6.12').pgdBytes, 8192);
    assert.equal(kernelConfig('6.12', { pti: true }).pgdBytes, 8192);
    assert.equal(oneGiB(kernelConfig('6.12')).mm.pageTableBytes, 514 * 4096 + 8192);
  });

  it('PageTables counts the PGD from 6.14 only', () => {
    assert.equal(kernelConfig('6.12').pgdInPageTables, false);
    assert.equal(kernelConfig('6.18').pgdInPageTables, true);
  });

  it('the counting engine prices the PGD the same way: 16 processes x 1 GiB, private and ptshare, 6.12', () => {
    const kernel = kernelConfig('6.12');
    for (const name of ['private', 'ptshare']) {
      const s: SgaScenario = { design: designByName(name), procs: 16, size: GiB, kind: 'shmem', page: '4k', offset: 0, touch: 'all', write: true, levels: 4, kernel };
      const counted = memReport(s, 'count');
      const built = memReport(s, 'materialize');
      assert.equal(counted.pageTableBytes, built.pageTableBytes, name);
      assert.deepEqual(counted.processes.map((p) => p.pageTableBytes), [...new Set(built.processes.map((p) => p.pageTableBytes))], name);
    }
    // private: 16 x (514 x 4,096 + 8,192) = 16 x 2,113,536 = 33,816,576 B.
    assert.equal(countScenario(sgaScenario({ design: designByName('private'), procs: 16, size: GiB, kind: 'shmem', page: '4k', offset: 0, touch: 'all', write: true, levels: 4, kernel }).scenario).pageTableBytes, 33_816_576);
  });
});

describe('--pti on|off', () => {
  it('parses on and off, and rejects anything else with the option named', () => {
    assert.equal(kernelFromOptions({ pti: 'on' }).pti, true);
    assert.equal(kernelFromOptions({ pti: 'off' }).pgdBytes, 4096);
    assert.throws(() => kernelFromOptions({ pti: 'yes' }), (e: unknown) => e instanceof UsageError && /--pti: 'yes' is not on or off/.test(e.message));
  });

  it('compare names a PTI or PGD-size difference; files from before the knob count as PTI off, 4 KiB PGD', () => {
    const file = (kernel: ResultsFile['config']['kernel']) => ({ config: { kernel } }) as ResultsFile;
    assert.deepEqual(kernelDifferences(file(kernelConfig('6.18')), file(kernelConfig('6.18', { pti: true }))), ['PTI off vs on', 'PGD 4 KiB vs 8 KiB']);
    assert.deepEqual(kernelDifferences(file({ profile: '6.18', ptReclaim: true }), file(kernelConfig('6.18'))), []);
  });
});
