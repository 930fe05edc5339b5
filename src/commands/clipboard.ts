import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpiceError } from '../util/errors.js';
import { readStdin } from '../util/stdin.js';
import { printJson, printLine } from '../util/output.js';
import type { Logger } from '../util/log.js';
import { Session } from '../session/session.js';
import { DEFAULT_MAX_CLIPBOARD } from '../session/agent/agent.js';
import { IMAGE_EXT, imageTypeFor, readGuestClipboard, readTextArg } from '../session/agent/goals.js';
import { CLIPBOARD_TYPE_NAMES, ClipboardType, Selection } from '../session/wire/messages/agent.js';
import { addConnectionOptions, seconds, sessionOptions, withSignals, type ConnectionFlags } from './connection-options.js';

export interface AgentCommandFlags extends ConnectionFlags {
  timeout?: string;
  maxClipboard?: string;
  json?: boolean;
}

/** --max-clipboard BYTES (k/M/G suffixes; -1 = unlimited). */
export function parseMaxClipboard(v: string | undefined): number {
  if (v === undefined) return DEFAULT_MAX_CLIPBOARD;
  if (v.trim() === '-1') return -1;
  const m = /^(\d+)\s*([kmg]i?b?|b)?$/i.exec(v.trim());
  if (!m) throw new SpiceError('usage', `--max-clipboard must be a size in bytes (e.g. 1048576, 512k, 10M) or -1, not "${v}"`);
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? 'b')[0]!.toLowerCase()] ?? 1;
  return Number(m[1]) * mult;
}

/**
 * Connects with no display/inputs/cursor channels and waits for the guest agent. The timeout
 * covers both; a missing agent is a clear error naming what to check.
 */
export async function openAgentSession(uri: string, flags: AgentCommandFlags, signal: AbortSignal): Promise<{ session: Session; log: Logger; race: <T>(p: Promise<T>) => Promise<T> }> {
  const timeoutMs = seconds(flags.timeout, '--timeout') ?? 15_000;
  const { options, log } = await sessionOptions(uri, flags);
  // `agent` and `clientMouse` are SessionOptions once the session knows them (see the report).
  const opts = { ...options, autoOpen: [], agent: { maxClipboard: parseMaxClipboard(flags.maxClipboard) }, clientMouse: false };
  const session = new Session(opts);
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(new SpiceError('ok', 'interrupted'));
    signal.addEventListener('abort', () => reject(new SpiceError('ok', 'interrupted')));
  });
  aborted.catch(() => {});
  const race = <T>(p: Promise<T>) => Promise.race([p, session.failure(), aborted]);
  const t0 = performance.now();
  const connectDeadline = sleep(timeoutMs, undefined, { ref: false }).then(() => {
    throw new SpiceError('timeout', `timed out after ${timeoutMs / 1000} s connecting to ${uri}`);
  });
  connectDeadline.catch(() => {});
  try {
    await race(Promise.race([session.connect(), connectDeadline]));
    await race(session.main.agent.waitReady(Math.max(1000, timeoutMs - (performance.now() - t0))));
  } catch (e) {
    session.close();
    throw e;
  }
  return { session, log, race };
}

export function parseSelection(v: string | undefined): number {
  if (v === undefined || v === 'clipboard') return Selection.clipboard;
  if (v === 'primary') return Selection.primary;
  throw new SpiceError('usage', `--selection must be clipboard or primary, not "${v}"`);
}

interface GetFlags extends AgentCommandFlags {
  image?: string;
  selection?: string;
}

export async function clipboardGetAction(uri: string, flags: GetFlags): Promise<number> {
  const selection = parseSelection(flags.selection);
  return withSignals(async (signal) => {
    const { session, race } = await openAgentSession(uri, flags, signal);
    try {
      const c = await race(readGuestClipboard(session.main.agent, flags.image ? 'image' : 'text', { selection, timeoutMs: seconds(flags.timeout, '--timeout') ?? 15_000 }));
      if (flags.image) {
        try {
          writeFileSync(flags.image, c.data);
        } catch (e) {
          throw new SpiceError('input', `cannot write ${flags.image}: ${(e as Error).message}`);
        }
        if (flags.json) printJson({ ok: true, type: CLIPBOARD_TYPE_NAMES[c.type], bytes: c.data.length, file: flags.image });
        else printLine(`${flags.image}: ${IMAGE_EXT[c.type] ?? CLIPBOARD_TYPE_NAMES[c.type]} image, ${c.data.length} bytes`);
        return 0;
      }
      const text = session.main.agent.decodeText(c.data);
      if (flags.json) printJson({ ok: true, type: 'text', bytes: c.data.length, text });
      else process.stdout.write(process.stdout.isTTY && !text.endsWith('\n') ? `${text}\n` : text);
      return 0;
    } finally {
      session.close();
    }
  });
}

interface SetFlags extends AgentCommandFlags {
  image?: string;
  selection?: string;
  pastes?: string;
  duration?: string;
}


export async function clipboardSetAction(uri: string, text: string | undefined, flags: SetFlags): Promise<number> {
  const selection = parseSelection(flags.selection);
  const pastes = flags.pastes !== undefined ? Number(flags.pastes) : undefined;
  if (pastes !== undefined && (!Number.isInteger(pastes) || pastes < 1)) throw new SpiceError('usage', `--pastes must be a whole number >= 1, not "${flags.pastes}"`);
  const durationMs = seconds(flags.duration, '--duration');
  // What to offer, read before connecting: a bad file is a local problem.
  let items: { type: number; data: Buffer }[];
  let textValue: string | null = null;
  if (flags.image) {
    if (text !== undefined) throw new SpiceError('usage', 'give either TEXT or --image FILE, not both');
    let data: Buffer;
    try {
      data = readFileSync(flags.image);
    } catch (e) {
      throw new SpiceError('input', `cannot read ${flags.image}: ${(e as Error).message}`);
    }
    items = [{ type: imageTypeFor(flags.image, data), data }];
  } else {
    textValue = text === undefined || text === '-' ? (await readStdin()).toString('utf8') : readTextArg(text, 'TEXT');
    items = [];
  }
  return withSignals(async (signal) => {
    const { session, race, log } = await openAgentSession(uri, flags, signal);
    const agent = session.main.agent;
    let served = 0;
    let ending = '';
    try {
      if (textValue !== null) items = [{ type: ClipboardType.utf8Text, data: agent.encodeText(textValue) }];
      agent.setClipboard(items, selection);
      const until = [pastes ? `${pastes} paste${pastes > 1 ? 's' : ''}` : '', durationMs ? `${durationMs / 1000} s` : ''].filter(Boolean).join(' or ') || 'Ctrl-C';
      log.info(`clipboard offered to the guest; serving paste requests until ${until}`);
      if (!flags.json) process.stderr.write(`clipboard set (${items[0]!.data.length} bytes); the guest keeps it while spicectl stays connected: until ${until}\n`);
      ending = await race(new Promise<string>((resolve) => {
        agent.on('clipboard-request', (sel: number, _type: number, bytes: number | null) => {
          if (sel !== selection || bytes === null) return;
          served++;
          if (pastes && served >= pastes) resolve(`${served} paste${served > 1 ? 's' : ''} served`);
        });
        agent.on('clipboard-lost', (sel: number) => {
          if (sel === selection) resolve('the guest put something else on its clipboard');
        });
        if (durationMs) sleep(durationMs, undefined, { ref: false }).then(() => resolve('duration reached'));
      }));
      // Let the last answer reach the socket before leaving.
      await race(session.main.agentFlushed());
    } catch (e) {
      if (!(e instanceof SpiceError && e.code === 'ok')) throw e;
      ending = 'interrupted';
    } finally {
      session.close();
    }
    if (flags.json) printJson({ ok: true, bytes: items[0]!.data.length, type: CLIPBOARD_TYPE_NAMES[items[0]!.type], pastesServed: served, ended: ending });
    else printLine(`ok: clipboard served ${served} time${served === 1 ? '' : 's'} (${ending})`);
    return 0;
  });
}

export function registerClipboard(program: Command): void {
  const clip = program.command('clipboard').description("read or set the guest's clipboard through the SPICE agent");
  const get = clip
    .command('get')
    .description('print the guest clipboard text (or write its image to a file)')
    .argument('<uri>', 'spice://host:port (see spicectl connect)');
  addConnectionOptions(get)
    .option('--image <file>', 'write the clipboard image (PNG, JPEG, BMP or TIFF, as the guest offers) to FILE')
    .option('--selection <name>', 'clipboard (default) or primary')
    .option('--max-clipboard <bytes>', 'largest clipboard accepted (default 100M; -1 = no limit)')
    .option('--timeout <seconds>', 'give up when the server or the guest agent does not answer in time (default 15)')
    .option('--json', 'print one JSON object')
    .action(async (uri: string, flags: GetFlags, c: Command) => {
      process.exitCode = await clipboardGetAction(uri, { ...(c.optsWithGlobals() as GetFlags), ...flags });
    });
  const set = clip
    .command('set')
    .description('put text (or an image) on the guest clipboard and serve it while connected')
    .argument('<uri>', 'spice://host:port (see spicectl connect)')
    .argument('[text]', 'the text, @FILE for a file\'s text, or - (default) for standard input');
  addConnectionOptions(set)
    .option('--image <file>', 'offer this PNG/JPEG/BMP/TIFF image instead of text')
    .option('--selection <name>', 'clipboard (default) or primary')
    .option('--pastes <n>', 'leave after the guest pasted N times')
    .option('--duration <seconds>', 'leave after this long')
    .option('--max-clipboard <bytes>', 'largest clipboard sent (default 100M; -1 = no limit)')
    .option('--timeout <seconds>', 'give up when the server or the guest agent does not answer in time (default 15)')
    .option('--json', 'print one JSON object at the end')
    .action(async (uri: string, text: string | undefined, flags: SetFlags, c: Command) => {
      process.exitCode = await clipboardSetAction(uri, text, { ...(c.optsWithGlobals() as SetFlags), ...flags });
    });
}
