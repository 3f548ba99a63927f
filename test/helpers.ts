import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { _PAGE_RW } from '../src/arch/pgtable_types.js';
import { Machine, type MachineOptions } from '../src/mm/machine.js';
import type { MmStruct } from '../src/mm/mm_types.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../src/mm/mmap.js';
import type { AddressSpace } from '../src/mm/address_space.js';

export const KiB = 1024;
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
/** A 512 GiB-aligned (hence 1 GiB- and 2 MiB-aligned) user address: 0x7f0000000000. */
export const BASE = 0x7f0000000000;
export const RW = PROT_READ | PROT_WRITE;

export function machine(opts: MachineOptions = {}): Machine {
  return new Machine({ ptPages: 20000, frames: 600000, ...opts });
}

export function mapShared(m: Machine, mm: MmStruct, file: AddressSpace, addr: number, len: number, prot = RW): number {
  return m.mmap(mm, { addr, length: len, prot, flags: MAP_SHARED | MAP_FIXED, file });
}

export function mapAnon(m: Machine, mm: MmStruct, addr: number, len: number, prot = RW): number {
  return m.mmap(mm, { addr, length: len, prot, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
}

/** Touch every `step` bytes of [start, start+len); assert no access fails. */
export function touchAll(m: Machine, mm: MmStruct, start: number, len: number, write: boolean, step = 4096): void {
  for (let a = start; a < start + len; a += step) {
    const r = m.touch(mm, a, write);
    if (r !== 0) assert.fail(`touch 0x${a.toString(16)} failed with ${r}`);
  }
}

/** Count present leaf entries over a range, and how many of them are writable. */
export function leafStats(m: Machine, mm: MmStruct, start: number, len: number, step = 4096): { present: number; writable: number } {
  let present = 0;
  let writable = 0;
  for (let a = start; a < start + len; a += step) {
    const off = m.follow_page(mm, a);
    if (!m.leafPresent(off)) continue;
    present++;
    if ((m.pool.entries[off]! & _PAGE_RW) !== 0) writable++;
  }
  return { present, writable };
}

export function folioAt(m: Machine, mm: MmStruct, addr: number): number {
  const off = m.follow_page(mm, addr);
  assert.ok(m.leafPresent(off), `no page mapped at 0x${addr.toString(16)}`);
  return m.leafFolio(off);
}

export function assertClean(m: Machine): void {
  assert.deepEqual(m.leakCheck(), []);
}

/** A fresh temporary directory, removed with everything in it when the test file's tests are done. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
