import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { SpiceError } from './errors.js';

export type { Logger };

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const METHODS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/**
 * A logger that loads pino only when a line is logged at an enabled level. Loading pino costs
 * ~25 ms of start-up, and a run at the default level usually logs nothing at all; start-up is
 * part of every measured connect and USB recognition.
 */
function lazyLogger(level: string, make: () => Logger): Logger {
  const min = LEVELS[level]!;
  let real: Logger | null = null;
  const get = (): Logger => (real ??= make());
  const lazy: Record<string, unknown> = {
    level,
    isLevelEnabled: (l: string) => (LEVELS[l] ?? Infinity) >= min,
    child: (bindings: Record<string, unknown>) => get().child(bindings),
    silent: () => {},
  };
  for (const m of METHODS) {
    lazy[m] = LEVELS[m]! >= min ? (...args: unknown[]) => (get()[m] as (...a: unknown[]) => void)(...args) : () => {};
  }
  return lazy as unknown as Logger;
}

function loadPino(): typeof import('pino').default {
  return createRequire(import.meta.url)('pino') as typeof import('pino').default;
}

/** Logs go to stderr (fd 2) or a file, never stdout: stdout carries results only. */
export function createLogger(opts: { level?: string; file?: string } = {}): Logger {
  const level = opts.level ?? process.env.SPICECTL_LOG_LEVEL ?? 'warn';
  if (!(level in LEVELS)) throw new SpiceError('usage', `log level must be one of ${Object.keys(LEVELS).join(', ')}, not "${level}"`);
  const make = (): Logger => {
    const pino = loadPino();
    const dest = opts.file ? pino.destination({ dest: opts.file, sync: true, mkdir: true }) : pino.destination({ fd: 2, sync: true });
    return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, dest);
  };
  // A --log-file is opened now, so that a path that cannot be written fails before the session.
  return opts.file ? make() : lazyLogger(level, make);
}

export const silentLogger: Logger = lazyLogger('silent', () => loadPino()({ level: 'silent' }));
