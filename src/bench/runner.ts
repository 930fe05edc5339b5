// `spicectl bench recognition`, the core: for every cell of the matrix (compression x link
// limit) and every run, one device is redirected and the recognition timeline is recorded from
// the client's own usbredir traffic, with the guest oracle (a serial-log line), bytes each way
// and a SCSI command histogram; between runs it detaches cleanly and waits for the guest to
// report the device gone (or a fixed gap). A limit is a LinkShaper the whole session goes
// through (all channels share it, like one WAN link). No commander, no console.
//
// Two modes. 'fresh-session': every run is a new SPICE session (t0 before the TCP connect).
// 'hotplug': per cell ONE session and usbredir channel stay up; every run plugs the device into
// it (t0 just before device_connect) and unplugs it again, as a stick plugged into a thin
// client with a live session; that t0 is what QEMU's own USB devices are measured from.

import { setTimeout as sleep } from 'node:timers/promises';
import { SpiceError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { SessionOptions } from '../session/session.js';
import type { Endpoint } from '../session/uri.js';
import { ChannelType } from '../session/wire/enums.js';
import { describeSource, type DeviceSource } from '../usb/redirect.js';
import { RecognitionRecorder } from '../usb/recognition.js';
import type { UsbTraceEvent } from '../usb/host.js';
import { Opcode } from '../usb/emulated/scsi.js';
import { GuestLog, fileSize, type LogLine } from './guest-log.js';
import { cellName, runBytes, summarizeCell, type ByteCounters, type Cell, type CellSummary, type RunResult } from './matrix.js';
import { LinkShaper, type ShaperTarget } from './shaper.js';
import { SettleDetector, emptyTimeline, timelineFromRecognition, type Timeline } from './timeline.js';
import { RunGuard, closeTarget, countersNow, newTarget, openHot, usable, type HotSession, type Link, type Target } from './bench-session.js';

export type BenchMode = 'fresh-session' | 'hotplug';

/** What t0 is in each mode (one line for reports). */
export const MODE_T0: Record<BenchMode, string> = {
  'fresh-session': 't0 = before the TCP connect of a new SPICE session, one per run',
  hotplug: 't0 = the plug (just before device_connect) into a session and usbredir channel kept open per cell',
};

export interface RecognitionBenchOptions {
  /** where and how to connect (endpoint, password, TLS, log); autoOpen is set per run */
  session: SessionOptions;
  source: DeviceSource;
  cells: Cell[];
  runs: number;
  /** plug every run into one session per cell that stays up (default: a fresh session per run) */
  hotplug?: boolean;
  /** idle time after the last command that counts as settled (ms) */
  settleMs: number;
  /** pause between runs when there is no guest oracle (ms) */
  gapMs: number;
  /** a run that is not settled (and ready) by then fails (ms) */
  timeoutMs: number;
  /** the guest's serial log, followed from its size at each run start */
  guestLog?: string;
  /** the oracle: the first line matching this after t0 is the true recognition time */
  ready?: RegExp;
  /** the guest line that says the device is gone after a detach (default /MARK usb-detached/) */
  gone?: RegExp;
  /** how long to wait for `gone` (ms, default 20000) */
  goneTimeoutMs?: number;
  /** one-way delay of the emulated link (ms) */
  delayMs?: number;
  /** usbredir channel ids to use (default: the redirector's choice, as in `usb redirect`) */
  channelIds?: number[];
  /** also open display, inputs and cursor (as a full viewer would); default: main + usbredir only */
  allChannels?: boolean;
  version: string;
  log?: Logger;
  signal?: AbortSignal;
  /** before each run: done so far, total, the cell and run number */
  onRunStart?: (done: number, total: number, cell: Cell, run: number) => void;
  onRunEnd?: (result: RunResult, done: number, total: number) => void;
}

/** A session's own points (ms from its start); in hot-plug mode they happen before any run. */
export type SessionPoints = Pick<Timeline, 'mainInit' | 'channelsListed' | 'usbredirUp' | 'helloReceived'>;

export interface CellResult {
  cell: Cell;
  summary: CellSummary;
  runs: RunResult[];
  /** SPICE sessions (main channel connections) opened for this cell: one per run, or one in all when hot-plugging */
  sessions: number;
  /** hot-plug: the first session's own points, ms from its TCP connect (null: fresh sessions) */
  sessionSetup: SessionPoints | null;
}

export interface RecognitionBenchResult {
  mode: BenchMode;
  /** what t0 is */
  t0: string;
  device: string;
  cells: CellResult[];
  /** every run succeeded */
  ok: boolean;
  /** stopped early by the signal */
  interrupted: boolean;
}

interface CellState {
  hot: HotSession | null;
  sessions: number;
  setup: SessionPoints | null;
}

/** The shaped endpoint: same password, the shaper's ports on 127.0.0.1. */
async function shapedEndpoint(shaper: LinkShaper, ep: Endpoint): Promise<Endpoint> {
  const out: Endpoint = { host: '127.0.0.1', password: ep.password };
  if (ep.unixPath) {
    out.port = await shaper.listen({ path: ep.unixPath });
    return out;
  }
  const target = (port: number): ShaperTarget => ({ host: ep.host!, port });
  if (ep.port !== undefined) out.port = await shaper.listen(target(ep.port));
  if (ep.tlsPort !== undefined) out.tlsPort = await shaper.listen(target(ep.tlsPort));
  return out;
}

const DEFAULT_GONE = /MARK usb-detached\b/;
const FATAL: ReadonlySet<string> = new Set(['usage', 'input', 'auth', 'tls']);
const READS: ReadonlySet<number> = new Set([Opcode.read6, Opcode.read10, Opcode.read12, Opcode.read16, Opcode.readCd]);

export async function runRecognitionBench(o: RecognitionBenchOptions): Promise<RecognitionBenchResult> {
  if (o.runs < 1) throw new SpiceError('usage', '--runs must be at least 1');
  if (o.cells.some((c) => c.limit !== null) && o.session.proxy) {
    throw new SpiceError('usage', '--limit emulates the link itself and cannot be combined with an HTTP proxy (--proxy / SPICE_PROXY): give --proxy ""');
  }
  const mode: BenchMode = o.hotplug ? 'hotplug' : 'fresh-session';
  // Fresh sessions of one rate share a shaper; a hot session gets its own (per cell), so no
  // connection of another session is ever in its counts.
  const links = new Map<string, Link>();
  const results = new Map<Cell, RunResult[]>(o.cells.map((c) => [c, []]));
  const states = new Map<Cell, CellState>(o.cells.map((c) => [c, { hot: null, sessions: 0, setup: null }]));
  // Fresh sessions: interleaved (run 1 of every cell, then run 2, ...) so that drift of a
  // shared machine spreads over all cells instead of favouring the first. Hot-plug: a SPICE
  // server serves one client at a time (a new session drops the old one), so the cells take
  // turns: every run of one cell in its one session, then the next cell.
  const runs = Array.from({ length: o.runs }, (_, i) => i + 1);
  const schedule = o.hotplug
    ? o.cells.flatMap((cell) => runs.map((run) => ({ cell, run })))
    : runs.flatMap((run) => o.cells.map((cell) => ({ cell, run })));
  let done = 0;
  let interrupted = false;
  try {
    for (const { cell, run } of schedule) {
      if (o.signal?.aborted) {
        interrupted = true;
        break;
      }
      let link: Link | null = null;
      if (cell.limit !== null) {
        const key = o.hotplug ? cellName(cell) : String(cell.limit);
        link = links.get(key) ?? null;
        if (!link) {
          const shaper = new LinkShaper({ rate: cell.limit, delayMs: o.delayMs });
          link = { shaper, endpoint: await shapedEndpoint(shaper, o.session.endpoint) };
          links.set(key, link);
        }
      }
      const state = states.get(cell)!;
      o.onRunStart?.(done, schedule.length, cell, run);
      const r = await runOnce(o, cell, run, link, done === schedule.length - 1, state);
      results.get(cell)!.push(r);
      done++;
      o.onRunEnd?.(r, done, schedule.length);
      if (r.error?.code === 'ok') {
        interrupted = true;
        break;
      }
      // A bad image, a refused device or wrong credentials will not fix themselves.
      if (r.error && FATAL.has(r.error.code)) break;
      if (state.hot && run === o.runs) {
        await closeTarget(state.hot, o.log);
        state.hot = null;
      }
    }
  } finally {
    await Promise.all([...states.values()].map((s) => (s.hot ? closeTarget(s.hot, o.log) : undefined)));
    await Promise.all([...links.values()].map((s) => s.shaper.close()));
  }
  const cells = o.cells.map((cell) => {
    const runs = results.get(cell)!;
    const st = states.get(cell)!;
    return { cell, runs, summary: summarizeCell(cell, runs), sessions: st.sessions, sessionSetup: st.setup };
  });
  return { mode, t0: MODE_T0[mode], device: describeSource(o.source), cells, ok: !interrupted && cells.every((c) => c.runs.every((r) => r.ok)), interrupted };
}

/**
 * One run's measurements: its clock (t0), the recognition recorder, the guest oracle, the
 * timeline and the idle detector. begin() starts the clock.
 */
class RunProbe {
  readonly rec = new RecognitionRecorder();
  t0 = this.rec.report().startedAt;
  guest: GuestLog | null = null;
  readonly timeline = emptyTimeline();
  readonly settle: SettleDetector;
  readyHit: LogLine | null = null;

  constructor(private readonly o: RecognitionBenchOptions) {
    this.settle = new SettleDetector(o.settleMs, o.source.kind === 'device' ? 'configured' : 'scsi');
  }

  /** t0 is now. */
  begin(): void {
    this.rec.reset();
    this.t0 = this.rec.report().startedAt;
  }

  /**
   * Follows the guest log from `fromOffset` (its size before t0), with times since t0, and
   * starts the oracle's wait. Called once the plug has left (as bench/recognition.ts does for
   * QEMU's own device), so that opening the log is not counted as the client's time.
   */
  follow(fromOffset: number, signal: AbortSignal): void {
    if (!this.o.guestLog) return;
    this.guest = new GuestLog(this.o.guestLog, this.t0, fromOffset).start();
    if (this.o.ready) {
      void this.guest.waitFor(this.o.ready, this.o.timeoutMs + 1000, 0, signal).then((l) => {
        this.readyHit = l;
      });
    }
  }

  readonly since = (): number => performance.now() - this.t0;

  /** A session point, the first time it happens. */
  readonly point = (k: keyof SessionPoints): void => {
    this.timeline[k] ??= this.since();
  };

  readonly onTrace = (_i: number, ev: UsbTraceEvent): void => {
    this.rec.record(ev);
    const t = ev.t - this.t0;
    if (ev.kind === 'device') {
      const d = ev.event;
      if (d.kind === 'scsi-command' || d.kind === 'scsi-status') this.settle.activity(t, 'scsi');
      if (d.kind === 'scsi-command' && READS.has(d.opcode) && (d.blocks ?? 0) > 0) this.timeline.firstRead ??= t;
    } else if (ev.kind === 'set-configuration') this.settle.activity(t, 'configured');
    else if (ev.kind === 'control' || ev.kind === 'bulk' || ev.kind === 'set-alt-setting') this.settle.activity(t, 'transfer');
  };

  timeoutError(): SpiceError {
    const what = [
      this.settle.settledAt(this.since()) === null ? (this.settle.isArmed ? 'the device to settle' : 'the first SCSI command') : null,
      this.o.ready && this.guest && !this.readyHit ? `the guest oracle /${this.o.ready.source}/` : null,
    ].filter(Boolean).join(' and ');
    return new SpiceError('timeout', `run timed out after ${this.o.timeoutMs / 1000} s waiting for ${what || 'the session'}`);
  }
}


/**
 * One run: plug (fresh: a new session; hot: into the cell's open session), wait until settled
 * (and the oracle), unplug, wait for the guest to report the device gone.
 */
async function runOnce(o: RecognitionBenchOptions, cell: Cell, run: number, link: Link | null, last: boolean, state: CellState): Promise<RunResult> {
  const probe = new RunProbe(o);
  const guard = new RunGuard(o.signal);
  // --timeout counts from t0: opening a hot session (before t0) has bounds of its own.
  let timer: NodeJS.Timeout | undefined;
  let rejectLate: (e: SpiceError) => void = () => {};
  const deadline = new Promise<never>((_, reject) => (rejectLate = reject));
  deadline.catch(() => {});
  let logFrom = 0;
  const begin = () => {
    // The log's size is taken before t0: a guest line can only come after the plug anyway.
    logFrom = o.guestLog ? fileSize(o.guestLog) : 0;
    probe.begin();
    timer = setTimeout(() => rejectLate(probe.timeoutError()), o.timeoutMs);
  };
  const follow = () => probe.follow(logFrom, guard.abort.signal);
  const race = <T>(p: Promise<T>) => Promise.race([p, guard.failed, deadline]);

  let target: Target | null = null;
  let start: ByteCounters | null = null;
  let failure: SpiceError | null = null;
  try {
    if (o.hotplug) {
      if (state.hot && !usable(state.hot)) {
        o.log?.info({ cell: cellName(cell) }, 'bench: the hot session is gone; opening a new one');
        await closeTarget(state.hot, o.log);
        state.hot = null;
      }
      if (!state.hot) {
        state.sessions++;
        state.hot = await openHot(o, cell, link, guard, race);
        state.setup ??= state.hot.points;
      } else guard.watch(state.hot, o.source);
      const hot: HotSession = state.hot;
      target = hot;
      start = countersNow(hot, link);
      begin();
      hot.trace = probe.onTrace;
      // The plug answers nothing the server sent: the idle time before it is not the client's.
      hot.redirector.items[0]?.channel.stats.turns.idle();
      hot.host.connect();
      follow();
    } else {
      begin();
      follow();
      state.sessions++;
      target = newTarget(o, cell, link, probe.onTrace, probe.point);
      guard.watch(target, o.source);
      await race(target.session.connect());
      // As `usb redirect` does it: the redirector picks the channel ids (the listed ones, or
      // guessed ones right after MAIN_INIT) unless --channel-ids names them.
      await race(target.redirector.start([o.source]));
    }
    await settled(o, probe, link, race);
  } catch (e) {
    failure = e instanceof SpiceError ? e : new SpiceError('protocol', (e as Error).message, { cause: e });
  } finally {
    clearTimeout(timer);
  }
  guard.finish();
  const settledAt = probe.settle.settledAt(probe.since()) ?? (failure ? probe.settle.lastActivity : null);

  // Bytes at the end of the recognition (before the detach adds its own).
  const counted = target ? runBytes(countersNow(target, link), start) : runBytes({ usbredir: null, channels: {}, link: null, turns: null }, null);
  const report = probe.rec.report();
  const lz4 = target?.redirector.items[0]?.channel.compressing ?? false;

  // Detach: device_disconnect (+ ack); a fresh session also closes the image and the sockets.
  // Then let the guest notice.
  const detachStart = performance.now();
  const guest = probe.guest;
  const fromLine = guest ? (guest.read(), guest.lines.length) : 0;
  if (target) await unplug(o, target, state);
  let by: RunResult['detach']['by'] = 'none';
  const interrupted = failure?.code === 'ok';
  if (guest && report.deviceConnectSent !== null && !interrupted) {
    const hit = await guest.waitFor(o.gone ?? DEFAULT_GONE, o.goneTimeoutMs ?? 20_000, fromLine, o.signal);
    by = hit ? 'guest' : 'timeout';
    // What the guest still prints about the vanished device belongs to this run, not the next.
    await guest.waitQuiet(300, 3000, o.signal);
  } else if (!last && !interrupted) {
    await sleep(o.gapMs, undefined, { signal: o.signal }).catch(() => {});
    by = 'gap';
  }
  // The recognition's marks: what the guest printed before we started to detach.
  const marks = guest ? guest.marks(fromLine) : {};
  guest?.stop();

  return {
    cell: cellName(cell),
    compress: cell.compress,
    limit: cell.limit,
    run,
    ok: failure === null,
    ...(failure ? { error: { code: failure.code, message: failure.message } } : {}),
    timeline: timelineFromRecognition(probe.timeline, report, settledAt),
    ready: probe.readyHit ? (probe.readyHit as LogLine).t : null,
    ...(probe.readyHit ? { readyLine: (probe.readyHit as LogLine).line } : {}),
    marks,
    bytes: counted.bytes,
    client: counted.client,
    lz4,
    scsi: { commands: report.scsiCommands, failures: report.scsiFailures, opcodes: report.opcodes, senses: report.senses },
    controlRequests: report.controlRequests,
    channels: counted.channels,
    ...(counted.link ? { link: counted.link } : {}),
    detach: { ms: Math.round(performance.now() - detachStart), by },
  };
}

/**
 * Settled (idle for settleMs after the last command) and, with an oracle, ready. On a limited
 * link, bytes of the usbredir connection still crossing it count as activity.
 */
async function settled(o: RecognitionBenchOptions, probe: RunProbe, link: Link | null, race: <T>(p: Promise<T>) => Promise<T>): Promise<void> {
  const { settle } = probe;
  const linkActivity = () => {
    const c = link?.shaper.find(ChannelType.usbredir);
    if (!c) return;
    if (c.up.busy || c.down.busy) settle.activity(probe.since(), 'link');
    const doneAt = Math.max(c.up.lastDoneAt ?? -Infinity, c.down.lastDoneAt ?? -Infinity);
    if (Number.isFinite(doneAt)) settle.activity(doneAt - probe.t0, 'link');
  };
  for (;;) {
    linkActivity();
    const rem = settle.remaining(probe.since());
    if (rem === 0 && (!o.ready || !probe.guest || probe.readyHit)) return;
    await race(sleep(rem === null || rem === 0 ? 25 : Math.min(rem + 1, link ? 50 : 250)));
  }
}

/**
 * Fresh session: unplug and close everything. Hot: unplug (device_disconnect + ack) and keep
 * the session for the next run, unless it died; then the next run opens a new one.
 */
async function unplug(o: RecognitionBenchOptions, target: Target, state: CellState): Promise<void> {
  const hot = state.hot;
  if (!hot || target !== hot) return closeTarget(target, o.log);
  await Promise.race([hot.host.detach(), sleep(10_000, undefined, { ref: false })]);
  hot.trace = null;
  if (!usable(hot)) {
    await closeTarget(hot, o.log);
    state.hot = null;
  }
}
