/**
 * Command-line parsing shared by every command: node:util's parseArgs, plus the rules it lacks.
 * An option given twice is an error (parseArgs keeps the last one silently) unless it is declared
 * `multiple`. Colour follows the NO_COLOR and FORCE_COLOR conventions.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

type Config = ParseArgsConfig & { options: NonNullable<ParseArgsConfig['options']> };

/** parseArgs, refusing an option given twice (unless declared `multiple`) with one line naming it. */
export function parseOptions<T extends Config>(config: T): ReturnType<typeof parseArgs<T>> {
  const { tokens } = parseArgs({ ...config, tokens: true });
  const seen = new Set<string>();
  for (const t of tokens ?? []) {
    if (t.kind !== 'option' || config.options[t.name]?.multiple === true) continue;
    if (seen.has(t.name)) throw new UsageError(`--${t.name}: given more than once; give it once`);
    seen.add(t.name);
  }
  return parseArgs(config);
}

/** Colour only on a terminal, and not when NO_COLOR is set (no-color.org) or FORCE_COLOR is 0 or false. */
export function useColor(stream: { isTTY?: boolean } = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined) return false;
  const force = process.env.FORCE_COLOR;
  if (force === '0' || force === 'false') return false;
  return stream.isTTY === true;
}
