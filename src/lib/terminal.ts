/**
 * Text that reaches a terminal: a label, a description, a process name or a file name may hold
 * escape sequences or NUL bytes (a scenario file is anyone's input, and so is /proc/PID/comm). They
 * are shown escaped (`\x1b`, `\x00`), so they can neither move the cursor, retitle the window nor
 * hide text. `printable` is for one user-supplied string; `guardStream` filters everything a command
 * writes as text, letting through only the sequences ptbench itself writes (colours, line erase).
 */

// C0 controls but tab and newline, DEL, and the C1 range (U+0080..U+009F: 8-bit CSI and OSC among them).
/* eslint-disable no-control-regex -- these patterns exist to find control characters */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// The same, but carriage return and ptbench's own sequences pass: SGR colours and erase-line (progress lines).
const CONTROL_EXCEPT_OWN = /\u001b\[[0-9;]*m|\u001b\[2K|[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
/* eslint-enable no-control-regex */

const escape = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** One user-supplied string as it may be shown: every control character escaped. */
export function printable(s: string): string {
  return s.replace(CONTROL, escape);
}

/** Text a command writes, with every control character escaped except newline, tab, CR and ptbench's own colour and erase sequences. */
export function guardText(s: string): string {
  return s.replace(CONTROL_EXCEPT_OWN, (m) => (m.length > 1 ? m : escape(m)));
}

/** Filter every string written to `stream` through guardText (Buffers, which carry JSON or data, pass unchanged). */
export function guardStream(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => write(typeof chunk === 'string' ? guardText(chunk) : chunk, ...rest)) as typeof stream.write;
}
