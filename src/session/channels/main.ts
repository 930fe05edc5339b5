import { once } from 'node:events';
import { Agent, type AgentOptions } from '../agent/agent.js';
import { capsWords } from '../wire/caps.js';
import { ChannelType, MainCap, MouseMode, MsgMain, MsgcMain } from '../wire/enums.js';
import { AgentReassembler, chunkAgentMessage } from '../wire/messages/agent.js';
import {
  encodeU16, encodeU32, parseChannelsList, parseMainInit, parseMouseMode, parseName, parseU32, parseUuid, type MainInit,
} from '../wire/messages/main.js';
import { Channel, type ChannelHost } from './channel.js';

export interface MainOptions {
  agent?: Omit<AgentOptions, 'log'>;
  /** Ask for client (absolute) mouse mode once an agent is up and the server offers it (default true). */
  clientMouse?: boolean;
}

/** AGENT_START num_tokens: how many AGENT_DATA messages the server may send us (spice-gtk: ~0 = unlimited). */
const AGENT_TOKENS_UNLIMITED = 0xffffffff;

export interface MainState {
  init: MainInit | null;
  name: string | null;
  uuid: string | null;
  mouseMode: { supported: number; current: number } | null;
  agentConnected: boolean;
  /** AGENT_DATA messages we may still send (server-granted tokens) */
  agentTokens: number;
  channels: { type: number; id: number }[];
  /** AGENT_DISCONNECTED error code, if the agent went away */
  agentDisconnectCode?: number;
}

/**
 * The main channel: session id, the list of other channels, mouse mode and agent state.
 * Emits 'init' (MainInit), 'channels' (new entries), 'mouse-mode', 'agent' (connected: boolean).
 *
 * The VD agent rides on it: AGENT_START when the server says an agent is connected, then whole
 * agent messages (from `agent`) are cut into AGENT_DATA chunks of at most 2048 bytes and sent
 * one per token; incoming AGENT_DATA is reassembled into whole messages for `agent`.
 */
export class MainChannel extends Channel {
  readonly info: MainState = { init: null, name: null, uuid: null, mouseMode: null, agentConnected: false, agentTokens: 0, channels: [] };
  readonly agent: Agent;
  /** AGENT_DATA chunks waiting for a token */
  private agentQueue: Buffer[] = [];
  private agentStarted = false;
  private readonly reassembler: AgentReassembler;
  private mmTimeAt: { mm: number; at: number } | null = null;
  private mouseRequested = false;

  constructor(host: ChannelHost, t0?: number, private readonly opts: MainOptions = {}) {
    super(host, ChannelType.main, 0, t0);
    this.agent = new Agent(
      { sendAgentMessage: (m) => this.sendAgentMessage(m), agentFlushed: () => this.agentFlushed() },
      { ...opts.agent, log: host.log },
    );
    this.reassembler = new AgentReassembler((type) => this.agent.maxMessageSize(type));
    this.agent.on('ready', () => this.maybeClientMouse());
    // 'error' on an EventEmitter without listeners throws; agent problems are warnings here.
    this.agent.on('warning', (w: string) => host.log.warn({ channel: this.name }, w));
    this.on('state', (s: string) => {
      if (s === 'closed' || s === 'failed') this.stopAgent(s === 'closed' ? 'the session ended' : 'the main channel failed');
    });
  }

  channelCaps(): number[] {
    // No migration caps: without them the server falls back to a plain switch-host.
    return capsWords([MainCap.nameAndUuid, MainCap.agentConnectedTokens]);
  }

  protected onMessage(type: number, body: Buffer): void {
    switch (type) {
      case MsgMain.init: {
        const init = parseMainInit(body);
        this.info.init = init;
        this.info.mouseMode = { supported: init.supportedMouseModes, current: init.currentMouseMode };
        this.info.agentConnected = init.agentConnected;
        this.info.agentTokens = init.agentTokens;
        this.mmTimeAt = { mm: init.multiMediaTime, at: performance.now() };
        // The session id is all other channels need; ask for the channel list at once.
        this.send(MsgcMain.attachChannels, Buffer.alloc(0));
        if (init.agentConnected) this.startAgent();
        this.emit('init', init);
        return;
      }
      case MsgMain.channelsList: {
        const known = new Set(this.info.channels.map((c) => `${c.type}:${c.id}`));
        const fresh = parseChannelsList(body).filter((c) => !known.has(`${c.type}:${c.id}`));
        this.info.channels.push(...fresh);
        this.emit('channels', fresh);
        return;
      }
      case MsgMain.mouseMode:
        this.info.mouseMode = parseMouseMode(body);
        this.mouseRequested = false;
        this.emit('mouse-mode', this.info.mouseMode);
        this.maybeClientMouse();
        return;
      case MsgMain.name:
        this.info.name = parseName(body);
        return;
      case MsgMain.uuid:
        this.info.uuid = parseUuid(body);
        return;
      case MsgMain.agentConnected:
        this.info.agentConnected = true;
        this.startAgent(true);
        this.emit('agent', true);
        return;
      case MsgMain.agentConnectedTokens:
        this.info.agentConnected = true;
        this.info.agentTokens = parseU32(body, 'AGENT_CONNECTED_TOKENS');
        this.startAgent(true);
        this.emit('agent', true);
        return;
      case MsgMain.agentDisconnected:
        this.info.agentDisconnectCode = parseU32(body, 'AGENT_DISCONNECTED');
        this.info.agentConnected = false;
        this.stopAgent(`AGENT_DISCONNECTED, code ${this.info.agentDisconnectCode}`);
        this.emit('agent', false);
        return;
      case MsgMain.agentToken:
        this.info.agentTokens += parseU32(body, 'AGENT_TOKEN');
        this.flushAgent();
        return;
      case MsgMain.multiMediaTime:
        this.mmTimeAt = { mm: parseU32(body, 'MULTI_MEDIA_TIME'), at: performance.now() };
        return;
      case MsgMain.agentData:
        this.onAgentData(body);
        return;
      default:
        this.host.log.debug({ channel: this.name, type }, 'main: message ignored');
    }
  }

  // --- the agent pipe ---------------------------------------------------------------------

  /** AGENT_START (once per agent connection), then the agent announces its caps. */
  private startAgent(restart = false): void {
    if (this.agentStarted && !restart) return;
    if (this.agentStarted) this.stopAgent('the agent reconnected');
    this.agentStarted = true;
    this.reassembler.reset();
    this.send(MsgcMain.agentStart, encodeU32(AGENT_TOKENS_UNLIMITED));
    this.agent.started();
  }

  private stopAgent(why: string): void {
    const was = this.agentStarted;
    this.agentStarted = false;
    this.agentQueue = [];
    this.reassembler.reset();
    this.emit('agent-flushed');
    if (was || this.agent.state !== 'absent') this.agent.stopped(why);
  }

  private onAgentData(body: Buffer): void {
    // Data before AGENT_START (or after the agent left, or once its stream broke) has nowhere to go.
    if (!this.agentStarted || this.agent.state === 'broken') return;
    let msgs;
    try {
      msgs = this.reassembler.feed(body);
    } catch (e) {
      this.agent.broken(e as Error);
      return;
    }
    for (const m of msgs) this.agent.onMessage(m);
  }

  /** Queues one whole VDAgentMessage as AGENT_DATA chunks; they go out one per token. */
  sendAgentMessage(message: Buffer): void {
    if (!this.agentStarted) return;
    this.agentQueue.push(...chunkAgentMessage(message));
    this.flushAgent();
  }

  private flushAgent(): void {
    while (this.agentQueue.length && this.info.agentTokens > 0 && this.state === 'ready') {
      this.send(MsgcMain.agentData, this.agentQueue.shift()!);
      this.info.agentTokens--;
    }
    if (!this.agentQueue.length) this.emit('agent-flushed');
  }

  /** Chunks waiting for server tokens. */
  get agentQueued(): number {
    return this.agentQueue.length;
  }

  /** Resolves once every queued agent chunk was written and the socket drained. */
  async agentFlushed(): Promise<void> {
    while (this.agentQueue.length && this.agentStarted && this.state === 'ready') await once(this, 'agent-flushed');
    await (this.conn?.drained() ?? Promise.resolve());
  }

  /** The server's multimedia clock now (ms), from INIT / MULTI_MEDIA_TIME and the time since. */
  mmTime(): number {
    if (!this.mmTimeAt) return 0;
    return (this.mmTimeAt.mm + Math.round(performance.now() - this.mmTimeAt.at)) >>> 0;
  }

  /** Client mouse mode once the agent is up and the server offers it (spice-gtk does the same). */
  private maybeClientMouse(): void {
    if (this.opts.clientMouse === false || this.mouseRequested) return;
    const mm = this.info.mouseMode;
    if (!mm || !this.info.agentConnected || mm.current === MouseMode.client || !(mm.supported & MouseMode.client)) return;
    this.mouseRequested = true;
    this.host.log.info({ channel: this.name }, 'agent up: asking for client mouse mode');
    this.requestMouseMode(MouseMode.client);
  }

  /** Ask for client (absolute) or server (relative) mouse mode. */
  requestMouseMode(mode: number): void {
    this.send(MsgcMain.mouseModeRequest, encodeU16(mode));
  }

  get clientMouseSupported(): boolean {
    return ((this.info.mouseMode?.supported ?? 0) & MouseMode.client) !== 0;
  }
}
