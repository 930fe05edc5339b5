// Agent-side goals of a session (connect --clipboard-set, --resolution) and the clipboard reads
// the clipboard command does. None of these fail the session: they report, and it goes on.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { SpiceError } from '../../util/errors.js';
import type { Session } from '../session.js';
import { AgentCap, CLIPBOARD_TYPE_NAMES, ClipboardType, Selection, formatBytes } from '../wire/messages/agent.js';
import type { Agent, ClipboardContent } from './agent.js';

export const DEFAULT_AGENT_TIMEOUT_MS = 10_000;

/** "WxH" -> a size; a usage error otherwise. */
export function parseResolution(v: string): { width: number; height: number } {
  const m = /^(\d{2,5})x(\d{2,5})$/i.exec(v.trim());
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || width < 64 || height < 64 || width > 16384 || height > 16384) {
    throw new SpiceError('usage', `--resolution must be WIDTHxHEIGHT, e.g. 1280x800 (64 to 16384 each), not "${v}"`);
  }
  return { width, height };
}

/** "TEXT" or "@FILE" (the file's text); "@@..." stands for a literal leading "@". */
export function readTextArg(v: string, flag: string): string {
  if (v.startsWith('@@')) return v.slice(1);
  if (!v.startsWith('@')) return v;
  const file = v.slice(1);
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new SpiceError('input', `${flag}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** The clipboard type for an image file, from its extension (or its first bytes). */
export function imageTypeFor(path: string, data?: Buffer): number {
  const ext = extname(path).toLowerCase();
  const byExt: Record<string, number> = {
    '.png': ClipboardType.imagePng, '.bmp': ClipboardType.imageBmp, '.tif': ClipboardType.imageTiff,
    '.tiff': ClipboardType.imageTiff, '.jpg': ClipboardType.imageJpg, '.jpeg': ClipboardType.imageJpg,
  };
  if (byExt[ext]) return byExt[ext]!;
  if (data?.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return ClipboardType.imagePng;
  if (data && data[0] === 0xff && data[1] === 0xd8) return ClipboardType.imageJpg;
  if (data?.toString('latin1', 0, 2) === 'BM') return ClipboardType.imageBmp;
  throw new SpiceError('usage', `${path}: not a PNG, JPEG, BMP or TIFF file (by its name or its first bytes)`);
}

export const IMAGE_EXT: Record<number, string> = { 2: 'png', 3: 'bmp', 4: 'tiff', 5: 'jpg' };

export interface AgentGoals {
  clipboardSet?: string;
  resolution?: { width: number; height: number };
  /** how long to wait for the agent (default 10 s) */
  agentTimeoutMs?: number;
}

export interface AgentGoalsReport {
  agent: 'ready' | 'absent';
  caps?: number[];
  clipboard?: 'offered' | { error: string };
  resolution?: 'ok' | 'no-reply' | { error: string };
  /** the first problem (the session went on) */
  error?: { code: string; exitCode: number; message: string };
}

/**
 * Waits for the agent, then offers the clipboard text and asks for the resolution. Problems
 * are logged as warnings and returned (first one as `failure`); the session goes on.
 */
export async function runAgentGoals(session: Session, goals: AgentGoals, warn: (message: string) => void): Promise<{ report: AgentGoalsReport; failure: SpiceError | null }> {
  const agent = session.main.agent;
  const report: AgentGoalsReport = { agent: 'absent' };
  let failure: SpiceError | null = null;
  const note = (e: unknown, what: string) => {
    const err = e instanceof SpiceError ? e : new SpiceError('protocol', (e as Error).message);
    warn(`${what}: ${err.message} (the session goes on)`);
    if (!failure) {
      failure = err;
      report.error = { code: err.code, exitCode: err.exitCode, message: `${what}: ${err.message}` };
    }
    return { error: err.message };
  };
  try {
    await agent.waitReady(goals.agentTimeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS);
    report.agent = 'ready';
    report.caps = agent.describe().caps;
  } catch (e) {
    const r = note(e, 'guest agent');
    if (goals.clipboardSet !== undefined) report.clipboard = r;
    if (goals.resolution) report.resolution = r;
    return { report, failure };
  }
  if (goals.clipboardSet !== undefined) {
    try {
      agent.setClipboard([{ type: ClipboardType.utf8Text, data: agent.encodeText(goals.clipboardSet) }]);
      report.clipboard = 'offered';
    } catch (e) {
      report.clipboard = note(e, '--clipboard-set');
    }
  }
  if (goals.resolution) {
    try {
      report.resolution = await agent.setMonitors([goals.resolution]);
      if (report.resolution === 'no-reply') session.log.info('--resolution: no reply from the agent (the server may have passed it to the QXL driver)');
    } catch (e) {
      report.resolution = note(e, '--resolution');
    }
  }
  return { report, failure };
}

/**
 * Reads the guest clipboard. Takes the types the guest announced (it grabs when its clipboard
 * changes; we wait graceMs for one), else asks for the wanted type directly: agents answer
 * for a clipboard they hold even if the grab happened before we connected.
 */
export async function readGuestClipboard(agent: Agent, want: 'text' | 'image', opts: { selection?: number; graceMs?: number; timeoutMs?: number } = {}): Promise<ClipboardContent> {
  const selection = opts.selection ?? Selection.clipboard;
  if (!agent.guestClipboard.has(selection) && (opts.graceMs ?? 300) > 0) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, opts.graceMs ?? 300);
      function done() {
        clearTimeout(t);
        agent.off('clipboard-grab', onGrab);
        resolve();
      }
      function onGrab(sel: number) {
        if (sel === selection) done();
      }
      agent.on('clipboard-grab', onGrab);
    });
  }
  const offered = agent.guestClipboard.get(selection);
  const images = [ClipboardType.imagePng, ClipboardType.imageJpg, ClipboardType.imageBmp, ClipboardType.imageTiff];
  let type: number;
  if (want === 'text') type = ClipboardType.utf8Text;
  else type = images.find((t) => offered?.includes(t)) ?? ClipboardType.imagePng;
  if (offered && !offered.includes(type)) {
    const has = offered.map((t) => CLIPBOARD_TYPE_NAMES[t] ?? t).join(', ') || 'nothing';
    throw new SpiceError('input', `the guest clipboard holds no ${want} (it offers ${has})${want === 'text' && offered.some((t) => images.includes(t as never)) ? ': use --output FILE for images' : ''}`);
  }
  const c = await agent.requestClipboard(type, selection, opts.timeoutMs);
  if (c.type === ClipboardType.none) {
    throw new SpiceError('input', `the guest clipboard is empty or holds no ${want}`);
  }
  if (c.data.length === 0 && agent.hasCap(AgentCap.maxClipboard) && agent.maxClipboard >= 0) {
    // Agents that know our limit send an empty answer instead of data over it.
    throw new SpiceError('input', `the guest agent sent no ${want}: the clipboard is empty or larger than the ${formatBytes(agent.maxClipboard)} limit (--max-clipboard)`);
  }
  return c;
}
