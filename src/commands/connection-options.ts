// The options every command that connects shares: where, the password, TLS, channels.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SpiceError } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';
import { resolvePassword } from '../util/secrets.js';
import type { SessionOptions } from '../session/session.js';
import { parseSpiceUri } from '../session/uri.js';

export interface ConnectionFlags {
  passwordFile?: string;
  passwordEnv?: string;
  passwordStdin?: boolean;
  caFile?: string;
  hostSubject?: string;
  secureChannels?: string;
  disableChannels?: string;
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
    .option('--disable-channels <list>', 'channels not to open');
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

/** URI + flags -> everything a Session needs, and the logger. */
export async function sessionOptions(uri: string, flags: ConnectionFlags): Promise<{ options: SessionOptions; log: Logger }> {
  const endpoint = parseSpiceUri(uri);
  const password = await resolvePassword({ ...flags, inline: endpoint.password });
  const log = createLogger({ level: flags.logLevel, file: flags.logFile });
  return {
    log,
    options: {
      endpoint,
      password,
      tls: { ca: readCa(flags.caFile), hostSubject: flags.hostSubject },
      secureChannels: list(flags.secureChannels),
      disableChannels: list(flags.disableChannels),
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
