/**
 * Replay of a recorded program (a valgrind lackey trace) under the TLB model: `procs` copies of the
 * program, each an mm of its own, run every slice of the trace in turn, copy p on simulated CPU
 * p mod cpus. A trace carries accesses but no mappings, so memory is mapped on demand: an access
 * that raises SIGSEGV maps the 2 MiB window around it as private anonymous memory and retries (the
 * window is clipped to start at mmap_min_addr, where PIE programs under valgrind start: 0x108000);
 * an access below mmap_min_addr stays a SIGSEGV and is dropped, as the signal would end the real
 * program.
 */
import { Machine } from '../../mm/machine.js';
import { MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MMAP_MIN_ADDR, PROT_READ, PROT_WRITE } from '../../mm/mmap.js';
import type { MmStruct } from '../../mm/mm_types.js';
import type { CpuProfile } from '../../tlb/cpu_profile.js';
import { readLackeyTrace, type TraceCounts } from './lackey.js';
import { Mmu } from '../../tlb/mmu.js';
import type { KernelConfig } from '../../mm/kernel_profile.js';

/** Defaults of a replay, shared by `ptbench tlb --trace` and the bench task. */
export const TRACE_DEFAULTS = { procs: 1, cpus: 1, quantum: 4096 } as const;

/** The window mapped around an address that faulted with no mapping. */
const WINDOW = 2 ** 21;

export interface ReplayMachineOptions {
  profile: CpuProfile;
  /** Copies of the traced program (one mm each). */
  procs: number;
  cpus: number;
  llcPtBytes?: number;
  pcid?: boolean;
  /** Machine capacity: page-table pages and page frames (defaults fit a few GiB of touched memory). */
  ptPages?: number;
  frames?: number;
  /** The kernel simulated (default kernelConfig()). */
  kernel?: KernelConfig;
}

export class TraceReplay {
  readonly m: Machine;
  readonly mms: MmStruct[];
  readonly mmu: Mmu;
  /** Windows mapped on demand, over all copies. */
  windowsMapped = 0;

  constructor(o: ReplayMachineOptions) {
    this.m = new Machine({ cpus: o.cpus, ptPages: o.ptPages ?? 16384, frames: o.frames ?? 262144, kernel: o.kernel });
    const m = this.m;
    this.mms = Array.from({ length: o.procs }, () => m.mm_alloc());
    this.mmu = new Mmu(m, { profile: o.profile, cpus: o.cpus, llcPtBytes: o.llcPtBytes, pcid: o.pcid }).attach(); // clears their cpumasks
    this.mmu.segvHandler = (mm, va) => {
      if (va < MMAP_MIN_ADDR) return false;
      const window = Math.floor(va / WINDOW) * WINDOW;
      const start = Math.max(MMAP_MIN_ADDR, window);
      const end = window + WINDOW;
      if (end > m.mode.taskSize || mm.find_vma(va) !== null) return false;
      m.mmap(mm, { addr: start, length: end - start, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE });
      this.windowsMapped++;
      return true;
    };
  }

  /** One slice of the trace (`n` accesses; 1 in `writes` for a store): every copy runs it in turn. */
  slice(addrs: Float64Array, writes: Uint8Array, n: number): void {
    const mmu = this.mmu;
    const cpus = mmu.cpu.length;
    for (let p = 0; p < this.mms.length; p++) {
      const cpu = p % cpus;
      mmu.switchTo(cpu, this.mms[p]!);
      mmu.run(cpu, addrs, writes, n);
    }
  }

  /** Replay a whole decoded trace, slice by slice as `ptbench tlb --trace` feeds the model from the file. */
  replay(t: DecodedTrace, quantum: number): void {
    const n = t.addrs.length;
    for (let at = 0; at < n; at += quantum) this.slice(t.addrs.subarray(at), t.writes.subarray(at), Math.min(quantum, n - at));
  }

  /** Detach the model and let every copy exit; returns what the machine's leak check finds. */
  close(): string[] {
    this.mmu.detach();
    for (const mm of this.mms) if (!mm.dead) this.m.exit(mm);
    return this.m.leakCheck();
  }
}

/** A whole lackey trace decoded into memory, in the slices a replay feeds the model. */
export interface DecodedTrace {
  counts: TraceCounts;
  addrs: Float64Array;
  writes: Uint8Array;
}

/** Read a whole trace into memory (the bench task times the replay, not the reading). */
export async function decodeTrace(path: string, quantum: number): Promise<DecodedTrace> {
  const a: Float64Array[] = [];
  const w: Uint8Array[] = [];
  const counts = await readLackeyTrace(path, quantum, (addrs, writes, n) => {
    a.push(addrs.slice(0, n));
    w.push(writes.slice(0, n));
  });
  const addrs = new Float64Array(counts.translations);
  const writes = new Uint8Array(counts.translations);
  let at = 0;
  for (let i = 0; i < a.length; i++) {
    addrs.set(a[i]!, at);
    writes.set(w[i]!, at);
    at += a[i]!.length;
  }
  return { counts, addrs, writes };
}
