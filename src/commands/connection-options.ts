// The options every command that connects shares: where, the password, TLS, channels.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SpiceError } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';
import { printError } from '../util/output.js';
import { resolvePassword } from '../util/secrets.js';
import { resolveProxy } from '../session/proxy.js';
import type { SessionOptions } from '../session/session.js';
import { parseSpiceUri } from '../session/uri.js';
import { formatFinding, loadVvForConnect, looksLikeVvPath } from '../session/vv.js';

export interface ConnectionFlags {
  passwordFile?: string;
  passwordEnv?: string;
  passwordStdin?: boolean;
  caFile?: string;
  hostSubject?: string;
  secureChannels?: string;
  disableChannels?: string;
  proxy?: string;
  logFile?: string;
  logLevel?: string;
}

export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--password-file <file>', 'read the password from a file')
    .option('--password-env <name>', 'read the password from this environment variable')
    .option('--password-stdin', 'read the password from standard input')
    .option('--ca-file <file>', 'CA certificate(s), PEM, to verify the TLS server')
    .option('--host-subject <subject>', 'expected server certificate subject, e.g. "C=XX,O=Org,CN=host" (replaces the hostname check)')
    .option('--secure-channels <list>', 'channels that must use TLS (main,display,inputs,cursor,usbredir,... or all)')
    .option('--disable-channels <list>', 'channels not to open')
    .option('--proxy <url>', 'HTTP CONNECT proxy, http://[user:pass@]host:port (default: the .vv proxy=, then $SPICE_PROXY; "" for none)');
}

export function readCa(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    const pem = readFileSync(file, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return pem;
  } catch (e) {
    throw new SpiceError('tls', `cannot use CA file ${file}: ${(e as Error).message}`);
  }
}

export const list = (v?: string) => v?.split(/[,;]/).map((s) => s.trim()).filter(Boolean);

export function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new SpiceError('usage', `${flag} must be a positive number of seconds, not "${v}"`);
  return n * 1000;
}

export function millis(v: string | undefined, flag: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new SpiceError('usage', `${flag} must be a whole number of milliseconds (at least ${min}), not "${v}"`);
  return n;
}

/** Aborts when any of the signals does (AbortSignal.any needs Node 20.3). */
export function anySignal(...signals: AbortSignal[]): AbortSignal {
  const c = new AbortController();
  for (const s of signals) {
    if (s.aborted) c.abort();
    else s.addEventListener('abort', () => c.abort(), { once: true });
  }
  return c.signal;
}

/** URI (or remote-viewer FILE.vv, "-" = stdin) + flags -> everything a Session needs, and the logger. */
export async function sessionOptions(uri: string, flags: ConnectionFlags): Promise<{ options: SessionOptions; log: Logger }> {
  // A connection file in place of the URI: flags still win over what it says.
  if (uri === '-' && flags.passwordStdin) throw new SpiceError('usage', '"-": standard input carries the .vv file, so --password-stdin cannot be used');
  const vv = looksLikeVvPath(uri) ? await loadVvForConnect(uri) : undefined;
  for (const w of vv?.warnings ?? []) if (w.level !== 'info') printError(`warning: ${formatFinding(uri, w)}`);
  const endpoint = vv ? vv.endpoint : parseSpiceUri(uri);
  // Password: --password-file/-env/-stdin, else the .vv password, else SPICE_PASSWORD, else the URI's.
  const explicit = flags.passwordFile !== undefined || flags.passwordEnv !== undefined || flags.passwordStdin === true;
  const password = vv?.password !== undefined && !explicit ? vv.password : await resolvePassword({ ...flags, inline: endpoint.password });
  const log = createLogger({ level: flags.logLevel, file: flags.logFile });
  return {
    log,
    options: {
      endpoint,
      password,
      tls: { ca: readCa(flags.caFile) ?? vv?.tls.ca, hostSubject: flags.hostSubject ?? vv?.tls.hostSubject },
      secureChannels: list(flags.secureChannels) ?? vv?.secureChannels,
      disableChannels: list(flags.disableChannels) ?? vv?.disableChannels,
      // --proxy, else the file's proxy=, else SPICE_PROXY (spice-gtk's order); "" = none
      proxy: resolveProxy({ flag: flags.proxy, file: vv?.proxy }),
      log,
    },
  };
}

/** An AbortSignal fired by SIGINT/SIGTERM while `fn` runs. */
export async function withSignals<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn(abort.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
