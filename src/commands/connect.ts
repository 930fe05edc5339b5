import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SpiceError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { resolvePassword } from '../util/secrets.js';
import { printJson, printLine } from '../util/output.js';
import { Session } from '../session/session.js';
import { buildReport, runConnect, type ConnectGoals } from '../session/run.js';
import { parseSpiceUri } from '../session/uri.js';

interface ConnectFlags {
  passwordFile?: string;
  passwordEnv?: string;
  passwordStdin?: boolean;
  caFile?: string;
  hostSubject?: string;
  secureChannels?: string;
  disableChannels?: string;
  check?: boolean;
  timeout?: string;
  duration?: string;
  screenshot?: string;
  settle?: string;
  type?: string;
  key?: string[];
  json?: boolean;
  logFile?: string;
  logLevel?: string;
}

function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new SpiceError('usage', `${flag} must be a positive number of seconds, not "${v}"`);
  return n * 1000;
}

function readCa(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    const pem = readFileSync(file, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return pem;
  } catch (e) {
    throw new SpiceError('tls', `cannot use CA file ${file}: ${(e as Error).message}`);
  }
}

const list = (v?: string) => v?.split(/[,;]/).map((s) => s.trim()).filter(Boolean);

export async function connectAction(uri: string, flags: ConnectFlags): Promise<number> {
  const endpoint = parseSpiceUri(uri);
  const password = await resolvePassword({ ...flags, inline: endpoint.password });
  const log = createLogger({ level: flags.logLevel, file: flags.logFile });
  const session = new Session({
    endpoint,
    password,
    tls: { ca: readCa(flags.caFile), hostSubject: flags.hostSubject },
    secureChannels: list(flags.secureChannels),
    disableChannels: list(flags.disableChannels),
    log,
  });
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const goals: ConnectGoals = {
    check: flags.check,
    screenshot: flags.screenshot,
    settleMs: flags.settle !== undefined ? Number(flags.settle) : undefined,
    type: flags.type?.replace(/\\n/g, '\n').replace(/\\t/g, '\t'),
    keys: flags.key,
    timeoutMs: seconds(flags.timeout, '--timeout'),
    durationMs: seconds(flags.duration, '--duration'),
    signal: abort.signal,
  };
  let extra = {};
  let failure: SpiceError | null = null;
  try {
    extra = await runConnect(session, goals);
  } catch (e) {
    failure = e instanceof SpiceError ? e : new SpiceError('protocol', (e as Error).message, { cause: e });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (failure && !session.error) session.error = failure;
  // The report shows the channels as they were at the end, before we close them.
  const report = buildReport(session, extra);
  session.close();
  if (flags.json) printJson(report);
  else if (!failure) printLine(summary(report));
  if (failure) throw failure;
  return 0;
}

function summary(r: ReturnType<typeof buildReport>): string {
  const up = r.channels.filter((c) => c.state === 'ready' || c.state === 'closed').map((c) => `${c.type}:${c.id}`).join(' ');
  const size = r.display ? ` display ${r.display.width}x${r.display.height}` : '';
  const frame = r.timings.firstFrameMs !== null ? ` first frame ${r.timings.firstFrameMs} ms` : '';
  return `ok: session ${r.sessionId ?? '-'}${r.name ? ` "${r.name}"` : ''}, channels ${up}${size}${frame}${r.screenshot ? `, screenshot ${r.screenshot}` : ''}`;
}

export function registerConnect(program: Command): void {
  program
    .command('connect')
    .description('connect to a SPICE server: check it, take a screenshot, type keys, or stay connected')
    .argument('<uri>', 'spice://host:port, spice://host?port=P&tls-port=T, spice+tls://host:port, spice+unix:///path')
    .option('--password-file <file>', 'read the password from a file')
    .option('--password-env <name>', 'read the password from this environment variable')
    .option('--password-stdin', 'read the password from standard input')
    .option('--ca-file <file>', 'CA certificate(s), PEM, to verify the TLS server')
    .option('--host-subject <subject>', 'expected server certificate subject, e.g. "C=XX,O=Org,CN=host" (replaces the hostname check)')
    .option('--secure-channels <list>', 'channels that must use TLS (main,display,inputs,cursor,... or all)')
    .option('--disable-channels <list>', 'channels not to open')
    .option('--check', 'exit 0 once main, display and inputs are up and a first complete frame is drawn')
    .option('--screenshot <file.png>', 'write the display as a PNG once it is drawn and idle, then exit')
    .option('--settle <ms>', 'idle time before a screenshot is taken (default 300)')
    .option('--type <text>', 'type this text with the keyboard (US layout; \\n for Enter) once the display is up')
    .option('--key <combo...>', 'press key combinations, e.g. ctrl+alt+del, up, shift+f10')
    .option('--timeout <seconds>', 'give up (exit 7) if the goals are not reached in time')
    .option('--duration <seconds>', 'stay connected this long, then exit 0')
    .option('--json', 'print one JSON report on stdout')
    .action(async (uri: string, flags: ConnectFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as ConnectFlags;
      process.exitCode = await connectAction(uri, { ...globals, ...flags });
    });
}
