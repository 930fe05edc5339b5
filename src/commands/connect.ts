import type { Command } from 'commander';
import { SpiceError } from '../util/errors.js';
import { printJson, printLine } from '../util/output.js';
import { Session } from '../session/session.js';
import { buildReport, runConnect, type ConnectGoals } from '../session/run.js';
import { addConnectionOptions, seconds, sessionOptions, withSignals, type ConnectionFlags } from './connection-options.js';
import { ImageCompression } from '../session/wire/enums.js';

const COMPRESSIONS: Record<string, number | null> = {
  lz4: ImageCompression.lz4, 'auto-glz': ImageCompression.autoGlz, 'auto-lz': ImageCompression.autoLz,
  quic: ImageCompression.quic, glz: ImageCompression.glz, lz: ImageCompression.lz, off: ImageCompression.off, server: null,
};

function displayMode(v: string | undefined): 'sixel' | 'ansi' | 'none' {
  if (v === undefined || v === 'none' || v === 'sixel' || v === 'ansi') return v ?? 'none';
  throw new SpiceError('usage', `--display must be sixel, ansi or none, not "${v}"`);
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
  if (display !== 'none' && flags.json) throw new SpiceError('usage', '--display draws on stdout: it cannot be combined with --json');
  const { options } = await sessionOptions(uri, flags);
  const session = new Session({ ...options, preferredCompression: COMPRESSIONS[pc] });
  return withSignals(async (signal) => {
    const goals: ConnectGoals = {
      check: flags.check,
      screenshot: flags.screenshot,
      settleMs: flags.settle !== undefined ? Number(flags.settle) : undefined,
      type: flags.type?.replace(/\\n/g, '\n').replace(/\\t/g, '\t'),
      keys: flags.key,
      timeoutMs: seconds(flags.timeout, '--timeout'),
      durationMs: seconds(flags.duration, '--duration'),
      display,
      screenshotEveryMs,
      screenshotDir: flags.screenshotDir,
      signal,
    };
    let extra = {};
    let failure: SpiceError | null = null;
    try {
      extra = await runConnect(session, goals);
    } catch (e) {
      failure = e instanceof SpiceError ? e : new SpiceError('protocol', (e as Error).message, { cause: e });
    }
    if (failure && !session.error) session.error = failure;
    // The report shows the channels as they were at the end, before we close them.
    const report = buildReport(session, extra);
    session.close();
    if (flags.json) printJson(report);
    else if (!failure) printLine(summary(report));
    if (failure) throw failure;
    return 0;
  });
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
    .option('--display <mode>', 'show the display in this terminal while connected: sixel, ansi (half blocks) or none')
    .option('--screenshot-every <ms>', 'while connected, write a numbered PNG of the display every MS milliseconds when it changed')
    .option('--screenshot-dir <dir>', 'directory for --screenshot-every (frame-000001.png, frame-000002.png, ...)')
    .option('--preferred-compression <mode>', 'image compression to ask for: lz4 (default), auto-glz, auto-lz, quic, glz, lz, off, or server (keep the server\'s)')
    .option('--json', 'print one JSON report on stdout')
    .action(async (uri: string, flags: ConnectFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as ConnectFlags;
      process.exitCode = await connectAction(uri, { ...globals, ...flags });
    });
}
