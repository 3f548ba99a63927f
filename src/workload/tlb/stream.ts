/**
 * Seeded access streams over a region: sequential (every 64-byte line in order), strided, uniform
 * random lines, and Zipf over 4 KiB pages. Each fills caller-owned typed arrays in batches, so the
 * stream never allocates per access and the same seed gives the same addresses on any machine.
 */
import { xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import { UsageError } from '../../lib/errors.js';

export type StreamKind = 'seq' | 'strided' | 'uniform' | 'zipf';
export const STREAM_KINDS: readonly StreamKind[] = ['seq', 'strided', 'uniform', 'zipf'];

export function parseStreamKind(text: string): StreamKind {
  if (!(STREAM_KINDS as readonly string[]).includes(text)) throw new UsageError(`--stream: unknown '${text}'; choose one of ${STREAM_KINDS.join(', ')}`);
  return text as StreamKind;
}

export interface StreamSpec {
  kind: StreamKind;
  /** Region start and length in bytes (start 64-byte aligned, length a multiple of 4096). */
  base: number;
  length: number;
  /** Bytes between accesses for 'strided' (default 4096); 'seq' is stride 64. */
  stride?: number;
  /** Zipf exponent s > 0 (default 0.99): page of rank k is chosen with probability ~ 1/k^s. */
  zipfS?: number;
  /** Fraction of accesses that are stores (default 0). */
  writeFraction?: number;
  seed?: number;
}

const LINE = 64;
const PAGE = 4096;

/** A stride a strided stream can take: a positive whole number of 64-byte lines. */
export function validStride(stride: number): boolean {
  return Number.isInteger(stride) && stride > 0 && stride % LINE === 0;
}

export class AccessStream {
  readonly spec: Readonly<Required<StreamSpec>>;
  private readonly rng: RandomGenerator;
  /** Position of the next sequential/strided access, as an offset into the region. */
  private pos = 0;
  private readonly zipf: ZipfSampler | null;
  private readonly scatter: PageScatter | null;

  constructor(spec: StreamSpec) {
    const s: Required<StreamSpec> = {
      kind: spec.kind, base: spec.base, length: spec.length,
      stride: spec.stride ?? (spec.kind === 'seq' ? LINE : PAGE), zipfS: spec.zipfS ?? 0.99, writeFraction: spec.writeFraction ?? 0, seed: spec.seed ?? 1,
    };
    if (spec.kind === 'seq' && spec.stride !== undefined && spec.stride !== LINE) throw new UsageError(`--stride: a 'seq' stream walks every 64-byte line; use --stream strided for a stride of ${spec.stride}`);
    parseStreamKind(s.kind);
    if (!Number.isInteger(s.base) || s.base < 0 || s.base % LINE !== 0) throw new UsageError(`stream base must be a 64-byte-aligned address, got ${s.base}`);
    if (!Number.isInteger(s.length) || s.length <= 0 || s.length % PAGE !== 0) throw new UsageError(`stream length must be a positive multiple of 4096 bytes, got ${s.length}`);
    if (!validStride(s.stride)) throw new UsageError(`--stride: must be a positive multiple of 64 bytes, got ${s.stride}`);
    if (!(s.writeFraction >= 0 && s.writeFraction <= 1)) throw new UsageError(`--writes: must be a fraction from 0 to 1, got ${s.writeFraction}`);
    if (!(s.zipfS > 0) || !Number.isFinite(s.zipfS)) throw new UsageError(`--zipf-s: must be a positive number, got ${s.zipfS}`);
    if (!Number.isInteger(s.seed)) throw new UsageError(`--seed: must be an integer, got ${s.seed}`);
    this.spec = s;
    this.rng = xoroshiro128plus(s.seed);
    const pages = s.length / PAGE;
    if (s.kind === 'zipf' && pages > 2 ** 32) throw new UsageError(`--stream zipf: at most 2^32 pages (16 TiB), got ${pages}`);
    this.zipf = s.kind === 'zipf' ? new ZipfSampler(pages, s.zipfS) : null;
    this.scatter = s.kind === 'zipf' ? new PageScatter(pages) : null;
  }

  /** A uniform double in [0, 1) from 53 random bits. */
  private uniform(): number {
    const a = this.rng.unsafeNext() >>> 5;
    const b = this.rng.unsafeNext() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Write the next `n` accesses into addrs/writes. */
  fill(addrs: Float64Array, writes: Uint8Array, n: number): void {
    const s = this.spec;
    const base = s.base;
    const len = s.length;
    switch (s.kind) {
      case 'seq':
      case 'strided': {
        let pos = this.pos;
        const stride = s.stride;
        for (let i = 0; i < n; i++) {
          addrs[i] = base + pos;
          pos += stride;
          if (pos >= len) pos -= len * Math.floor(pos / len);
        }
        this.pos = pos;
        break;
      }
      case 'uniform': {
        const lines = len / LINE;
        for (let i = 0; i < n; i++) addrs[i] = base + Math.floor(this.uniform() * lines) * LINE;
        break;
      }
      case 'zipf': {
        const z = this.zipf!;
        const sc = this.scatter!;
        for (let i = 0; i < n; i++) {
          const page = sc.map(z.sample(this) - 1);
          addrs[i] = base + page * PAGE + (this.rng.unsafeNext() & 63) * LINE;
        }
        break;
      }
    }
    const wf = s.writeFraction;
    if (wf === 0) writes.fill(0, 0, n);
    else if (wf === 1) writes.fill(1, 0, n);
    else for (let i = 0; i < n; i++) writes[i] = this.uniform() < wf ? 1 : 0;
  }

  /** For the Zipf sampler. */
  nextDouble(): number {
    return this.uniform();
  }
}

/**
 * Zipf over ranks 1..n by rejection-inversion (W. Hormann, G. Derflinger, "Rejection-inversion to
 * generate variates from monotone discrete distributions", 1996), as Apache Commons RNG implements
 * it: O(1) per sample and no table, so regions of millions of pages cost nothing to set up.
 */
export class ZipfSampler {
  private readonly s: number;
  private readonly n: number;
  private readonly hX1: number;
  private readonly hN: number;
  private readonly sVal: number;

  constructor(n: number, s: number) {
    this.n = n;
    this.s = s;
    this.hX1 = this.hIntegral(1.5) - 1;
    this.hN = this.hIntegral(n + 0.5);
    this.sVal = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  sample(src: { nextDouble(): number }): number {
    for (;;) {
      const u = this.hN + src.nextDouble() * (this.hX1 - this.hN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.n) k = this.n;
      if (k - x <= this.sVal || u >= this.hIntegral(k + 0.5) - this.h(k)) return k;
    }
  }

  private h(x: number): number {
    return Math.exp(-this.s * Math.log(x));
  }

  private hIntegral(x: number): number {
    const lx = Math.log(x);
    return helper2((1 - this.s) * lx) * lx;
  }

  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.s);
    if (t < -1) t = -1;
    return Math.exp(helper1(t) * x);
  }
}

/** log1p(x)/x, accurate near 0. */
function helper1(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

/** expm1(x)/x, accurate near 0. */
function helper2(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}

/**
 * A fixed permutation of 0..n-1 (an odd-multiplier affine map modulo the next power of two, walked
 * until it lands below n), so Zipf's hot ranks are scattered over the region as a database's hot
 * blocks are, not packed at its start.
 */
export class PageScatter {
  private readonly n: number;
  private readonly mask: number;

  constructor(n: number) {
    this.n = n;
    const bits = Math.max(1, Math.ceil(Math.log2(n)));
    this.mask = bits >= 32 ? -1 : (1 << bits) - 1;
  }

  map(x: number): number {
    let y = x;
    do y = ((Math.imul(y, 0x9e3779b1) + 0x7f4a7c15) & this.mask) >>> 0;
    while (y >= this.n);
    return y;
  }
}
