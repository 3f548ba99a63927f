/**
 * What `ptbench capture` reads from /proc about a live process: its process tree (the ppid field of
 * /proc/PID/stat), its VMAs with their backing objects (/proc/PID/smaps: the maps line, KernelPageSize,
 * Rss, Swap, the PMD-mapped THP fields and VmFlags), which pages have an entry in its page tables
 * (/proc/PID/pagemap), and its VmPTE (/proc/PID/status). The file systems behind device numbers come
 * from /proc/PID/mountinfo.
 *
 * pagemap (Documentation/admin-guide/mm/pagemap.rst): one 64-bit entry per 4 KiB page; bit 63 present,
 * 62 swapped (or a migration entry), 61 file page or shared anonymous, 58 guard region (6.15), 57
 * uffd-wp (a PTE marker when neither present nor swapped). Any of 63, 62, 58, 57 means the page has a
 * non-none entry, so its PTE table exists.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { UsageError } from '../../lib/errors.js';

export interface ProcVma {
  start: number;
  end: number;
  /** r, w, x and s/p, as in maps. */
  perms: string;
  /** File offset in bytes. */
  offset: number;
  /** "major:minor" in hex, as in maps. */
  dev: string;
  inode: number;
  /** The pathname column ('' for anonymous memory). */
  path: string;
  kernelPageSize: number;
  rssBytes: number;
  swapBytes: number;
  /** AnonHugePages + ShmemPmdMapped + FilePmdMapped: THP mapped by PMD entries (no PTE table). */
  thpPmdBytes: number;
  vmFlags: string[];
}

export interface PageRuns {
  /** Runs [first page, count] of pages with a non-none entry, in units of the VMA's page size. */
  read: Array<[number, number]>;
  /** The same for anonymous pages of a private mapping (written: private anonymous memory or COW copies). */
  write: Array<[number, number]>;
  /** Runs of the pages that are swapped out (also in read or write). */
  swappedRuns: Array<[number, number]>;
  present: number;
  swapped: number;
  /** Entries that are PTE markers only (uffd-wp or guard region). */
  markers: number;
}

export interface ProcStatus {
  comm: string;
  tgid: number;
  ppid: number;
  /** null: no mm (a kernel thread, or a zombie). */
  vmPTEBytes: number | null;
}

/** ENOENT / ESRCH: the process is gone. */
export function isGone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

export function readStatus(pid: number): ProcStatus {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(text)?.[1];
  const pte = field('VmPTE');
  return { comm: field('Name') ?? '?', tgid: Number(field('Tgid')), ppid: Number(field('PPid')), vmPTEBytes: pte === undefined ? null : Number.parseInt(pte, 10) * 1024 };
}

/** pid and its descendants, parents before children (breadth first), from every /proc/PID/stat. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []).sort((a, b) => a - b));
  return out;
}

const SMAPS_HEAD = /^([0-9a-f]+)-([0-9a-f]+) ([-rwxsp]{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/;

/** Parse /proc/PID/smaps text. */
export function parseSmaps(text: string): ProcVma[] {
  const out: ProcVma[] = [];
  let v: ProcVma | null = null;
  for (const line of text.split('\n')) {
    const h = SMAPS_HEAD.exec(line);
    if (h) {
      v = {
        start: Number.parseInt(h[1]!, 16), end: Number.parseInt(h[2]!, 16), perms: h[3]!, offset: Number.parseInt(h[4]!, 16), dev: h[5]!, inode: Number(h[6]),
        path: h[7]!, kernelPageSize: 4096, rssBytes: 0, swapBytes: 0, thpPmdBytes: 0, vmFlags: [],
      };
      out.push(v);
      continue;
    }
    if (v === null) continue;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon);
    const rest = line.slice(colon + 1).trim();
    const kb = () => Number.parseInt(rest, 10) * 1024;
    if (key === 'KernelPageSize') v.kernelPageSize = kb();
    else if (key === 'Rss') v.rssBytes = kb();
    else if (key === 'Swap') v.swapBytes = kb();
    else if (key === 'AnonHugePages' || key === 'ShmemPmdMapped' || key === 'FilePmdMapped') v.thpPmdBytes += kb();
    else if (key === 'VmFlags') v.vmFlags = rest.split(/\s+/).filter((x) => x.length > 0);
  }
  return out;
}

/** "major:minor" (hex, as in maps) -> file system type, from /proc/PID/mountinfo. */
export function mountTypes(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the type follows " - ".
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (f.length < 3 || sep < 0) continue;
    const [maj, min] = f[2]!.split(':').map(Number);
    out.set(`${maj!.toString(16).padStart(2, '0')}:${min!.toString(16).padStart(2, '0')}`, f[sep + 1]!);
  }
  return out;
}

/** Open /proc/PID/pagemap; a UsageError (one line) when the caller may not read it. */
export function openPagemap(pid: number, comm: string): number {
  try {
    return openSync(`/proc/${pid}/pagemap`, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      const hint = process.getuid?.() === 0 ? 'even root may not read it (the process is not dumpable, or lives in another user namespace)' : 'capture a process of your own user, or run as root';
      throw new UsageError(`cannot read /proc/${pid}/pagemap (${comm}): permission denied; ${hint}`, 'EACCES');
    }
    throw e;
  }
}

const CHUNK = 1 << 16; // entries per read: 512 KiB
const buf = Buffer.alloc(CHUNK * 8);
const words = new Uint32Array(buf.buffer, buf.byteOffset, CHUNK * 2);
const PRESENT = 0x80000000;
const SWAPPED = 0x40000000;
const FILE = 0x20000000;
const MARKER = 0x04000000 | 0x02000000; // guard region (58), uffd-wp (57)

/**
 * The pages of `v` that have an entry, read from an open pagemap. A private mapping's anonymous pages
 * (bit 61 clear) are `write`, everything else `read`; a huge page counts once, when any of its 4 KiB
 * entries is set.
 */
export function pageRuns(fd: number, v: ProcVma): PageRuns {
  const r: PageRuns = { read: [], write: [], swappedRuns: [], present: 0, swapped: 0, markers: 0 };
  const per = v.kernelPageSize / 4096;
  const priv = v.perms[3] === 'p';
  const push = (runs: Array<[number, number]>, page: number) => {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === page) last[1]++;
    else if (last === undefined || last[0] + last[1] - 1 !== page) runs.push([page, 1]);
  };
  const first = v.start / 4096;
  const n = (v.end - v.start) / 4096;
  for (let at = 0; at < n; at += CHUNK) {
    const count = Math.min(CHUNK, n - at);
    let got = 0;
    while (got < count * 8) {
      const k = readSync(fd, buf, got, count * 8 - got, (first + at) * 8 + got);
      if (k === 0) break;
      got += k;
    }
    for (let i = 0; i < got / 8; i++) {
      const hi = words[2 * i + 1]!;
      if ((hi & (PRESENT | SWAPPED | MARKER)) === 0) continue;
      if ((hi & PRESENT) !== 0) r.present++;
      else if ((hi & SWAPPED) !== 0) {
        r.swapped++;
        push(r.swappedRuns, Math.floor((at + i) / per));
      }
      else r.markers++;
      const anon = priv && (hi & FILE) === 0 && (hi & (PRESENT | SWAPPED)) !== 0;
      push(anon ? r.write : r.read, Math.floor((at + i) / per));
    }
  }
  return r;
}

export function closePagemap(fd: number): void {
  closeSync(fd);
}
