import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { SpiceError } from '../util/errors.js';
import { printJson, printLine } from '../util/output.js';
import { formatBytes } from '../session/wire/messages/agent.js';
import { addConnectionOptions, withSignals } from './connection-options.js';
import { openAgentSession, type AgentCommandFlags } from './clipboard.js';

interface CopyFlags extends AgentCommandFlags {
  progress?: boolean;
}

/** Progress lines on stderr: redrawn in place on a terminal, at most one a second otherwise. */
export function progressPrinter(name: string, enabled: boolean, out: NodeJS.WriteStream = process.stderr) {
  let last = 0;
  let lastPct = -1;
  const tty = !!out.isTTY;
  return (sent: number, total: number, final = false) => {
    if (!enabled) return;
    const now = performance.now();
    const pct = total ? Math.floor((sent / total) * 100) : 100;
    if (!final && (now - last < (tty ? 100 : 1000) || pct === lastPct)) return;
    last = now;
    lastPct = pct;
    const line = `copy: ${name} ${String(pct).padStart(3)}% (${formatBytes(sent)} of ${formatBytes(total)})`;
    out.write(tty ? `\r\x1b[K${line}${final ? '\n' : ''}` : `${line}\n`);
  };
}

export interface CopyResult {
  file: string;
  ok: boolean;
  bytes?: number;
  ms?: number;
  error?: { code: string; exitCode: number; message: string };
}

export async function copyAction(uri: string, files: string[], flags: CopyFlags): Promise<number> {
  if (!files.length) throw new SpiceError('usage', 'copy: give at least one FILE');
  // Local problems before connecting.
  for (const f of files) {
    let st;
    try {
      st = statSync(f);
    } catch (e) {
      throw new SpiceError('input', `${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    if (!st.isFile()) throw new SpiceError('input', `${f}: not a regular file (copy sends files, not directories)`);
  }
  return withSignals(async (signal) => {
    const { session, race } = await openAgentSession(uri, flags, signal);
    const results: CopyResult[] = [];
    let failure: SpiceError | null = null;
    try {
      for (const f of files) {
        const progress = progressPrinter(basename(f), flags.progress !== false && !flags.json);
        try {
          const r = await race(session.main.agent.sendFile(f, { signal, onProgress: (s, t) => progress(s, t, s === t) }));
          results.push({ file: f, ok: true, bytes: r.bytes, ms: Math.round(r.ms) });
          if (!flags.json) printLine(`copied ${f} (${formatBytes(r.bytes)}) in ${(r.ms / 1000).toFixed(2)} s`);
        } catch (e) {
          const err = e instanceof SpiceError ? e : new SpiceError('protocol', (e as Error).message, { cause: e });
          if (err.code === 'ok') throw err;
          results.push({ file: f, ok: false, error: { code: err.code, exitCode: err.exitCode, message: err.message } });
          failure ??= err;
          // The guest refused this one; the session goes on with the next file (unless it is gone).
          if (!flags.json) process.stderr.write(`spicectl: ${err.message}\n`);
          if (session.error || session.main.agent.state !== 'ready') break;
        }
      }
    } catch (e) {
      if (!(e instanceof SpiceError && e.code === 'ok')) throw e;
    } finally {
      session.close();
    }
    if (flags.json) printJson({ ok: !failure && results.length === files.length, files: results });
    return failure ? (failure as SpiceError).exitCode : 0;
  });
}

export function registerCopy(program: Command): void {
  const cmd = program
    .command('copy')
    .description("copy files into the guest through the SPICE agent (they land in the agent's file-transfer folder)")
    .argument('<uri>', 'spice://host:port (see spicectl connect)')
    .argument('<file...>', 'local files to send, one after the other');
  addConnectionOptions(cmd)
    .option('--no-progress', 'no progress lines on stderr')
    .option('--timeout <seconds>', 'give up when the server or the guest agent does not answer in time (default 15)')
    .option('--json', 'print one JSON report at the end')
    .action(async (uri: string, files: string[], flags: CopyFlags, c: Command) => {
      process.exitCode = await copyAction(uri, files, { ...(c.optsWithGlobals() as CopyFlags), ...flags });
    });
}
