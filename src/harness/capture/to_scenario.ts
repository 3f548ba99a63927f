/**
 * A capture as a scenario file (schema/ptbench-scenario-1.schema.json) that `ptbench run` replays:
 * one spawned process per captured process, its VMAs mapped at their addresses, and the pages that had
 * an entry touched (page runs), in that order; then one snapshot.
 *
 * - Objects by identity: every VMA of a file or shmem is an object named by its file and device:inode, so
 *   processes that map the same file, shmem segment, memfd or MAP_SHARED anonymous region share it.
 *   Its kind: hugetlb when the VMA's KernelPageSize is above 4 KiB; shmem when the device is a tmpfs
 *   mount or the kernel's internal shmem mount (MAP_SHARED anonymous, SysV, memfd); a file otherwise.
 *   The object of MAP_SHARED anonymous memory ("/dev/zero (deleted)") is marked `anonymous`: its
 *   processes share it by inheriting the VMA through fork, which a design may treat differently.
 * - Pages: a private mapping's anonymous pages are written, others read; a MAP_SHARED mapping that is
 *   writable is written. A swapped page is touched like a present one (its swap entry occupies the same
 *   PTE slot, so the tables are the same; the model does not swap anonymous memory); `captured.swapped`
 *   lists them.
 * - Protection: a VMA is mapped with what its touches need and then mprotected to its captured
 *   protection (how a process gets present pages under PROT_NONE or written pages in a read-only VMA).
 * - Left out, with a note: [vsyscall] (kernel address space), VM_PFNMAP/VM_IO mappings (pagemap does not
 *   walk them, so their entries are not visible) and MAP_PRIVATE hugetlb (not modelled).
 *
 * `place`: designs that require shared mappings at aligned regions (PtShareDesign.sharedRegionAlign,
 * mshare's 512 GiB) get each MAP_SHARED object moved to a region of its own at the lowest free aligned
 * address, mapped whole there by every process that maps any of it: what an application adopting that
 * design would do.
 */
import type { KernelSetting } from '../../mm/kernel_profile.js';
import { basename } from 'node:path';
import type { ProcVma, PageRuns } from './proc.js';

export interface CapturedVma extends ProcVma {
  runs: PageRuns;
}

export interface CapturedProcess {
  pid: number;
  comm: string;
  ppid: number;
  vmas: CapturedVma[];
  /** Measured: VmPTE from /proc/PID/status right after its pagemap was read. */
  actualVmPTEBytes: number;
}

export interface CaptureNote {
  pid: number;
  what: 'vsyscall' | 'pfnmap' | 'private-hugetlb';
  bytes: number;
}

type Json = Record<string, unknown>;

const SHMEM_FS = new Set(['tmpfs', 'shmem', 'ramfs', 'devtmpfs']);

/** The scenario's process-group name of a captured process. */
export function procName(p: Pick<CapturedProcess, 'pid' | 'comm'>): string {
  return `${p.comm}[${p.pid}]`;
}

/**
 * Whether a VMA maps an object (a file, or shmem: any MAP_SHARED mapping is backed by one). The inode
 * column alone does not say: a SysV segment shows its shmid there, which may be 0.
 */
function isObject(v: ProcVma): boolean {
  return v.inode !== 0 || v.perms[3] === 's' || v.path.startsWith('/');
}

function objectKey(v: ProcVma): string {
  return v.inode !== 0 ? `${v.dev}:${v.inode}` : `${v.dev}:0:${v.path}`;
}

/** MAP_SHARED | MAP_ANONYMOUS memory (shmem_zero_setup()), named with PR_SET_VMA_ANON_NAME or not. */
function isSharedAnon(v: ProcVma): boolean {
  return v.path === '/dev/zero (deleted)' || v.path.startsWith('[anon_shmem:');
}

function objectName(v: ProcVma): string {
  const base = isSharedAnon(v) ? 'shared-anon' : v.path === '' ? 'inode' : basename(v.path.replace(/ \(deleted\)$/, ''));
  return `${base}@${v.dev}:${v.inode}`;
}

function objectKind(v: ProcVma, fsType: Map<string, string>): 'shmem' | 'file' | 'hugetlb' {
  if (v.kernelPageSize > 4096) return 'hugetlb';
  const fs = fsType.get(v.dev);
  if (fs !== undefined) return SHMEM_FS.has(fs) ? 'shmem' : fs === 'hugetlbfs' ? 'hugetlb' : 'file';
  // Not a mount of this namespace: the kernel's internal shmem mount (MAP_SHARED anonymous, SysV, memfd).
  return v.dev.startsWith('00:') ? 'shmem' : 'file';
}

/** Why a VMA is not replayed, or null. */
export function leftOut(v: ProcVma): CaptureNote['what'] | null {
  if (v.path === '[vsyscall]') return 'vsyscall';
  if (v.vmFlags.includes('pf') || v.vmFlags.includes('io')) return 'pfnmap';
  if (v.kernelPageSize > 4096 && v.perms[3] === 'p') return 'private-hugetlb';
  return null;
}

function prot(r: boolean, w: boolean, x: boolean): string {
  if (w) return x ? 'rwx' : 'rw';
  if (r || x) return x ? 'rx' : 'r';
  return 'none';
}

const hexAddr = (n: number) => `0x${n.toString(16)}`;

export interface ScenarioOptions {
  kernel: string;
  date: string;
  command: string;
  fsType: Map<string, string>;
  /** The kernel configuration the capture is predicted under, recorded so that a replay uses it. */
  config?: KernelSetting;
  /** Move MAP_SHARED objects to regions of this alignment (see the module comment). */
  place?: { align: number; taskSize: number };
}

/** The scenario file (JSON, schema-valid), and the VMAs left out. Throws a message when `place` finds no room. */
export function captureScenario(procs: CapturedProcess[], o: ScenarioOptions): { scenario: Json; notes: CaptureNote[] } {
  const objects: Record<string, { kind: string; size: number; pagesize?: string; anonymous?: boolean }> = {};
  const names = new Map<string, string>();
  const notes: CaptureNote[] = [];
  const kept = procs.map((p) => p.vmas.filter((v) => {
    const why = leftOut(v);
    if (why !== null) notes.push({ pid: p.pid, what: why, bytes: v.end - v.start });
    return why === null;
  }));
  kept.forEach((vmas) => {
    for (const v of vmas) {
      if (!isObject(v)) continue;
      const key = objectKey(v);
      let name = names.get(key) ?? objectName(v);
      // Two objects may show the same name (inode 0 of two SysV segments on one device): keep both.
      if (!names.has(key)) while ([...names.values()].includes(name)) name += '+';
      names.set(key, name);
      const kind = objectKind(v, o.fsType);
      const page = v.kernelPageSize;
      const size = Math.ceil((v.offset + v.end - v.start) / page) * page;
      const prev = objects[name];
      objects[name] = {
        kind, size: Math.max(size, prev?.size ?? 0), ...(kind === 'hugetlb' ? { pagesize: page === 2 ** 30 ? '1GiB' : '2MiB' } : {}),
        ...(kind === 'shmem' && isSharedAnon(v) ? { anonymous: true } : {}),
      };
    }
  });
  // Regions for the objects mapped MAP_SHARED, when the design needs them aligned.
  const base = new Map<string, number>();
  if (o.place !== undefined) {
    const { align, taskSize } = o.place;
    const used = new Set<number>();
    for (const vmas of kept) for (const v of vmas) for (let b = Math.floor(v.start / align); b <= Math.floor((v.end - 1) / align); b++) used.add(b);
    let next = 1;
    for (const vmas of kept) {
      for (const v of vmas) {
        const name = isObject(v) ? names.get(objectKey(v))! : undefined;
        if (name === undefined || v.perms[3] !== 's' || base.has(name)) continue;
        const blocks = Math.ceil(objects[name]!.size / align);
        while ([...Array(blocks).keys()].some((k) => used.has(next + k))) next++;
        if ((next + blocks) * align > taskSize) throw new Error(`no free ${align / 2 ** 30} GiB-aligned region left below ${hexAddr(taskSize)} for ${name}`);
        base.set(name, next * align);
        for (let k = 0; k < blocks; k++) used.add(next + k);
        next += blocks;
      }
    }
  }
  const timeline: Json[] = [];
  procs.forEach((p, i) => {
    const proc = procName(p);
    timeline.push({ op: 'spawn', name: proc, count: 1 });
    const touches: Json[] = [];
    const protects: Json[] = [];
    const placed = new Set<string>();
    for (const v of kept[i]!) {
      const name = isObject(v) ? names.get(objectKey(v))! : undefined;
      const shared = v.perms[3] === 's';
      const writable = v.perms[1] === 'w';
      const reads = shared && writable ? [] : v.runs.read;
      const writes = shared && writable ? v.runs.read : v.runs.write;
      const at = name !== undefined && shared ? base.get(name) : undefined;
      if (at !== undefined) {
        // The whole object, once per process, at its region; pages at their file offsets.
        if (!placed.has(name!)) {
          placed.add(name!);
          const len = objects[name!]!.size;
          const w = kept[i]!.some((x) => x.perms[3] === 's' && x.perms[1] === 'w' && isObject(x) && names.get(objectKey(x)) === name);
          timeline.push({ op: 'mmap', proc, object: name, addr: hexAddr(at), length: len, flags: 'shared', prot: w ? 'rw' : 'r' });
        }
        const shift = v.offset / v.kernelPageSize;
        const len = objects[name!]!.size;
        for (const [runs, write] of [[reads, false], [writes, true]] as const) {
          if (runs.length > 0) touches.push({ op: 'touch', proc, addr: hexAddr(at), length: len, write, pattern: 'pages', pages: runs.map(([f, n]) => [f + shift, n]) });
        }
        continue;
      }
      const final = prot(v.perms[0] === 'r', writable, v.perms[2] === 'x');
      const need = prot(v.perms[0] === 'r' || reads.length > 0 || writes.length > 0, writable || writes.length > 0, v.perms[2] === 'x');
      const len = v.end - v.start;
      timeline.push({ op: 'mmap', proc, addr: hexAddr(v.start), length: len, ...(name === undefined ? {} : { object: name, offset: v.offset }), flags: shared ? 'shared' : 'private', prot: need });
      for (const [runs, write] of [[reads, false], [writes, true]] as const) {
        if (runs.length > 0) touches.push({ op: 'touch', proc, addr: hexAddr(v.start), length: len, write, pattern: 'pages', pages: runs });
      }
      if (need !== final) protects.push({ op: 'mprotect', proc, addr: hexAddr(v.start), length: len, prot: final });
    }
    timeline.push(...touches, ...protects);
  });
  timeline.push({ op: 'snapshot', label: 'captured' });
  // Swapped pages are touched like present ones (the same PTE slot, the same tables); the file says which.
  const swapped = procs.flatMap((p, i) => kept[i]!.filter((v) => v.runs.swappedRuns.length > 0)
    .map((v) => ({ proc: procName(p), addr: hexAddr(v.start), pages: v.runs.swappedRuns })));
  const root = procs[0]!;
  const scenario: Json = {
    description: `captured from ${procName(root)}${procs.length > 1 ? ` and ${procs.length - 1} descendant${procs.length > 2 ? 's' : ''}` : ''} on Linux ${o.kernel}${o.place ? `, shared objects moved to ${o.place.align / 2 ** 30} GiB-aligned regions` : ''}`,
    source: o.command,
    ...(o.config ? { kernel: { profile: o.config.profile, pti: o.config.pti, ptReclaim: o.config.ptReclaim } } : {}),
    captured: { kernel: o.kernel, date: o.date, pids: procs.map((p) => p.pid), ...(swapped.length > 0 ? { swapped } : {}) },
    objects,
    timeline,
  };
  return { scenario, notes };
}
