/** `ptbench tlb`: the TLB and page-walk model on the database workload, or replay of a lackey trace. */
import { parseSize, posInt, procsCount } from '../lib/size.js';
import { int, plainTable } from '../lib/format.js';
import { DESIGNS, designsByList } from '../share/index.js';
import { cpuProfile, type CpuProfile } from '../tlb/cpu_profile.js';
import { replayTrace, runTlbDb, type PerKilo, type TlbDbResult } from '../workload/tlb/experiment.js';
import { STREAM_KINDS, parseStreamKind, validStride } from '../workload/tlb/stream.js';
import { TRACE_DEFAULTS } from '../workload/tlb/replay.js';
import { UsageError } from '../lib/errors.js';
import { parseOptions } from '../lib/cli_args.js';
import { describeKernel } from '../mm/kernel_profile.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp } from './options/kernel.js';

export const TLB_HELP = `usage: ptbench tlb [options]        (npm run tlb -- ...)

Simulated TLB misses, page-walk references and TLB shootdowns. Every count is simulated and exact
for the seed; cycles are derived from the CPU profile's latencies; "simulator speed" is measured.

The database workload (default): N processes map one region (4k: shmem, 2m: hugetlbfs), all of it
touched, each then runs its own seeded access stream, scheduled round-robin on simulated CPUs.
  --design NAME|all    sharing design (default all: ${DESIGNS.map((d) => d.name).join(', ')})
  --page 4k|2m|both    page size (default both)
  --procs N            processes (default 16)          --cpus N       simulated CPUs (default 4)
  --size SIZE          region size (default 4GiB)
  --stream KIND        ${STREAM_KINDS.join('|')} (default zipf)
  --zipf-s S           Zipf exponent (default 0.99)    --stride BYTES  for strided (default 4096)
  --writes FRACTION    share of stores (default 0)
  --accesses N         measured accesses per process (default 100000), after --warmup N (default N/2)
  --quantum N          accesses per time slice (default 10000; with --trace ${TRACE_DEFAULTS.quantum})
  --cpu NAME           golden-cove|zen4|skylake (default golden-cove)
  --llc-pt SIZE        LLC share page-table lines may use (default 2MiB)
  --nopcid             no PCID: every switch of mm flushes the TLB
  --seed N             (default 1)
  --no-probes          skip the shootdown probes (mprotect of 16 pages / one huge page in process 0,
                       reclaim of the hottest shared page), run after the measured phase
Trace replay:
  --trace FILE         valgrind --tool=lackey --trace-mem=yes output (plain or gzip), read as a stream;
                       --procs copies (default ${TRACE_DEFAULTS.procs}) run every slice of --quantum accesses in
                       turn on --cpus CPUs (default ${TRACE_DEFAULTS.cpus}); memory is mapped on first touch, 2 MiB
                       windows of private anonymous memory from mmap_min_addr up. A real trace ships
                       in test/fixtures/lackey/ (sqlite.trace.gz, recorded by record-sqlite.sh)
${kernelHelp()}
  --json               machine-readable output
`;

function fraction(text: string | undefined, field: string, dflt: number): number {
  if (text === undefined) return dflt;
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x) || x < 0 || x > 1) throw new UsageError(`${field}: '${text}' is not a fraction from 0 to 1`);
  return x;
}

function unverified(p: CpuProfile): string {
  const figs = [...p.l1, ...p.stlb, ...Object.values(p.psc), p.latency];
  return `${figs.filter((f) => !f.verified).length} of ${figs.length} figures unverified (sources in src/tlb/cpu_profile.ts)`;
}

function rates(k: PerKilo): string[] {
  return [k.l1Misses.toFixed(1), k.stlbMisses.toFixed(1), k.walkRefs.toFixed(1), k.walkRefsDram.toFixed(1)];
}

/** The LLC share for page-table lines: whole 16-way sets of 64-byte lines, a power of two of them (1 KiB .. 1 GiB). */
function llcPt(text: string): number {
  const b = parseSize(text, '--llc-pt');
  const sets = b / 1024;
  if (!Number.isInteger(sets) || sets < 1 || sets > 2 ** 20 || (sets & (sets - 1)) !== 0) {
    throw new UsageError(`--llc-pt: '${text}' must be 1 KiB times a power of two (16-way sets of 64-byte lines) from 1KiB to 1GiB, e.g. 2MiB`);
  }
  return b;
}

/**
 * Work a tlb run would do, refused before it starts when it could not finish in minutes: every
 * process writes its whole region first (a fault per page), then makes warm-up + measured
 * accesses; both per design and page size.
 */
export const TLB_MAX_PAGE_TOUCHES = 2 ** 30;
export const TLB_MAX_ACCESSES = 2 ** 31;
function checkTlbWork(o: { procs: number; size: number; accesses: number; warmup: number; pageBytes: number }): void {
  const pages = Math.ceil(o.size / o.pageBytes);
  const touches = o.procs * pages;
  if (touches > TLB_MAX_PAGE_TOUCHES) {
    throw new UsageError(`--size/--procs: ${o.procs} process(es) each writing ${pages} pages is ${touches.toExponential(2)} page faults per design, more than ${TLB_MAX_PAGE_TOUCHES} (2^30, minutes of simulation); give a smaller --size or fewer --procs`);
  }
  const acc = o.procs * (o.accesses + o.warmup);
  if (acc > TLB_MAX_ACCESSES) {
    throw new UsageError(`--accesses: ${o.procs} process(es) x ${o.accesses + o.warmup} accesses (warm-up included) is ${acc.toExponential(2)} simulated accesses per design, more than ${TLB_MAX_ACCESSES} (2^31, about 7 minutes at 5 M accesses/s); give fewer --accesses or --procs`);
  }
}

export async function tlbMain(argv: string[]): Promise<number> {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: {
      design: { type: 'string', default: 'all' },
      page: { type: 'string', default: 'both' },
      procs: { type: 'string' },
      cpus: { type: 'string' },
      size: { type: 'string', default: '4GiB' },
      stream: { type: 'string', default: 'zipf' },
      'zipf-s': { type: 'string' },
      stride: { type: 'string' },
      writes: { type: 'string' },
      accesses: { type: 'string' },
      warmup: { type: 'string' },
      quantum: { type: 'string' },
      cpu: { type: 'string', default: 'golden-cove' },
      'llc-pt': { type: 'string' },
      nopcid: { type: 'boolean', default: false },
      seed: { type: 'string' },
      'no-probes': { type: 'boolean', default: false },
      trace: { type: 'string' },
      json: { type: 'boolean', default: false },
      ...KERNEL_OPTIONS,
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(TLB_HELP);
    return 0;
  }
  const profile = cpuProfile(values.cpu);
  const cpus = posInt(values.cpus, '--cpus', values.trace !== undefined ? TRACE_DEFAULTS.cpus : 4);
  if (cpus > 31) throw new UsageError(`--cpus: at most 31 simulated CPUs, got ${cpus}`);
  const quantum = posInt(values.quantum, '--quantum', values.trace !== undefined ? TRACE_DEFAULTS.quantum : 10000, 2);
  const llcPtBytes = values['llc-pt'] === undefined ? undefined : llcPt(values['llc-pt']);
  const pcid = !values.nopcid;
  const kernel = kernelFromOptions(values);
  const head = `kernel ${describeKernel(kernel)}\nCPU profile ${profile.name} (${profile.description}): ${unverified(profile)}; ${cpus} simulated CPUs, ${pcid ? 'PCID on (6 dynamic ASIDs per CPU)' : 'nopcid'}`;

  if (values.trace !== undefined) {
    const procs = (values.procs === undefined ? TRACE_DEFAULTS.procs : procsCount(values.procs));
    const r = await replayTrace({ path: values.trace, procs, cpus, profile, quantum, llcPtBytes, pcid, kernel });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ kernel, profile: profile.name, cpus, procs, ...r }, null, 2)}\n`);
      return 0;
    }
    const t = r.trace;
    const out = [
      head,
      `trace ${values.trace}: ${int(t.lines)} lines, ${int(t.loads)} loads, ${int(t.stores)} stores, ${int(t.modifies)} modifies, ${int(t.instructionFetches)} instruction fetches (skipped: no ITLB modelled), ${int(t.pageCrossings)} page-crossing accesses`,
      `replayed by ${procs} process(es); ${int(r.windowsMapped)} 2 MiB windows of private anonymous memory mapped on first touch; ${int(r.counts.faults)} page faults`,
    ];
    const tab = plainTable(['per 1,000 accesses (simulated)', 'L1 misses', 'STLB misses', 'walk refs', 'refs to DRAM', 'cycles/access (derived)'], ['left', 'right', 'right', 'right', 'right', 'right']);
    tab.push([`${int(r.counts.accesses)} accesses`, ...rates(r.perKilo), r.cyclesPerAccess.toFixed(2)]);
    out.push(tab.toString(), `simulator speed: ${(r.accessesPerSecond / 1e6).toFixed(2)} M accesses/s (measured, ${r.wallSeconds.toFixed(2)} s wall including reading the trace)`);
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  }

  const designs = designsByList(values.design);
  const pages: Array<'4k' | '2m'> | null = values.page === 'both' ? ['4k', '2m'] : values.page === '4k' || values.page === '2m' ? [values.page] : null;
  if (pages === null) throw new UsageError(`--page: '${values.page}' must be 4k, 2m or both`);
  const stream = parseStreamKind(values.stream);
  const procs = (values.procs === undefined ? 16 : procsCount(values.procs));
  const size = parseSize(values.size, '--size');
  const accesses = posInt(values.accesses, '--accesses', 100000);
  const warmup = posInt(values.warmup, '--warmup', Math.floor(accesses / 2), 0);
  const seed = posInt(values.seed, '--seed', 1, 0);
  const zipfS = values['zipf-s'] === undefined ? undefined : Number(values['zipf-s']);
  if (zipfS !== undefined && !(zipfS > 0)) throw new UsageError(`--zipf-s: '${values['zipf-s']}' must be a positive number`);
  const stride = values.stride === undefined ? undefined : parseSize(values.stride, '--stride');
  const writeFraction = fraction(values.writes, '--writes', 0);
  // Checked once here, not per design: a bad value would otherwise make every row a skipped one.
  if (stride !== undefined && (!validStride(stride) || stride > size)) throw new UsageError(`--stride: '${values.stride}' must be a positive multiple of 64 bytes no larger than --size, e.g. 4096`);
  checkTlbWork({ procs, size, accesses, warmup, pageBytes: pages.includes('4k') ? 4096 : 2 ** 21 });

  const results: TlbDbResult[] = [];
  const skipped: string[] = [];
  for (const page of pages) {
    for (const design of designs) {
      try {
        results.push(runTlbDb({ design, procs, cpus, size, page, profile, quantum, llcPtBytes, pcid, kernel, stream, zipfS, stride, writeFraction, seed, accesses, warmup, probes: !values['no-probes'] }));
      } catch (e) {
        // A design that refuses the scenario (e.g. ptshare on hugetlbfs) is a row, not the end of the table.
        if (!(e instanceof UsageError) || designs.length === 1) throw e;
        skipped.push(`${design.name} ${page}: ${e.message.replace(/^EINVAL: /, '')}`);
      }
    }
  }
  // Every design refused: that is one line, not an empty table.
  if (results.length === 0) throw new UsageError(skipped[0] ?? 'no design ran');
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ kernel, profile: profile.name, cpus, procs, size, stream: values.stream, accesses, warmup, quantum, seed, results, skipped }, null, 2)}\n`);
    return 0;
  }
  const out = [head, `${procs} processes x ${values.size} region, ${values.stream} stream${values.stream === 'zipf' ? ` (s = ${zipfS ?? 0.99})` : ''}, ${int(accesses)} measured accesses per process after ${int(warmup)} warm-up, ${int(quantum)}-access time slices, seed ${seed}`, ''];
  const tab = plainTable(['design', 'page', 'L1 miss/1k', 'STLB miss/1k', 'walk refs/1k', 'DRAM refs/1k', 'cycles/access', 'PT pages'], ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right']);
  for (const r of results) tab.push([r.design, r.page, ...rates(r.perKilo), r.cyclesPerAccess.toFixed(2), int(r.tablePages)]);
  out.push('Translation (simulated; cycles/access derived from the profile latencies; PT pages: page-table pages of the machine)', tab.toString());
  if (results.some((r) => r.probes !== undefined)) {
    const sd = plainTable(['design', 'page', 'change', 'flushes', 'CPUs', 'IPIs', 'entries cleared', 'TLB entries dropped', 'deferred CPUs', 'walks after (of which re-walks)'], ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right']);
    for (const r of results) {
      for (const p of [r.probes!.mprotect, r.probes!.reclaim]) {
        const change = p.action.startsWith('mprotect') ? 'mprotect' : 'reclaim';
        if (p.refused !== undefined) {
          sd.push([r.design, r.page, change, `refused: ${p.refused.length > 60 ? `${p.refused.slice(0, 57)}...` : p.refused}`, '', '', '', '', '', '']);
          continue;
        }
        sd.push([r.design, r.page, change, `${p.flushes} ${p.kind}`, String(p.cpusTargeted), String(p.ipis), p.entriesCleared === undefined ? '-' : String(p.entriesCleared), int(p.tlbEntriesInvalidated), String(p.deferredCpus), `${int(p.walksAfter)} (${int(p.walksAfterShootdown)})`]);
      }
    }
    out.push('', 'Shootdowns (simulated): mprotect(PROT_READ) of 16 pages (one 2 MiB page) around the hottest page in process 0; reclaim of the hottest shared page; "walks after": one slice per process afterwards, re-walks = translations a flush had removed', sd.toString());
  }
  for (const s of skipped) out.push(`skipped ${s}`);
  const speed = results.reduce((a, r) => a + r.counts.accesses, 0) / results.reduce((a, r) => a + r.wallSeconds, 0);
  out.push('', `simulator speed: ${(speed / 1e6).toFixed(2)} M simulated accesses/s (measured over the measured phases, one thread)`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
