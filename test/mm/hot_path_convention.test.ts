/**
 * The hot-path convention (docs/architecture.md, "Hot paths"): files on the fault, fork and walk paths
 * copy the imported constants they use into module-local consts, which V8 folds into compiled code. A
 * copy is only right while it copies what its name says: `const _PAGE_RW = pgtable_types._PAGE_RW`.
 * This test reads each such file and checks every copy names its source, from a module it imports,
 * and that a literal it writes out by hand equals the exported constant of the same name.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import * as geometry from '../../src/arch/pgtable_64_types.js';
import * as pgtable_types from '../../src/arch/pgtable_types.js';
import * as folio_flags from '../../src/mm/folio.js';
import * as mm_counters from '../../src/mm/mm_types.js';
import * as vm_flags from '../../src/mm/vma.js';

const MARK = 'the hot-path convention (docs/architecture.md';
const exported: Record<string, unknown> = { ...geometry, ...pgtable_types, ...folio_flags, ...mm_counters, ...vm_flags };

function hotFiles(): string[] {
  const out: string[] = [];
  for (const dir of ['src/mm', 'src/tlb', 'src/harness']) {
    for (const f of readdirSync(dir)) if (f.endsWith('.ts') && readFileSync(join(dir, f), 'utf8').includes(MARK)) out.push(join(dir, f));
  }
  return out;
}

test('hot files say they follow the convention, and each local copy copies the constant it is named after', () => {
  const files = hotFiles();
  // The fault walk, COW, fork copy, zap, mprotect, hugetlb, rmap, page cache and table allocation.
  assert.ok(files.length >= 12, files.join(', '));
  let copies = 0;
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const namespaces = new Set([...text.matchAll(/^import \* as (\w+) from '[^']+';$/gm)].map((m) => m[1]!));
    for (const m of text.matchAll(/^const (\w+) = (\w+)\.(\w+);$/gm)) {
      const [, local, ns, name] = m;
      if (!namespaces.has(ns!)) continue; // a property of a local object, not an imported binding
      assert.equal(local, name, `${f}: const ${local} copies ${ns}.${name}`);
      copies++;
    }
    // A constant written out by hand under an exported name must have the exported value.
    for (const m of text.matchAll(/^const (\w+) = ([0-9x ()*<|+-]+);$/gm)) {
      const [, local, expr] = m;
      if (!(local! in exported)) continue;
      assert.equal(Function(`return (${expr});`)(), exported[local!], `${f}: const ${local} = ${expr}`);
    }
  }
  assert.ok(copies >= 60, `only ${copies} copies found`);
});
