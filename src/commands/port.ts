import type { Command } from 'commander';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpiceError } from '../util/errors.js';
import { printJson, printLine } from '../util/output.js';
import { Session } from '../session/session.js';
import { PortChannel } from '../session/channels/port.js';
import { ChannelType } from '../session/wire/enums.js';
import { PortEvent } from '../session/wire/messages/port.js';
import { addConnectionOptions, seconds, sessionOptions, withSignals, type ConnectionFlags } from './connection-options.js';

interface PortFlags extends ConnectionFlags {
  timeout?: string;
  idle?: string;
  compress?: string;
  json?: boolean;
}

export interface PortInfo {
  id: number;
  name: string;
  opened: boolean;
}

/** Bytes that arrived before the bridge took over (a monitor greets as soon as a client links). */
const early = new WeakMap<PortChannel, Buffer[]>();

/** Opens port channel `id` and waits for its PORT_INIT. */
async function openPort(session: Session, id: number, lz4: boolean, timeoutMs: number): Promise<PortChannel> {
  const ch = await session.openSpicevmc(ChannelType.port, id, lz4);
  if (!(ch instanceof PortChannel)) throw new SpiceError('protocol', 'this spicectl build opens port channels as plain spicevmc channels (session support missing)');
  // Messages are delivered from the next turn on: keep what comes before the bridge listens.
  const kept: Buffer[] = [];
  early.set(ch, kept);
  ch.on('data', (d: Buffer) => {
    if (early.has(ch)) kept.push(d);
  });
  if (ch.portName === null) {
    await Promise.race([
      once(ch, 'port-init'),
      session.failure(),
      sleep(timeoutMs, undefined, { ref: false }).then(() => {
        throw new SpiceError('timeout', `port channel ${id} sent no PORT_INIT within ${timeoutMs / 1000} s`);
      }),
    ]);
  }
  return ch;
}

/**
 * Without NAME: lists the server's named ports. With NAME: bridges that port to stdin/stdout
 * until stdin ends (then waits until the port has been quiet for --idle ms), the guest side
 * closes the port, or Ctrl-C.
 */
export async function portAction(uri: string, name: string | undefined, flags: PortFlags, io: { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream } = { stdin: process.stdin, stdout: process.stdout }): Promise<number> {
  const timeoutMs = seconds(flags.timeout, '--timeout') ?? 15_000;
  const idleMs = flags.idle !== undefined ? Number(flags.idle) : 500;
  if (!Number.isFinite(idleMs) || idleMs < 0) throw new SpiceError('usage', `--idle must be milliseconds >= 0, not "${flags.idle}"`);
  if (flags.compress && !['lz4', 'off'].includes(flags.compress)) throw new SpiceError('usage', `--compress must be lz4 or off, not "${flags.compress}"`);
  const lz4 = flags.compress !== 'off';
  const { options } = await sessionOptions(uri, flags);
  const session = new Session({ ...options, autoOpen: [] });
  return withSignals(async (signal) => {
    const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new SpiceError('ok', 'interrupted'))));
    aborted.catch(() => {});
    const deadline = sleep(timeoutMs, undefined, { ref: false }).then(() => {
      throw new SpiceError('timeout', `timed out after ${timeoutMs / 1000} s waiting for ${name ? `port "${name}"` : 'the port channels'}`);
    });
    deadline.catch(() => {});
    const race = <T>(p: Promise<T>) => Promise.race([p, session.failure(), aborted]);
    try {
      await race(Promise.race([session.connect(), deadline]));
      await race(Promise.race([session.waitFor(() => session.main.info.channels.length > 0), deadline]));
      const ids = session.listed(ChannelType.port);
      if (!name) {
        const ports: PortInfo[] = [];
        for (const id of ids) {
          const ch = await race(Promise.race([openPort(session, id, lz4, timeoutMs), deadline]));
          ports.push({ id, name: ch.portName ?? '', opened: ch.guestOpen });
          ch.close();
        }
        if (flags.json) printJson({ ok: true, ports });
        else if (!ports.length) printLine('the server offers no port channels');
        else for (const p of ports) printLine(`${p.name}\t${p.opened ? 'open' : 'closed'}\tport:${p.id}`);
        return 0;
      }
      let port: PortChannel | null = null;
      const seen: string[] = [];
      for (const id of ids) {
        const ch = await race(Promise.race([openPort(session, id, lz4, timeoutMs), deadline]));
        if (ch.portName === name) {
          port = ch;
          break;
        }
        seen.push(ch.portName ?? `port:${id}`);
        ch.close();
      }
      if (!port) {
        throw new SpiceError('usage', `the server has no port named "${name}"${seen.length ? ` (it has: ${seen.join(', ')})` : ' (it offers no port channels)'}`);
      }
      return await race(bridge(port, io, idleMs, signal));
    } catch (e) {
      if (e instanceof SpiceError && e.code === 'ok') return 0;
      throw e;
    } finally {
      session.close();
    }
  });
}

async function bridge(port: PortChannel, io: { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream }, idleMs: number, signal: AbortSignal): Promise<number> {
  let lastData = performance.now();
  for (const d of early.get(port) ?? []) io.stdout.write(d);
  early.delete(port);
  port.on('data', (d: Buffer) => {
    lastData = performance.now();
    io.stdout.write(d);
  });
  port.portEvent(PortEvent.opened);
  const guestClosed = new Promise<void>((resolve) => {
    port.on('port-event', (ev: string) => {
      if (ev === 'closed') resolve();
    });
  });
  const stdinDone = (async () => {
    for await (const chunk of io.stdin) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      if (!port.write(buf)) await port.drained();
    }
  })();
  const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
  const first = await Promise.race([stdinDone.then(() => 'eof' as const), guestClosed.then(() => 'closed' as const), stopped.then(() => 'abort' as const)]);
  if (first === 'eof') {
    // The other side may still be answering: wait until it has been quiet for idleMs.
    await port.drained();
    lastData = Math.max(lastData, performance.now());
    while (performance.now() - lastData < idleMs) {
      const left = idleMs - (performance.now() - lastData);
      const r = await Promise.race([sleep(Math.max(5, left)).then(() => 'tick' as const), guestClosed.then(() => 'closed' as const), stopped.then(() => 'abort' as const)]);
      if (r !== 'tick') break;
    }
  }
  if (port.state === 'ready') {
    port.portEvent(PortEvent.closed);
    await port.drained();
  }
  await new Promise<void>((resolve) => (io.stdout.write('', () => resolve())));
  return 0;
}

export function registerPort(program: Command): void {
  const cmd = program
    .command('port')
    .description('list the named ports (QEMU spiceport chardevs) a server offers, or bridge one to stdin/stdout')
    .argument('<uri>', 'spice://host:port (see spicectl connect)')
    .argument('[name]', 'the port to bridge, e.g. org.qemu.monitor.hmp.0; without it, list the ports');
  addConnectionOptions(cmd)
    .option('--idle <ms>', 'after standard input ends, leave once the port has been quiet this long (default 500)')
    .option('--compress <mode>', 'lz4 (default) or off: LZ4 on the port channel')
    .option('--timeout <seconds>', 'give up when the server or the port does not answer in time (default 15)')
    .option('--json', 'list as JSON')
    .action(async (uri: string, name: string | undefined, flags: PortFlags, c: Command) => {
      process.exitCode = await portAction(uri, name, { ...(c.optsWithGlobals() as PortFlags), ...flags });
    });
}
