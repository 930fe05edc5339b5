// The guest oracle: follows a guest's serial log (QEMU -serial file:...) from its size at the
// start of a run and timestamps every complete line as it appears (inotify wake-ups plus a
// short poll, so a line is seen within a few ms). A line's time is ms since the run's t0.
//
//   const log = new GuestLog('/tmp/vm/serial.log', t0).start();
//   const hit = await log.waitFor(/MARK mounted/, 30_000);   // { line, t } or null on timeout
//   log.marks()   // first time of each "MARK <event>" line: { 'usb-attached': 512.3, ... }
//   log.stop();

import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { SpiceError } from '../util/errors.js';

export interface LogLine {
  line: string;
  /** ms since t0 when this process saw the line */
  t: number;
}

/** Current size of a file, 0 when it does not exist (yet). */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Compiles a --ready / --gone pattern with a usage error that says what was wrong. */
export function compilePattern(text: string, flag: string): RegExp {
  try {
    return new RegExp(text);
  } catch (e) {
    throw new SpiceError('usage', `${flag} "${text}" is not a regular expression: ${(e as Error).message}`);
  }
}

export class GuestLog {
  readonly lines: LogLine[] = [];
  private pos: number;
  readonly startOffset: number;
  private pending = Buffer.alloc(0);
  private fd: number | undefined;
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private readonly waiters = new Set<{ re: RegExp; resolve: (l: LogLine | null) => void }>();
  private readonly buf = Buffer.alloc(65536);
  private lastLineAt = performance.now();

  /** `fromOffset` defaults to the file's current size: only lines written from now on count. */
  constructor(readonly path: string, readonly t0: number, fromOffset?: number, private readonly pollMs = 5) {
    this.startOffset = fromOffset ?? fileSize(path);
    this.pos = this.startOffset;
  }

  start(): this {
    this.read();
    this.timer = setInterval(() => this.read(), this.pollMs);
    this.timer.unref();
    try {
      this.watcher = watch(this.path, () => this.read());
      this.watcher.on('error', () => this.watcher?.close());
      this.watcher.unref();
    } catch {
      /* the poll is enough */
    }
    return this;
  }

  /** Reads what was appended; timestamps each complete line. */
  read(): void {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, 'r');
      } catch {
        return;
      }
    }
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, this.pos);
      } catch {
        return;
      }
      if (n <= 0) return;
      this.pos += n;
      const t = performance.now() - this.t0;
      this.pending = this.pending.length ? Buffer.concat([this.pending, this.buf.subarray(0, n)]) : Buffer.from(this.buf.subarray(0, n));
      let nl: number;
      while ((nl = this.pending.indexOf(10)) >= 0) {
        const line = this.pending.subarray(0, nl).toString('utf8').replace(/\r$/, '');
        this.pending = this.pending.subarray(nl + 1);
        this.add({ line, t });
      }
    }
  }

  private add(l: LogLine): void {
    this.lastLineAt = performance.now();
    this.lines.push(l);
    for (const w of this.waiters) {
      if (w.re.test(l.line)) {
        this.waiters.delete(w);
        w.resolve(l);
      }
    }
  }

  /** The first line matching re, from line index `fromLine` (default: since the start). */
  first(re: RegExp, fromLine = 0): LogLine | undefined {
    for (let i = fromLine; i < this.lines.length; i++) if (re.test(this.lines[i]!.line)) return this.lines[i];
    return undefined;
  }

  /**
   * Resolves with the first matching line from line index `fromLine` (already seen or future),
   * or null after timeoutMs (or on abort).
   */
  waitFor(re: RegExp, timeoutMs: number, fromLine = 0, signal?: AbortSignal): Promise<LogLine | null> {
    this.read();
    const seen = this.first(re, fromLine);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const w = {
        re,
        resolve: (l: LogLine | null) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(l);
        },
      };
      const onAbort = () => {
        this.waiters.delete(w);
        w.resolve(null);
      };
      const timer = setTimeout(onAbort, timeoutMs);
      signal?.addEventListener('abort', onAbort);
      this.waiters.add(w);
    });
  }

  /**
   * Resolves once no line has appeared for quietMs (at most maxMs): lets a guest finish what
   * it prints about a device that went away, so that it does not count for the next run.
   */
  async waitQuiet(quietMs: number, maxMs: number, signal?: AbortSignal): Promise<void> {
    const end = performance.now() + maxMs;
    for (;;) {
      this.read();
      const now = performance.now();
      const wait = Math.min(this.lastLineAt + quietMs - now, end - now);
      if (wait <= 0 || signal?.aborted) return;
      await new Promise((r) => setTimeout(r, Math.min(wait, 50)));
    }
  }

  /** First time of each "MARK <event> ..." line (among the first `untilLine` lines). */
  marks(untilLine = this.lines.length): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.lines.slice(0, untilLine)) {
      const m = /MARK (\S+)/.exec(l.line);
      if (m && out[m[1]!] === undefined) out[m[1]!] = l.t;
    }
    return out;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    for (const w of this.waiters) w.resolve(null);
    this.waiters.clear();
  }
}
