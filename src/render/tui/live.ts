// What the commands that stay connected (connect, usb redirect) share to show a session while it
// runs: the choice between the live view and plain lines, the display renderer for the view, and
// the NDJSON stats printer. Ink is loaded only when the live view really starts (dynamic import),
// so a run off a TTY never pays for it.
import type { FrameSource } from '../outputs/frames.js';
import type { SessionSnapshot } from '../../session/stats/snapshot.js';
import { DisplayRenderer } from './display-renderer.js';
import { formatStatsLine } from './stats-line.js';
import { RESET_COLOR_REGISTERS, queryTerminal, type TerminalInfo } from './terminal-query.js';
import type { TuiHandle, TuiOptions } from './run-tui.js';

export { inCi, interactive } from './interactive.js';

/**
 * Starts the live view (loads Ink and React now, React's production build unless NODE_ENV says
 * otherwise). `force` (--tui) clears the CI variables first: Ink reads them once, at import, and
 * under CI would only print the last frame.
 */
export async function openLiveView(opts: TuiOptions, force = false): Promise<TuiHandle> {
  if (force) {
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
  }
  // React's development build (the default without NODE_ENV) is several times slower per render
  // and records performance marks on every commit: not for a view that runs for hours.
  process.env.NODE_ENV ??= 'production';
  const { startTui } = await import('./run-tui.js');
  return startTui(opts);
}

export type DisplayChoice = 'auto' | 'sixel' | 'ansi' | 'none';

export interface LiveDisplay {
  format: 'sixel' | 'ansi' | 'none';
  terminal: TerminalInfo | null;
  renderDisplay?: (cols: number, rows: number) => string | null;
  /** what to write when the terminal is given back */
  restore: string;
  close(): Promise<void>;
}

/** Sixel needs this many colour registers for its fixed palette (see outputs/sixel.ts). */
const SIXEL_REGISTERS = 256;

/**
 * The display area of the live view: asks the terminal what it can draw (auto: sixel when DA1
 * lists it, else ANSI half blocks), and returns a renderer that never blocks the caller.
 */
export async function prepareLiveDisplay(
  choice: DisplayChoice,
  source: FrameSource,
  io: { stdin?: NodeJS.ReadStream; stdout?: NodeJS.WriteStream; timeoutMs?: number } = {},
): Promise<LiveDisplay> {
  if (choice === 'none') return { format: 'none', terminal: null, restore: '', close: async () => {} };
  let terminal: (TerminalInfo & { colorRegistersSet: boolean }) | null = null;
  if (choice !== 'ansi') {
    terminal = await queryTerminal(io.stdin ?? process.stdin, io.stdout ?? process.stdout, {
      timeoutMs: io.timeoutMs,
      colorRegisters: SIXEL_REGISTERS,
    });
  }
  const format = choice === 'auto' ? (terminal?.sixel ? 'sixel' : 'ansi') : choice;
  const renderer = new DisplayRenderer({
    format,
    source,
    cell: terminal?.cell ?? null,
    maxImage: terminal?.graphics ?? null,
  });
  return {
    format,
    terminal,
    renderDisplay: renderer.render,
    restore: terminal?.colorRegistersSet ? RESET_COLOR_REGISTERS : '',
    close: () => renderer.close(),
  };
}

export interface StatsPrinter {
  /** stops the timer; with `final`, prints one more line (the totals at the end) */
  stop(final?: boolean): void;
}

/** One NDJSON line of formatStatsLine() every intervalMs on `write` (stdout by default). */
export function startStatsLines(
  getSnapshot: () => SessionSnapshot,
  intervalMs: number,
  write: (line: string) => void = (line) => void process.stdout.write(`${line}\n`),
): StatsPrinter {
  const tick = () => {
    try {
      write(formatStatsLine(getSnapshot()));
    } catch {
      /* a snapshot that fails now will be tried again at the next tick */
    }
  };
  const timer = setInterval(tick, intervalMs);
  let stopped = false;
  return {
    stop(final = false) {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (final) tick();
    },
  };
}
