import pino, { type Logger } from 'pino';

export type { Logger };

/** Logs go to stderr (fd 2) or a file, never stdout: stdout carries results only. */
export function createLogger(opts: { level?: string; file?: string } = {}): Logger {
  const level = opts.level ?? process.env.SPICECTL_LOG_LEVEL ?? 'warn';
  const dest = opts.file ? pino.destination({ dest: opts.file, sync: true, mkdir: true }) : pino.destination({ fd: 2, sync: true });
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

export const silentLogger: Logger = pino({ level: 'silent' });
