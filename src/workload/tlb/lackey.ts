/**
 * Streaming reader of valgrind lackey traces (`valgrind --tool=lackey --trace-mem=yes`): lines
 * `I  addr,size` (instruction fetch), ` L addr,size` (load), ` S addr,size` (store) and
 * ` M addr,size` (modify: a load and a store of the same bytes), hex addresses without 0x, and
 * valgrind's own `==pid==` lines, which are skipped. gzip-compressed traces (.gz) are inflated on the
 * fly. The file is read in chunks and parsed byte by byte into typed-array batches, so a trace of any
 * size runs in constant memory.
 *
 * Data accesses become translations: a load is a read, a store or modify a write (one translation,
 * as the CPU checks write permission once); an access whose bytes cross a 4 KiB boundary translates
 * both pages. Instruction fetches are counted and skipped (no instruction TLB is modelled).
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { TraceError, UsageError } from '../../lib/errors.js';

export interface TraceCounts {
  lines: number;
  instructionFetches: number;
  loads: number;
  stores: number;
  modifies: number;
  /** Accesses whose bytes span two pages (translated twice). */
  pageCrossings: number;
  /** Translations emitted (loads + stores + modifies + page crossings). */
  translations: number;
}

const EXPECTED = "expected '<I|L|S|M> <hex address>,<decimal size>' (valgrind lackey --trace-mem=yes)";
/** Addresses above 2^57 cannot be user addresses on x86-64 (even with LA57). */
const ADDR_LIMIT = 2 ** 57;

/**
 * Read `path` and hand translations to `onBatch` in batches of up to `batch` (addresses and 1 for a
 * store). Resolves with the counts; rejects with TraceError naming the line of the first bad line, or
 * saying the trace holds no data accesses
 * (after handing over every translation before it), or with a UsageError for a missing file.
 */
export async function readLackeyTrace(path: string, batch: number, onBatch: (addrs: Float64Array, writes: Uint8Array, n: number) => void): Promise<TraceCounts> {
  try {
    const st = await fsp.stat(path);
    if (!st.isFile()) throw new UsageError(`--trace ${path}: not a regular file`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--trace ${path}: no such file (record one with test/fixtures/lackey/record.sh)`);
  }
  const fd = await fsp.open(path, 'r');
  const magic = Buffer.alloc(2);
  await fd.read(magic, 0, 2, 0);
  await fd.close();
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  const input = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  const gzip = input !== raw;
  const p = new LackeyParser(batch, onBatch);
  const chunks = input[Symbol.asyncIterator]();
  try {
    for (;;) {
      // Only reading (and inflating) is reported as a problem of the file: an error of the parser
      // or of the model the batches run through (onBatch) goes up as it is.
      let next: IteratorResult<unknown>;
      try {
        next = await chunks.next();
      } catch (e) {
        throw new UsageError(`--trace ${path}: ${(e as Error).message}${gzip ? ' (a corrupt or truncated gzip file?)' : ''}`);
      }
      if (next.done === true) break;
      p.push(next.value as Buffer);
    }
    p.end();
  } finally {
    raw.destroy();
  }
  const c = p.counts;
  if (c.loads + c.stores + c.modifies === 0) {
    throw new TraceError(`--trace ${path}: the trace holds no data accesses (${c.lines} line(s), ${c.instructionFetches} instruction fetch(es)); record one with valgrind --tool=lackey --trace-mem=yes (test/fixtures/lackey/record.sh)`);
  }
  return c;
}

/** The byte-level parser (exported for tests). */
export class LackeyParser {
  readonly counts: TraceCounts = { lines: 0, instructionFetches: 0, loads: 0, stores: 0, modifies: 0, pageCrossings: 0, translations: 0 };
  private readonly addrs: Float64Array;
  private readonly writes: Uint8Array;
  private n = 0;
  /** Bytes of an unfinished line carried over from the previous chunk. */
  private carry: Buffer = Buffer.alloc(0);

  constructor(private readonly batch: number, private readonly onBatch: (addrs: Float64Array, writes: Uint8Array, n: number) => void) {
    if (!Number.isInteger(batch) || batch < 2) throw new RangeError(`batch must be >= 2, got ${batch}`);
    this.addrs = new Float64Array(batch);
    this.writes = new Uint8Array(batch);
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry.length > 0) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = Buffer.alloc(0);
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) break;
      this.line(buf, start, nl);
      start = nl + 1;
    }
    if (start < buf.length) this.carry = Buffer.from(buf.subarray(start));
  }

  /** End of input: a last line without a newline must still be complete. */
  end(): void {
    if (this.carry.length > 0) {
      const c = this.carry;
      this.carry = Buffer.alloc(0);
      this.line(c, 0, c.length, true);
    }
    this.flush();
  }

  private flush(): void {
    if (this.n > 0) this.onBatch(this.addrs, this.writes, this.n);
    this.n = 0;
  }

  private emit(addr: number, write: number): void {
    this.addrs[this.n] = addr;
    this.writes[this.n] = write;
    this.counts.translations++;
    if (++this.n === this.batch) this.flush();
  }

  private bad(b: Buffer, s: number, e: number, last: boolean): never {
    this.flush();
    const text = b.toString('latin1', s, Math.min(e, s + 60)).replace(/\r$/, '');
    const what = last ? `truncated last line '${text}'` : `got '${text}'`;
    throw new TraceError(`trace line ${this.counts.lines}: ${EXPECTED}; ${what}`);
  }

  private line(b: Buffer, s: number, e: number, last = false): void {
    this.counts.lines++;
    let i = s;
    if (e > s && b[e - 1] === 13) e--; // CRLF
    while (i < e && b[i] === 32) i++;
    if (i === e) return; // blank line
    if (b[i] === 61 && b[i + 1] === 61) return; // ==pid== valgrind message
    const op = b[i]!;
    i++;
    if (op !== 73 && op !== 76 && op !== 83 && op !== 77) this.bad(b, s, e, last);
    if (i >= e || b[i] !== 32) this.bad(b, s, e, last);
    while (i < e && b[i] === 32) i++;
    let addr = 0;
    let digits = 0;
    for (; i < e; i++) {
      const c = b[i]!;
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      addr = addr * 16 + d;
      digits++;
    }
    if (digits === 0 || digits > 16 || i >= e || b[i] !== 44) this.bad(b, s, e, last);
    i++;
    let size = 0;
    let sdigits = 0;
    for (; i < e; i++) {
      const c = b[i]!;
      if (c < 48 || c > 57) break;
      size = size * 10 + (c - 48);
      sdigits++;
    }
    while (i < e && b[i] === 32) i++;
    if (sdigits === 0 || i !== e || size === 0) this.bad(b, s, e, last);
    if (addr + size > ADDR_LIMIT) throw new TraceError(`trace line ${this.counts.lines}: address 0x${addr.toString(16)} is above the x86-64 user address space (2^57)`);
    const k = this.counts;
    if (op === 73) {
      k.instructionFetches++;
      return;
    }
    const write = op === 76 ? 0 : 1;
    if (op === 76) k.loads++;
    else if (op === 83) k.stores++;
    else k.modifies++;
    this.emit(addr, write);
    const lastByte = addr + size - 1;
    if (Math.floor(lastByte / 4096) !== Math.floor(addr / 4096)) {
      k.pageCrossings++;
      this.emit(lastByte - (lastByte % 4096), write);
    }
  }
}
