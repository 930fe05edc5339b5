import type { Command } from 'commander';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpiceError, type ErrorCode } from '../util/errors.js';
import { printError, printJson, printLine } from '../util/output.js';
import { SessionAudio, WavSource } from '../audio/session-audio.js';
import { parseResolution, readTextArg } from '../session/agent/goals.js';
import { parseMaxClipboard } from './clipboard.js';
import { Session } from '../session/session.js';
import { buildReport, runConnect, sendStrokes, type ConnectGoals } from '../session/run.js';
import { strokesForCombo } from '../session/keymap.js';
import { SessionMonitor } from '../session/stats/monitor.js';
import { encodeSurfacePngAsync } from '../render/outputs/frames.js';
import { interactive, openLiveView, prepareLiveDisplay, startStatsLines, type DisplayChoice, type LiveDisplay, type StatsPrinter } from '../render/tui/live.js';
import type { TuiHandle } from '../render/tui/run-tui.js';
import { addConnectionOptions, anySignal, millis, seconds, sessionOptions, withSignals, type ConnectionFlags } from './connection-options.js';
import { ChannelType, ImageCompression } from '../session/wire/enums.js';

const COMPRESSIONS: Record<string, number | null> = {
  lz4: ImageCompression.lz4, 'auto-glz': ImageCompression.autoGlz, 'auto-lz': ImageCompression.autoLz,
  quic: ImageCompression.quic, glz: ImageCompression.glz, lz: ImageCompression.lz, off: ImageCompression.off, server: null,
};

function displayMode(v: string | undefined): DisplayChoice {
  if (v === undefined) return 'auto';
  if (v === 'auto' || v === 'none' || v === 'sixel' || v === 'ansi') return v;
  throw new SpiceError('usage', `--display must be auto, sixel, ansi or none, not "${v}"`);
}

/** A whole number of milliseconds >= min from a flag, or undefined when the flag is absent. */
/** spicectl-20261121-153012-1.png: sortable, and unique within a run. */
function snapshotName(n: number): string {
  const d = new Date();
  const p = (v: number) => String(v).padStart(2, '0');
  return `spicectl-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}-${n}.png`;
}

interface ConnectFlags extends ConnectionFlags {
  check?: boolean;
  timeout?: string;
  duration?: string;
  screenshot?: string;
  settle?: string;
  type?: string;
  key?: string[];
  json?: boolean;
  display?: string;
  screenshotEvery?: string;
  screenshotDir?: string;
  preferredCompression?: string;
  tui?: boolean;
  statsInterval?: string;
  refresh?: string;
  pingInterval?: string;
  clipboardSet?: string;
  resolution?: string;
  maxClipboard?: string;
  audioOut?: string;
  audioIn?: string;
}

export async function connectAction(uri: string, flags: ConnectFlags): Promise<number> {
  const display = displayMode(flags.display);
  const pc = flags.preferredCompression ?? 'lz4';
  if (!(pc in COMPRESSIONS)) {
    throw new SpiceError('usage', `--preferred-compression must be one of ${Object.keys(COMPRESSIONS).join(', ')}, not "${pc}"`);
  }
  let screenshotEveryMs: number | undefined;
  if (flags.screenshotEvery !== undefined) {
    screenshotEveryMs = Number(flags.screenshotEvery);
    if (!Number.isInteger(screenshotEveryMs) || screenshotEveryMs < 10) {
      throw new SpiceError('usage', `--screenshot-every must be a whole number of milliseconds (at least 10), not "${flags.screenshotEvery}"`);
    }
    if (!flags.screenshotDir) throw new SpiceError('usage', '--screenshot-every needs --screenshot-dir DIR');
  }
  const statsIntervalMs = millis(flags.statsInterval, '--stats-interval', 50);
  const refreshMs = millis(flags.refresh, '--refresh', 50);
  const pingIntervalMs = millis(flags.pingInterval, '--ping-interval', 0);
  if (pingIntervalMs !== undefined && pingIntervalMs > 0 && pingIntervalMs < 100) throw new SpiceError('usage', '--ping-interval must be 0 (off) or at least 100 ms');
  // The live view is for staying connected: one-shot goals, JSON reports and stats lines keep
  // the plain output unless --tui insists.
  const oneShot = !!flags.check || !!flags.screenshot;
  const tui = flags.tui ?? (!oneShot && !flags.json && statsIntervalMs === undefined && interactive());
  if (tui && statsIntervalMs !== undefined) throw new SpiceError('usage', '--stats-interval prints lines on stdout: it cannot be combined with --tui');
  // Off the live view, the display is drawn on the whole terminal only when asked (sixel or ansi).
  const plainDisplay = display === 'auto' ? 'none' : display;
  if (!tui && plainDisplay !== 'none' && flags.json) throw new SpiceError('usage', '--display draws on stdout: it cannot be combined with --json');
  // Logs must not land on the terminal the live view owns: a --log-file, or nothing.
  const logFlags = tui && !flags.logFile ? { ...flags, logLevel: 'silent' } : flags;
  // Agent and audio inputs are read and checked before connecting: a bad file is a local problem.
  const clipboardSet = flags.clipboardSet !== undefined ? readTextArg(flags.clipboardSet, '--clipboard-set') : undefined;
  const resolution = flags.resolution !== undefined ? parseResolution(flags.resolution) : undefined;
  const audioIn = flags.audioIn ? WavSource.load(flags.audioIn) : undefined;
  const { options, log } = await sessionOptions(uri, logFlags);
  const autoOpen: number[] = [ChannelType.display, ChannelType.inputs, ChannelType.cursor];
  if (flags.audioOut) autoOpen.push(ChannelType.playback);
  if (audioIn) autoOpen.push(ChannelType.record);
  const session = new Session({
    ...options, preferredCompression: COMPRESSIONS[pc], autoOpen, agent: { maxClipboard: parseMaxClipboard(flags.maxClipboard) },
  });
  const audio = flags.audioOut || audioIn ? new SessionAudio(session, { out: flags.audioOut, in: audioIn, log }) : null;
  const monitor = new SessionMonitor(session, { pingIntervalMs });
  return withSignals(async (signal) => {
    const quit = new AbortController();
    const goals: ConnectGoals = {
      check: flags.check,
      screenshot: flags.screenshot,
      settleMs: flags.settle !== undefined ? Number(flags.settle) : undefined,
      type: flags.type?.replace(/\\n/g, '\n').replace(/\\t/g, '\t'),
      keys: flags.key,
      timeoutMs: seconds(flags.timeout, '--timeout'),
      durationMs: seconds(flags.duration, '--duration'),
      display: tui ? 'none' : plainDisplay,
      screenshotEveryMs,
      screenshotDir: flags.screenshotDir,
      stay: tui && !oneShot,
      agent: clipboardSet !== undefined || resolution ? { clipboardSet, resolution } : undefined,
      onWarning: (m) => (tui ? log.warn(m) : printError(`warning: ${m}`)),
      signal: anySignal(signal, quit.signal),
    };
    let view: TuiHandle | null = null;
    let live: LiveDisplay | null = null;
    let stats: StatsPrinter | null = null;
    let extra = {};
    let failure: SpiceError | null = null;
    try {
      if (tui) {
        live = await prepareLiveDisplay(display, () => ({ surface: session.display?.primary, version: session.display?.draws ?? 0 }));
        view = await openLiveView(liveViewOptions(session, monitor, live, { refreshMs, dir: flags.screenshotDir, onQuit: () => quit.abort() }), flags.tui === true);
        // A failure to render (not a user's q) ends the session too.
        view.done.catch(() => quit.abort());
      } else if (statsIntervalMs !== undefined) {
        stats = startStatsLines(() => monitor.snapshot(), statsIntervalMs);
      }
      extra = await runConnect(session, goals);
    } catch (e) {
      // q in the live view (or Ctrl-C) before the goals were reached is a normal end.
      const interrupted = e instanceof SpiceError && e.code === 'ok';
      if (!(interrupted && quit.signal.aborted)) failure = e instanceof SpiceError ? e : new SpiceError('protocol', (e as Error).message, { cause: e });
    } finally {
      // Give the terminal back before anything else is printed.
      view?.stop();
      await view?.done.catch(() => {});
      await live?.close();
    }
    // An agent goal that failed (the session went on) still makes the exit code say so.
    const agentError = (extra as { agent?: { error?: { code: string; message: string } } }).agent?.error;
    if (!failure && agentError) failure = new SpiceError(agentError.code as ErrorCode, agentError.message);
    if (failure && !session.error) session.error = failure;
    audio?.close();
    if (audio) extra = { ...extra, audio: audio.report() };
    // The report shows the channels as they were at the end, before we close them.
    const report = buildReport(session, { ...extra, live: monitor.summary() });
    monitor.stop();
    session.close();
    if (stats) {
      // The last line carries the totals: every byte the server sent until it closed is counted.
      await session.whenClosed();
      stats.stop(true);
    }
    // With stats lines, stdout stays NDJSON: the report (--json) on one line, no summary.
    if (flags.json) stats ? printLine(JSON.stringify(report)) : printJson(report);
    else if (!failure && !stats) printLine(summary(report));
    if (failure) throw failure;
    return 0;
  });
}

/** The live view's callbacks for a connect session: snapshot (s), Ctrl-Alt-Del (k), quit (q). */
function liveViewOptions(
  session: Session,
  monitor: SessionMonitor,
  live: LiveDisplay,
  o: { refreshMs?: number; dir?: string; onQuit: () => void },
) {
  let shots = 0;
  return {
    getSnapshot: () => monitor.snapshot(),
    refreshMs: o.refreshMs,
    renderDisplay: live.renderDisplay,
    restore: live.restore,
    onQuit: o.onQuit,
    onSnapshot: async () => {
      const surface = session.display?.primary;
      if (!surface) throw new Error('nothing drawn yet');
      const file = join(o.dir ?? '.', snapshotName(++shots));
      // Compressed in zlib's thread pool: the channels keep running meanwhile.
      const png = await encodeSurfacePngAsync(surface);
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, png);
      await rename(tmp, file);
      return file;
    },
    onCtrlAltDel: () => {
      if (!session.inputs) throw new Error('the inputs channel is not open');
      void sendStrokes(session, strokesForCombo('ctrl+alt+del')).catch(() => {});
    },
  };
}

function summary(r: ReturnType<typeof buildReport>): string {
  const up = r.channels.filter((c) => c.state === 'ready' || c.state === 'closed').map((c) => `${c.type}:${c.id}`).join(' ');
  const size = r.display ? ` display ${r.display.width}x${r.display.height}` : '';
  const frame = r.timings.firstFrameMs !== null ? ` first frame ${r.timings.firstFrameMs} ms` : '';
  return `ok: session ${r.sessionId ?? '-'}${r.name ? ` "${r.name}"` : ''}, channels ${up}${size}${frame}${r.screenshot ? `, screenshot ${r.screenshot}` : ''}`;
}

export function registerConnect(program: Command): void {
  const cmd = program
    .command('connect')
    .description('connect to a SPICE server: check it, take a screenshot, type keys, or stay connected')
    .argument('<uri>', 'spice://host:port, spice://host?port=P&tls-port=T, spice+tls://host:port, spice+unix:///path, or a remote-viewer FILE.vv ("-" reads it from stdin)');
  addConnectionOptions(cmd)
    .option('--check', 'exit 0 once main, display and inputs are up and a first complete frame is drawn')
    .option('--screenshot <file.png>', 'write the display as a PNG once it is drawn and idle, then exit')
    .option('--settle <ms>', 'idle time before a screenshot is taken (default 300)')
    .option('--type <text>', 'type this text with the keyboard (US layout; \\n for Enter) once the display is up')
    .option('--key <combo...>', 'press key combinations, e.g. ctrl+alt+del, up, shift+f10')
    .option('--timeout <seconds>', 'give up (exit 7) if the goals are not reached in time')
    .option('--duration <seconds>', 'stay connected this long, then exit 0')
    .option('--tui', 'show the live view (channel table, status bar, display) even when stdout is not a terminal or CI is set')
    .option('--no-tui', 'never show the live view (default on a terminal, outside CI, when staying connected)')
    .option('--display <mode>', 'the display in the live view: auto (sixel if the terminal has it, else ansi), sixel, ansi (half blocks) or none; without the live view, sixel or ansi draw it on the whole terminal')
    .option('--stats-interval <ms>', 'print one NDJSON line of stats (bytes, rates, fps, ping) every MS milliseconds on stdout, and one at the end')
    .option('--refresh <ms>', 'how often the live view redraws (default 250, at least 50)')
    .option('--ping-interval <ms>', 'measure the round trip every MS milliseconds with zero mouse motions (server mouse mode; default 2000, 0 = off)')
    .option('--screenshot-every <ms>', 'while connected, write a numbered PNG of the display every MS milliseconds when it changed')
    .option('--screenshot-dir <dir>', 'directory for --screenshot-every (frame-000001.png, ...) and the live view\'s s key (default: the current directory)')
    .option('--preferred-compression <mode>', 'image compression to ask for: lz4 (default), auto-glz, auto-lz, quic, glz, lz, off, or server (keep the server\'s)')
    .option('--clipboard-set <text>', 'put TEXT (or @FILE\'s text) on the guest clipboard through the agent; the guest keeps it while spicectl is connected')
    .option('--resolution <WxH>', 'ask the guest agent for this display size, e.g. 1280x800')
    .option('--max-clipboard <bytes>', 'largest clipboard sent or accepted (default 100M; -1 = no limit)')
    .option('--audio-out <file.wav>', 'write the playback channel to a WAV file (RAW PCM; muted audio is written as silence)')
    .option('--audio-in <file.wav>', 'feed the record channel (the guest microphone) from a WAV file, converted to the server\'s rate (48 kHz stereo S16)')
    .option('--json', 'print one JSON report on stdout')
    .action(async (uri: string, flags: ConnectFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as ConnectFlags;
      process.exitCode = await connectAction(uri, { ...globals, ...flags });
    });
}
