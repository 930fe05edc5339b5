// The client side of the VD agent protocol (digest §3.4): capabilities, clipboard both ways,
// monitors config, file transfer. It speaks whole VDAgentMessages; the main channel does the
// AGENT_START, tokens, 2048-byte chunking and reassembly (see channels/main.ts).
//
// Nothing here fails the session: a missing agent, a refusal or a malformed agent message
// rejects the one operation (or disables the agent until it reconnects), and the session goes on.
import { EventEmitter } from 'node:events';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { SpiceError } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { capBits, capsWords, hasCap } from '../wire/caps.js';
import {
  AgentCap, AgentMsg, AgentReplyError, CLIPBOARD_TYPE_NAMES, ClipboardType, FileXferStatus,
  MonitorsFlag, Selection, agentMsgName, describeFileXferStatus, encodeAgentMessage, encodeAnnounceCaps,
  encodeClipboardData, encodeClipboardGrab, encodeClipboardRelease, encodeClipboardRequest, encodeFileXferData,
  encodeFileXferStart, encodeFileXferStatus, encodeMaxClipboard, encodeMonitorsConfig, formatBytes, parseAnnounceCaps,
  parseClipboardData, parseClipboardGrab, parseClipboardRelease, parseClipboardRequest, parseFileXferStatus, parseReply,
  type AgentMessage, type ClipboardFraming, type FileXferStatusMsg, type MonitorConfig,
} from '../wire/messages/agent.js';

/** What the agent needs from the main channel. */
export interface AgentTransport {
  /** Queue one whole VDAgentMessage (header + data); chunked and token-paced by the channel. */
  sendAgentMessage(message: Buffer): void;
  /** Resolves once everything queued so far has been handed to the socket and drained. */
  agentFlushed(): Promise<void>;
}

export interface AgentOptions {
  /** Largest clipboard payload sent or accepted, in bytes; -1 = unlimited. Told to agents that
   *  have the MAX_CLIPBOARD cap. Default 100 MiB (spice-gtk's default). */
  maxClipboard?: number;
  log?: Logger;
}

export type AgentState = 'absent' | 'starting' | 'ready' | 'broken';

/** The caps this client announces (spice-gtk's set, minus what we do not implement). */
export const CLIENT_AGENT_CAPS = [
  AgentCap.monitorsConfig, AgentCap.reply, AgentCap.clipboardByDemand, AgentCap.clipboardSelection,
  AgentCap.monitorsConfigPosition, AgentCap.fileXferDetailedErrors, AgentCap.clipboardNoReleaseOnRegrab,
  AgentCap.clipboardGrabSerial,
];

export const DEFAULT_MAX_CLIPBOARD = 100 * 1024 * 1024;
/** Data size kept for non-clipboard agent messages (caps, replies, statuses, device info). */
const MAX_OTHER_MESSAGE = 1024 * 1024;
/** spice-gtk reads and sends a file 64 KiB at a time, then waits for the data to be flushed. */
const FILE_STEP = 64 * 1024;

const agentError = (msg: string) => new SpiceError('input', msg);

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
}

interface Xfer {
  id: number;
  name: string;
  status: FileXferStatusMsg | null;
  onStatus: (() => void) | null;
}

export interface ClipboardContent {
  type: number;
  data: Buffer;
}

export class Agent extends EventEmitter {
  state: AgentState = 'absent';
  /** the agent's capability words (empty until it announced them) */
  caps: number[] = [];
  /** why the agent is 'broken' or went away, for reports */
  lastError: string | null = null;
  readonly maxClipboard: number;
  /** types the guest offered per selection (after its GRAB), until it releases */
  readonly guestClipboard = new Map<number, number[]>();
  readonly counters = { messagesIn: 0, messagesOut: 0, clipboardServed: 0, filesSent: 0, refusals: 0 };
  private readonly log: Logger;
  private readonly serials = [0, 0, 0];
  private readonly owned = new Map<number, Map<number, Buffer>>();
  private readonly clipboardWaiters = new Map<number, Waiter<ClipboardContent>[]>();
  private readonly replyWaiters = new Map<number, Waiter<number>[]>();
  private readonly readyWaiters: Waiter<void>[] = [];
  private readonly xfers = new Map<number, Xfer>();
  private nextXferId = 1;

  constructor(private readonly transport: AgentTransport, opts: AgentOptions = {}) {
    super();
    this.maxClipboard = opts.maxClipboard ?? DEFAULT_MAX_CLIPBOARD;
    this.log = opts.log ?? silentLogger;
  }

  hasCap(bit: number): boolean {
    return hasCap(this.caps, bit);
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** The largest data size the reassembler keeps for a message type (bigger ones are dropped). */
  maxMessageSize(type: number): number {
    if (type !== AgentMsg.clipboard) return MAX_OTHER_MESSAGE;
    return this.maxClipboard < 0 ? 0x7fffffff : this.maxClipboard + 8;
  }

  private get framing(): ClipboardFraming {
    // We always announce both caps, so "both sides have it" = "the agent has it".
    return { selection: this.hasCap(AgentCap.clipboardSelection), serial: this.hasCap(AgentCap.clipboardGrabSerial) };
  }

  private send(type: number, data: Buffer): void {
    this.counters.messagesOut++;
    this.transport.sendAgentMessage(encodeAgentMessage(type, data));
  }

  // --- called by the main channel ---------------------------------------------------------------

  /** AGENT_START was sent: announce our caps and ask for the agent's. */
  started(): void {
    this.state = 'starting';
    this.caps = [];
    this.lastError = null;
    this.serials.fill(0);
    this.send(AgentMsg.announceCapabilities, encodeAnnounceCaps(true, capsWords(CLIENT_AGENT_CAPS)));
  }

  /** The agent went away (AGENT_DISCONNECTED) or the main channel closed. */
  stopped(why: string): void {
    const was = this.state;
    this.state = 'absent';
    this.lastError = why;
    this.guestClipboard.clear();
    this.owned.clear();
    const err = new SpiceError('disconnected', `the guest agent went away (${why})`);
    this.rejectAll(err);
    if (was !== 'absent') this.emit('gone', why);
  }

  /** A message the main channel reassembled. Never throws. */
  onMessage(m: AgentMessage): void {
    this.counters.messagesIn++;
    if (this.state === 'broken' || this.state === 'absent') return;
    try {
      this.dispatch(m);
    } catch (e) {
      // A malformed message: drop it, say so, keep going.
      this.log.warn({ type: agentMsgName(m.type), err: (e as Error).message }, 'agent: malformed message dropped');
      this.emit('warning', `malformed agent ${agentMsgName(m.type)} message dropped: ${(e as Error).message}`);
    }
  }

  /** The agent stream cannot be followed any more (bad protocol number): disable until it reconnects. */
  broken(e: Error): void {
    this.log.warn({ err: e.message }, 'agent: stream out of step; agent disabled until it reconnects');
    this.state = 'broken';
    this.lastError = e.message;
    this.rejectAll(new SpiceError('protocol', `the guest agent's messages cannot be read: ${e.message}`));
    this.emit('gone', e.message);
  }

  private rejectAll(err: Error): void {
    for (const w of this.readyWaiters.splice(0)) w.reject(err);
    for (const [, ws] of this.clipboardWaiters) for (const w of ws.splice(0)) w.reject(err);
    for (const [, ws] of this.replyWaiters) for (const w of ws.splice(0)) w.reject(err);
    for (const x of this.xfers.values()) {
      x.status = { id: x.id, result: -1 };
      x.onStatus?.();
    }
  }

  private dispatch(m: AgentMessage): void {
    if (m.dropped) {
      this.onDropped(m);
      return;
    }
    switch (m.type) {
      case AgentMsg.announceCapabilities: {
        const { request, caps } = parseAnnounceCaps(m.data);
        this.caps = caps;
        if (request) this.send(AgentMsg.announceCapabilities, encodeAnnounceCaps(false, capsWords(CLIENT_AGENT_CAPS)));
        const first = this.state !== 'ready';
        this.state = 'ready';
        if (this.hasCap(AgentCap.maxClipboard)) this.send(AgentMsg.maxClipboard, encodeMaxClipboard(this.maxClipboard));
        this.log.info({ caps: capBits(caps) }, 'agent: capabilities received');
        for (const w of this.readyWaiters.splice(0)) w.resolve();
        if (first) this.emit('ready', capBits(caps));
        return;
      }
      case AgentMsg.reply: {
        const r = parseReply(m.data);
        this.emit('reply', r);
        const w = this.replyWaiters.get(r.type)?.shift();
        if (w) w.resolve(r.error);
        return;
      }
      case AgentMsg.clipboardGrab: {
        const g = parseClipboardGrab(this.framing, m.data);
        if (g.serial !== null) {
          // spice-gtk's race rule: take a grab only if it carries the serial we expect next.
          if (g.serial !== this.serials[g.selection]) {
            this.log.debug({ serial: g.serial, expected: this.serials[g.selection] }, 'agent: stale clipboard grab discarded');
            return;
          }
          this.serials[g.selection] = (this.serials[g.selection]! + 1) >>> 0;
        }
        const wasOurs = this.owned.delete(g.selection);
        this.guestClipboard.set(g.selection, g.types);
        if (wasOurs) this.emit('clipboard-lost', g.selection);
        this.emit('clipboard-grab', g.selection, g.types);
        return;
      }
      case AgentMsg.clipboardRelease: {
        const { selection } = parseClipboardRelease(this.framing, m.data);
        this.guestClipboard.delete(selection);
        this.emit('clipboard-release', selection);
        return;
      }
      case AgentMsg.clipboardRequest: {
        const { selection, type } = parseClipboardRequest(this.framing, m.data);
        const data = this.owned.get(selection)?.get(type);
        if (data === undefined) {
          this.send(AgentMsg.clipboard, encodeClipboardData(this.framing, selection, ClipboardType.none, Buffer.alloc(0)));
          this.emit('clipboard-request', selection, type, null);
          return;
        }
        this.send(AgentMsg.clipboard, encodeClipboardData(this.framing, selection, type, data));
        this.counters.clipboardServed++;
        this.emit('clipboard-request', selection, type, data.length);
        return;
      }
      case AgentMsg.clipboard: {
        const c = parseClipboardData(this.framing, m.data);
        const w = this.clipboardWaiters.get(c.selection)?.shift();
        if (w) w.resolve({ type: c.type, data: c.data });
        return;
      }
      case AgentMsg.fileXferStatus: {
        const s = parseFileXferStatus(m.data);
        const x = this.xfers.get(s.id);
        if (!x) return;
        x.status = s;
        x.onStatus?.();
        return;
      }
      case AgentMsg.graphicsDeviceInfo:
      case AgentMsg.monitorsConfig:
        return;
      default:
        this.log.debug({ type: agentMsgName(m.type) }, 'agent: message ignored');
    }
  }

  private onDropped(m: AgentMessage): void {
    if (m.type === AgentMsg.clipboard) {
      // We cannot read its selection (its bytes were skipped): fail the oldest waiter.
      const err = agentError(`the guest clipboard data is ${formatBytes(m.size)}, over the ${formatBytes(this.maxClipboard)} limit (--max-clipboard)`);
      for (const [, ws] of this.clipboardWaiters) {
        const w = ws.shift();
        if (w) {
          w.reject(err);
          return;
        }
      }
      this.emit('warning', err.message);
      return;
    }
    this.log.warn({ type: agentMsgName(m.type), size: m.size }, 'agent: oversized message skipped');
  }

  // --- API -----------------------------------------------------------------------------------

  /** Resolves once the agent announced its caps; rejects after timeoutMs with a clear error. */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.readyWaiters.indexOf(w);
        if (i >= 0) this.readyWaiters.splice(i, 1);
        reject(new SpiceError('timeout', this.state === 'starting'
          ? `the guest agent did not answer within ${timeoutMs / 1000} s`
          : `no guest agent connected within ${timeoutMs / 1000} s: is spice-vdagent running in the guest (virtio-serial port com.redhat.spice.0)?`));
      }, timeoutMs);
      const w: Waiter<void> = { resolve: () => (clearTimeout(t), resolve()), reject: (e) => (clearTimeout(t), reject(e)) };
      this.readyWaiters.push(w);
    });
  }

  private requireReady(what: string): void {
    if (this.state !== 'ready') {
      throw new SpiceError('timeout', `${what}: no guest agent is connected${this.lastError ? ` (${this.lastError})` : ''}`);
    }
  }

  /** Text as the guest wants it: CRLF line ends for agents that say so. */
  encodeText(text: string): Buffer {
    const t = this.hasCap(AgentCap.guestLineendCrlf) ? text.replace(/\r?\n/g, '\r\n') : text;
    return Buffer.from(t, 'utf8');
  }

  decodeText(data: Buffer): string {
    let t = data.toString('utf8').replace(/\0+$/, '');
    if (this.hasCap(AgentCap.guestLineendCrlf)) t = t.replace(/\r\n/g, '\n');
    return t;
  }

  /**
   * Offer content on a guest selection (GRAB). The agent asks for it when a guest program
   * pastes; each request served emits 'clipboard-request'. Throws for oversized data or when
   * the agent cannot take client clipboards.
   */
  setClipboard(items: ClipboardContent[], selection: number = Selection.clipboard): void {
    this.requireReady('cannot set the clipboard');
    if (!this.hasCap(AgentCap.clipboardByDemand)) throw agentError('the guest agent does not support the clipboard (no CLIPBOARD_BY_DEMAND capability)');
    if (selection !== Selection.clipboard && !this.hasCap(AgentCap.clipboardSelection)) {
      throw agentError('the guest agent only supports the CLIPBOARD selection');
    }
    for (const it of items) {
      if (this.maxClipboard >= 0 && it.data.length > this.maxClipboard) {
        throw agentError(`clipboard ${CLIPBOARD_TYPE_NAMES[it.type] ?? it.type} data is ${formatBytes(it.data.length)}, over the ${formatBytes(this.maxClipboard)} limit (--max-clipboard)`);
      }
    }
    const f = this.framing;
    const serial = this.serials[selection]!;
    if (f.serial) this.serials[selection] = (serial + 1) >>> 0;
    this.owned.set(selection, new Map(items.map((i) => [i.type, i.data])));
    this.guestClipboard.delete(selection);
    this.send(AgentMsg.clipboardGrab, encodeClipboardGrab(f, selection, serial, items.map((i) => i.type)));
  }

  /** Stop offering content on a selection. */
  releaseClipboard(selection: number = Selection.clipboard): void {
    if (!this.owned.delete(selection) || this.state !== 'ready') return;
    this.send(AgentMsg.clipboardRelease, encodeClipboardRelease(this.framing, selection));
  }

  ownsClipboard(selection: number = Selection.clipboard): boolean {
    return this.owned.has(selection);
  }

  /**
   * Ask the guest for its clipboard content of one type. Resolves with what the agent sent
   * (type NONE / empty data when the guest had nothing of that type).
   */
  requestClipboard(type: number, selection: number = Selection.clipboard, timeoutMs = 10_000): Promise<ClipboardContent> {
    this.requireReady('cannot read the clipboard');
    if (!this.hasCap(AgentCap.clipboardByDemand)) throw agentError('the guest agent does not support the clipboard (no CLIPBOARD_BY_DEMAND capability)');
    return new Promise((resolve, reject) => {
      const list = this.clipboardWaiters.get(selection) ?? [];
      this.clipboardWaiters.set(selection, list);
      const t = setTimeout(() => {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        reject(new SpiceError('timeout', `the guest agent did not send its clipboard within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const w: Waiter<ClipboardContent> = { resolve: (v) => (clearTimeout(t), resolve(v)), reject: (e) => (clearTimeout(t), reject(e)) };
      list.push(w);
      this.send(AgentMsg.clipboardRequest, encodeClipboardRequest(this.framing, selection, type));
    });
  }

  /**
   * Ask the guest to use these monitor sizes (MONITORS_CONFIG). Resolves 'ok' on the agent's
   * SUCCESS reply, 'no-reply' when none came in time (the server may have handed the request to
   * the QXL driver, which does not answer); rejects when the agent refused.
   */
  async setMonitors(monitors: MonitorConfig[], timeoutMs = 5000): Promise<'ok' | 'no-reply'> {
    this.requireReady('cannot set the resolution');
    if (!this.hasCap(AgentCap.monitorsConfig)) throw agentError('the guest agent does not support monitor configuration');
    const flags = this.hasCap(AgentCap.monitorsConfigPosition) ? MonitorsFlag.usePos : 0;
    const reply = new Promise<number | null>((resolve, reject) => {
      const list = this.replyWaiters.get(AgentMsg.monitorsConfig) ?? [];
      this.replyWaiters.set(AgentMsg.monitorsConfig, list);
      const t = setTimeout(() => {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        resolve(null);
      }, timeoutMs);
      const w: Waiter<number> = { resolve: (v) => (clearTimeout(t), resolve(v)), reject: (e) => (clearTimeout(t), reject(e)) };
      list.push(w);
    });
    this.send(AgentMsg.monitorsConfig, encodeMonitorsConfig(monitors, flags));
    const r = await reply;
    if (r === null) return 'no-reply';
    if (r !== AgentReplyError.success) {
      this.counters.refusals++;
      throw agentError(`the guest agent refused the monitor configuration ${monitors.map((m) => `${m.width}x${m.height}`).join(', ')}`);
    }
    return 'ok';
  }

  /**
   * Copy a local file into the guest (the agent saves it in its file-transfer directory).
   * Throws a SpiceError naming the guest's answer for every failure status.
   */
  async sendFile(path: string, opts: { onProgress?: (sent: number, total: number) => void; signal?: AbortSignal; answerTimeoutMs?: number } = {}): Promise<{ bytes: number; ms: number }> {
    this.requireReady('cannot copy files');
    const name = basename(path);
    if (this.hasCap(AgentCap.fileXferDisabled)) throw agentError(`${name}: file transfer is disabled in the guest agent`);
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new Error('not a regular file');
      size = st.size;
    } catch (e) {
      throw new SpiceError('input', `${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    const fh = await open(path, 'r').catch((e: Error) => {
      throw new SpiceError('input', `${path}: ${e.message}`);
    });
    const t0 = performance.now();
    const answerMs = opts.answerTimeoutMs ?? 15_000;
    const x: Xfer = { id: this.nextXferId++, name, status: null, onStatus: null };
    this.xfers.set(x.id, x);
    const nextStatus = (what: string) => new Promise<FileXferStatusMsg>((resolve, reject) => {
      if (x.status) return resolve(x.status);
      const t = setTimeout(() => {
        x.onStatus = null;
        reject(new SpiceError('timeout', `${name}: the guest agent did not answer ${what} within ${answerMs / 1000} s (is file transfer disabled on the host, e.g. QEMU -spice disable-agent-file-xfer=on?)`));
      }, answerMs);
      x.onStatus = () => {
        clearTimeout(t);
        x.onStatus = null;
        resolve(x.status!);
      };
    });
    const fail = (s: FileXferStatusMsg): SpiceError => {
      if (s.result === -1) return new SpiceError('disconnected', `${name}: the guest agent went away during the transfer`);
      this.counters.refusals++;
      return agentError(`${name}: ${describeFileXferStatus(s)}`);
    };
    const onAbort = () => {
      if (this.state === 'ready') this.send(AgentMsg.fileXferStatus, encodeFileXferStatus(x.id, FileXferStatus.cancelled));
    };
    opts.signal?.addEventListener('abort', onAbort);
    try {
      this.send(AgentMsg.fileXferStart, encodeFileXferStart(x.id, name, size));
      const first = await nextStatus('the transfer request');
      if (first.result !== FileXferStatus.canSendData) throw fail(first);
      x.status = null;
      let sent = 0;
      const buf = Buffer.allocUnsafe(FILE_STEP);
      if (size > 0) opts.onProgress?.(0, size);
      while (sent < size || (size === 0 && sent === 0)) {
        if (opts.signal?.aborted) throw new SpiceError('ok', `${name}: cancelled`);
        if (x.status) throw fail(x.status);
        const { bytesRead } = await fh.read(buf, 0, Math.min(FILE_STEP, size - sent), sent);
        if (bytesRead === 0 && size > 0) throw new SpiceError('input', `${path}: the file shrank while being copied`);
        this.send(AgentMsg.fileXferData, encodeFileXferData(x.id, buf.subarray(0, bytesRead)));
        sent += bytesRead;
        // Back-pressure: one step in flight, as spice-gtk does.
        await this.transport.agentFlushed();
        opts.onProgress?.(sent, size);
        if (size === 0) break;
      }
      if (this.state !== 'ready') throw fail({ id: x.id, result: -1 });
      const last = x.status ?? (await nextStatus('the end of the transfer'));
      if (last.result !== FileXferStatus.success) throw fail(last);
      this.counters.filesSent++;
      return { bytes: size, ms: performance.now() - t0 };
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      this.xfers.delete(x.id);
      await fh.close();
    }
  }

  describe() {
    return {
      state: this.state,
      caps: capBits(this.caps),
      guestClipboard: Object.fromEntries([...this.guestClipboard].map(([s, t]) => [s, t.map((x) => CLIPBOARD_TYPE_NAMES[x] ?? x)])),
      ...this.counters,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }
}

