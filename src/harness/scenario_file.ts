/**
 * Reading a scenario file for `ptbench run`: JSON checked against schema/ptbench-scenario-1.schema.json
 * (ajv), then units and names resolved into a Timeline. Every problem is one line with the JSON path
 * and what was expected.
 */
import { readJson, validate } from './load.js';
import { parseSize } from '../lib/size.js';
import { UsageError } from '../lib/errors.js';
import { KERNEL_PROFILES } from '../mm/kernel_profile.js';
import { pageBytes } from '../workload/scenario.js';
import { checkTimeline, type Prot, type Timeline, type TimelineObject, type TimelineStep } from '../workload/timeline.js';

type Raw = Record<string, unknown>;

function bytes(v: unknown, at: string): number {
  if (typeof v !== 'number') return parseSize(String(v), at);
  if (!Number.isSafeInteger(v)) throw new UsageError(`${at}: ${v > Number.MAX_SAFE_INTEGER ? 'a number above 2^53 - 1 (8 PiB), the largest size counted exactly' : `'${v}' is not a whole number of bytes`}; give a smaller size, or a string with a unit such as "1GiB"`);
  return v;
}

function address(v: unknown, at: string): number {
  const n = typeof v === 'number' ? v : Number(String(v));
  if (!Number.isSafeInteger(n)) throw new UsageError(`${at}: '${String(v)}' is not an address below 2^53`);
  return n;
}

/** A recorded kernel configuration, checked: a known profile, and no knob that profile lacks. */
function scenarioKernel(k: NonNullable<Timeline['kernel']>, at: string): NonNullable<Timeline['kernel']> {
  const p = KERNEL_PROFILES.find((x) => x.name === k.profile);
  if (p === undefined) throw new UsageError(`${at}/profile: unknown kernel profile '${k.profile}'; profiles: ${KERNEL_PROFILES.map((x) => x.name).join(', ')}`);
  if (k.ptReclaim === true && !p.rules.includes('pt_reclaim')) throw new UsageError(`${at}/ptReclaim: CONFIG_PT_RECLAIM does not exist in Linux ${p.name}; set it false or name a profile that has it`);
  return k;
}

/** Turn a schema-valid file into a Timeline (sizes and addresses as numbers, defaults filled in). */
export function toTimeline(raw: Raw, file: string): Timeline {
  const at = (path: string) => `${file}: ${path}`;
  const objects: Record<string, TimelineObject> = {};
  for (const [name, o] of Object.entries(raw.objects as Record<string, Raw>)) {
    const kind = o.kind === 'memfd' ? 'shmem' : (o.kind as TimelineObject['kind']);
    const page = kind !== 'hugetlb' ? '4k' : o.pagesize === '1GiB' ? '1g' : '2m';
    if (kind !== 'hugetlb' && o.pagesize !== undefined) throw new UsageError(`${at(`/objects/${name}/pagesize`)}: only a hugetlb object has a page size`);
    if (o.anonymous === true && kind !== 'shmem') throw new UsageError(`${at(`/objects/${name}/anonymous`)}: only a shmem object backs MAP_SHARED | MAP_ANONYMOUS memory`);
    const size = bytes(o.size, at(`/objects/${name}/size`));
    const pb = pageBytes(page);
    if (kind === 'hugetlb' && size % pb !== 0) throw new UsageError(`${at(`/objects/${name}/size`)}: a hugetlbfs file of ${size} bytes is not a multiple of its ${page === '1g' ? '1 GiB' : '2 MiB'} page size; round it to ${Math.ceil(size / pb) * (pb / 2 ** 20)} MiB`);
    objects[name] = { kind, page, size, ...(o.anonymous === true ? { anonymous: true } : {}) };
  }
  const timeline = (raw.timeline as Raw[]).map((s, i): TimelineStep => {
    const p = (k: string) => at(`/timeline/${i}/${k}`);
    const range = () => ({ proc: s.proc as string, addr: address(s.addr, p('addr')), length: bytes(s.length, p('length')) });
    switch (s.op) {
      case 'spawn': return { op: 'spawn', name: s.name as string, count: s.count as number };
      case 'mmap': return { op: 'mmap', ...range(), ...(s.object === undefined ? {} : { object: s.object as string }), offset: s.offset === undefined ? 0 : bytes(s.offset, p('offset')), shared: s.flags === 'shared', prot: (s.prot ?? 'rw') as Prot };
      case 'touch': return { op: 'touch', ...range(), write: s.write === true, pattern: (s.pattern ?? 'sequential') as 'sequential', fraction: (s.fraction as number | undefined) ?? 1, seed: (s.seed as number | undefined) ?? 1, s: (s.s as number | undefined) ?? 0.99, ...(s.pages === undefined ? {} : { pages: s.pages as Array<[number, number]> }) };
      case 'fork': return { op: 'fork', proc: s.proc as string, name: s.name as string, count: (s.count as number | undefined) ?? 1 };
      case 'mprotect': return { op: 'mprotect', ...range(), prot: s.prot as Prot };
      case 'munmap': return { op: 'munmap', ...range() };
      case 'madvise': return { op: 'madvise', ...range(), advice: s.advice as 'dontneed' };
      case 'uffd-wp': return { op: 'uffd-wp', ...range() };
      case 'exit': return { op: 'exit', proc: s.proc as string };
      default: return { op: 'snapshot', label: s.label as string };
    }
  });
  const t: Timeline = { objects, timeline };
  if (typeof raw.description === 'string') t.description = raw.description;
  if (typeof raw.source === 'string') t.source = raw.source;
  if (raw.captured !== undefined) t.captured = raw.captured as Timeline['captured'];
  if (raw.kernel !== undefined) t.kernel = scenarioKernel(raw.kernel as NonNullable<Timeline['kernel']>, at('/kernel'));
  try {
    checkTimeline(t);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${file}: ${e.message.replace(/^[A-Z]+: /, '')}`);
    throw e;
  }
  if (!timeline.some((s) => s.op === 'snapshot')) {
    throw new UsageError(`${at('/timeline')}: no snapshot step, so there is nothing to report; add {"op": "snapshot", "label": "end"} where the page tables should be counted`);
  }
  return t;
}

/** Load a scenario file; throws UsageError (exit 2) with one line. */
export function loadScenarioFile(path: string): Timeline {
  const raw = readJson(path, 'scenario file');
  const err = validate('ptbench-scenario-1', raw);
  if (err !== null) throw new UsageError(`scenario file ${path}: ${err}`);
  return toTimeline(raw as Raw, `scenario file ${path}`);
}
