/** Human-readable figures, always with their unit. */
import Table from 'cli-table3';
import prettyBytes from 'pretty-bytes';

/** "2,109,440 B (2.01 MiB)": exact bytes and the IEC rounding. */
export function bytesIEC(n: number): string {
  return `${n.toLocaleString('en-US')} B (${prettyBytes(n, { binary: true, maximumFractionDigits: 2 })})`;
}

/** "878.9 GB" with decimal units (10^9), for figures quoted against the mailing-list arithmetic. */
export function bytesSI(n: number, digits = 1): string {
  return prettyBytes(n, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** IEC only, short: "2.01 MiB". */
export function iec(n: number): string {
  return prettyBytes(n, { binary: true, maximumFractionDigits: 2 });
}

/** A rate with a metric prefix and two decimals: "25.48 M", "714.22 k", "438.00". */
export function rate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)} k`;
  return x.toFixed(2);
}

/** An address or a flag word in hex: "0x7f0000000000". */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

export function int(n: number): string {
  return n.toLocaleString('en-US');
}

/** A cli-table3 table without borders: columns two spaces apart, a plain header row. */
export function plainTable(head: string[], colAligns: Array<'left' | 'right'>): Table.Table {
  return new Table({
    head,
    style: { head: [], border: [], compact: true },
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
    colAligns,
  });
}

/** A commit as reports show it: its first 10 hex digits, or "(no commit)". */
export function shortCommit(c: string | null): string {
  return c === null ? '(no commit)' : c.slice(0, 10);
}

/** A time as file names carry it: "2026-12-07T070118Z" (ISO 8601 without separators), or "2026-12-07T070118.123Z" with `ms`. */
export function fileStamp(d: Date | string, ms = false): string {
  const iso = typeof d === 'string' ? d : d.toISOString();
  return ms ? iso.replace(/:/g, '') : iso.replace(/[:.]/g, '').replace(/\d{3}Z$/, 'Z');
}

/** A p-value as every command and page prints it: four decimals, or "<0.0001"; "-" when there is none. */
export function formatP(p: number): string {
  return Number.isNaN(p) ? '-' : p < 0.0001 ? '<0.0001' : p.toFixed(4);
}
