import { setTimeout as sleep } from 'node:timers/promises';
import { SpiceError } from '../util/errors.js';
import { writeSurfacePng } from '../render/outputs/screenshot.js';
import { FrameSink, type FrameSinkStats } from '../render/outputs/frames.js';
import { strokesForCombo, strokesForText, type KeyStroke } from './keymap.js';
import type { Session } from './session.js';
import { runAgentGoals, type AgentGoals, type AgentGoalsReport } from './agent/goals.js';
import { MouseMode, channelName } from './wire/enums.js';

export interface ConnectGoals {
  /** succeed once main, display and inputs are up and a first complete frame is drawn */
  check?: boolean;
  screenshot?: string;
  /** the display must be idle this long before a screenshot (ms) */
  settleMs?: number;
  type?: string;
  keys?: string[];
  timeoutMs?: number;
  /** stay connected this long (ms), then leave cleanly */
  durationMs?: number;
  /** show the display in the terminal while connected (stays connected until --duration or Ctrl-C) */
  display?: 'sixel' | 'ansi' | 'none';
  /** write a numbered PNG of the display every this many ms when it changed, into screenshotDir */
  screenshotEveryMs?: number;
  screenshotDir?: string;
  /** where terminal frames go (default process.stdout) */
  terminalOut?: NodeJS.WriteStream;
  /** stay connected after the goals (until durationMs, the signal, or the session ends): the live view */
  stay?: boolean;
  /** guest agent goals (--clipboard-set, --resolution); failures are reported, the session goes on */
  agent?: AgentGoals;
  /** called with a one-line warning when an agent goal fails */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

export interface ConnectReport {
  ok: boolean;
  protocol: string;
  sessionId: number | null;
  name: string | null;
  uuid: string | null;
  mouseMode: string | null;
  agentConnected: boolean;
  timings: Record<string, number | null>;
  channels: ReturnType<import('./channels/channel.js').Channel['describe']>[];
  notOpened: { channel: string; why: string }[];
  display: null | {
    width: number; height: number; surfaces: number; draws: number;
    imageCodecs: Record<string, number>; unhandled: Record<string, number>;
    ops: Record<string, number>; streams: Record<string, number>;
  };
  frames?: FrameSinkStats;
  /** display frames and ping round trips measured while connected (see stats/monitor.ts) */
  live?: import('./stats/monitor.js').MonitorSummary;
  screenshot?: string;
  typed?: number;
  /** agent goals: what happened to --clipboard-set / --resolution (error = the first problem) */
  agent?: AgentGoalsReport;
  /** --audio-out / --audio-in (see audio/session-audio.ts) */
  audio?: ReturnType<import('../audio/session-audio.js').SessionAudio['report']>;
  error?: { code: string; exitCode: number; message: string };
}

const round = (v: number | undefined | null) => (v === undefined || v === null ? null : Math.round(v * 10) / 10);

export function buildReport(session: Session, extra: Partial<ConnectReport> = {}): ConnectReport {
  const m = session.main;
  const d = session.display;
  const primary = d?.primary;
  const mm = m.info.mouseMode?.current;
  return {
    ok: !session.error,
    protocol: '2.2',
    sessionId: m.info.init?.sessionId ?? null,
    name: m.info.name,
    uuid: m.info.uuid,
    mouseMode: mm === undefined ? null : mm === MouseMode.client ? 'client' : 'server',
    agentConnected: m.info.agentConnected,
    timings: {
      tcpMs: round(m.timings.connectMs),
      tlsMs: round(m.timings.tlsMs),
      linkMs: round(m.timings.linkMs),
      authMs: round(m.timings.authMs),
      mainReadyMs: round(m.timings.readyAtMs),
      firstFrameMs: round(d?.markAtMs),
    },
    channels: session.channels.map((c) => c.describe()),
    notOpened: session.notOpened.map((c) => ({ channel: `${channelName(c.type)}:${c.id}`, why: c.why })),
    display: d
      ? {
          width: primary?.width ?? 0, height: primary?.height ?? 0, surfaces: d.surfaces.size, draws: d.draws,
          imageCodecs: { ...d.imageTypes }, unhandled: { ...d.unsupported },
          ops: { ...d.ops }, streams: { ...d.streamStats },
        }
      : null,
    ...extra,
    ...(session.error ? { error: { code: session.error.code, exitCode: session.error.exitCode, message: session.error.message } } : {}),
  };
}

/** Rejects with a timeout error naming what was being waited for. */
function deadline(ms: number | undefined, what: () => string, signal?: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (!ms) return;
    const t = setTimeout(() => reject(new SpiceError('timeout', `timed out after ${ms / 1000} s waiting for ${what()}`)), ms);
    t.unref();
    signal?.addEventListener('abort', () => clearTimeout(t));
  });
}

/** Resolves once no draw has happened for settleMs (bounded by the caller's deadline). */
async function settle(session: Session, settleMs: number): Promise<void> {
  const d = session.display!;
  for (;;) {
    const idle = performance.now() - session.t0 - d.lastDrawAtMs;
    if (idle >= settleMs) return;
    await sleep(Math.max(10, settleMs - idle));
  }
}

/** Presses and releases keys on the inputs channel, in order, with a short gap between events. */
export async function sendStrokes(session: Session, strokes: KeyStroke[]): Promise<void> {
  const inputs = session.inputs;
  if (!inputs) throw new SpiceError('protocol', 'the inputs channel is not open');
  for (const s of strokes) {
    inputs.key(s);
    // A short gap keeps guests with slow keyboard handling from dropping repeats.
    await sleep(2);
  }
}

/**
 * Runs one connect: link, wait for the goals, act (type, screenshot), then close.
 * Throws SpiceError on failure; the session's report is available either way.
 */
export async function runConnect(session: Session, goals: ConnectGoals): Promise<Partial<ConnectReport>> {
  let waitingFor = 'the main channel';
  const limit = deadline(goals.timeoutMs, () => waitingFor, goals.signal);
  const aborted = new Promise<never>((_, reject) => {
    goals.signal?.addEventListener('abort', () => reject(new SpiceError('ok', 'interrupted')));
  });
  const race = <T>(p: Promise<T>) => Promise.race([p, limit, session.failure(), aborted]);
  const extra: Partial<ConnectReport> = {};

  // Parse key input before connecting: a typo is a usage error, not a session.
  const strokes: KeyStroke[] = [];
  if (goals.type) strokes.push(...strokesForText(goals.type));
  for (const k of goals.keys ?? []) strokes.push(...strokesForCombo(k));

  await race(session.connect());
  // Agent goals first: a clipboard must be offered before --key ctrl+v pastes it.
  if (goals.agent && (goals.agent.clipboardSet !== undefined || goals.agent.resolution)) {
    waitingFor = 'the guest agent';
    extra.agent = (await race(runAgentGoals(session, goals.agent, goals.onWarning ?? (() => {})))).report;
  }
  const live = (!!goals.display && goals.display !== 'none') || !!goals.screenshotEveryMs;
  const needFrame = goals.check || goals.screenshot || strokes.length > 0 || live;
  if (needFrame) {
    waitingFor = 'the display, inputs and cursor channels';
    await race(session.waitFor(() => session.main.info.channels.length > 0));
    waitingFor = 'the first complete frame';
    await race(session.waitFor(() => {
      const d = session.display;
      return !!d && d.state === 'ready' && d.marked && !!session.inputs;
    }));
  }
  if (strokes.length) {
    waitingFor = 'the keys to be sent';
    await race(sendStrokes(session, strokes));
    extra.typed = strokes.length;
  }
  if (goals.screenshot) {
    waitingFor = `the display to be idle for ${goals.settleMs ?? 300} ms`;
    await race(settle(session, goals.settleMs ?? 300));
    const primary = session.display!.primary;
    if (!primary) throw new SpiceError('protocol', 'the server drew no primary surface');
    writeSurfacePng(primary, goals.screenshot);
    extra.screenshot = goals.screenshot;
  }
  let sink: FrameSink | null = null;
  const out = goals.terminalOut ?? process.stdout;
  const terminal = goals.display && goals.display !== 'none' ? goals.display : null;
  if (live) {
    sink = new FrameSink({
      source: () => ({ surface: session.display?.primary, version: session.display?.draws ?? 0 }),
      screenshotEveryMs: goals.screenshotEveryMs,
      screenshotDir: goals.screenshotDir,
      terminal: terminal
        ? { format: terminal, out, cols: out.columns ?? 80, rows: Math.max(1, (out.rows ?? 24) - 1) }
        : undefined,
      onError: (e) => session.log.warn({ err: e.message }, 'screenshots stopped'),
    });
    if (terminal) out.write('\x1b[2J\x1b[?25l');
    sink.start();
  }
  try {
    if (!needFrame || goals.durationMs || live || goals.stay) {
      waitingFor = 'the end of the session';
      const stay = goals.durationMs ? sleep(goals.durationMs) : new Promise<void>(() => {});
      try {
        await race(stay);
      } catch (e) {
        if (!(e instanceof SpiceError && e.code === 'ok')) throw e;
      }
    }
  } finally {
    if (sink) {
      await sink.stop();
      extra.frames = sink.stats;
      if (terminal) out.write('\x1b[0m\x1b[?25h\n');
    }
  }
  return extra;
}
