/**
 * A progress line on stderr for long work, redrawn in place, only when stderr is a terminal (so
 * pipes, files and CI logs get nothing), and erased when the work is done.
 */
export interface Progress {
  /** `done` of `total` steps finished; `what` names the step under way. */
  update(done: number, what: string): void;
  /** Erase the line. */
  end(): void;
}

export function progressLine(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY !== true) return { update: () => {}, end: () => {} };
  let shown = false;
  return {
    update(done, what) {
      const line = `${label}: ${done}/${total} ${what}`;
      const cols = stream.columns ?? 80;
      stream.write(`\r\x1b[2K${line.length >= cols ? `${line.slice(0, cols - 2)}…` : line}`);
      shown = true;
    },
    end() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
