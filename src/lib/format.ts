/** Human-readable figures, always with their unit. */
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

export function int(n: number): string {
  return n.toLocaleString('en-US');
}
