import { capsWords } from '../wire/caps.js';
import { ChannelType, MainCap, MouseMode, MsgMain, MsgcMain } from '../wire/enums.js';
import {
  encodeU16, parseChannelsList, parseMainInit, parseMouseMode, parseName, parseU32, parseUuid, type MainInit,
} from '../wire/messages/main.js';
import { Channel, type ChannelHost } from './channel.js';

export interface MainState {
  init: MainInit | null;
  name: string | null;
  uuid: string | null;
  mouseMode: { supported: number; current: number } | null;
  agentConnected: boolean;
  agentTokens: number;
  channels: { type: number; id: number }[];
}

/**
 * The main channel: session id, the list of other channels, mouse mode and agent state.
 * Emits 'init' (MainInit), 'channels' (new entries), 'mouse-mode', 'agent'.
 */
export class MainChannel extends Channel {
  readonly info: MainState = { init: null, name: null, uuid: null, mouseMode: null, agentConnected: false, agentTokens: 0, channels: [] };

  constructor(host: ChannelHost, t0?: number) {
    super(host, ChannelType.main, 0, t0);
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
        // The session id is all other channels need; ask for the channel list at once.
        this.send(MsgcMain.attachChannels, Buffer.alloc(0));
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
        this.emit('mouse-mode', this.info.mouseMode);
        return;
      case MsgMain.name:
        this.info.name = parseName(body);
        return;
      case MsgMain.uuid:
        this.info.uuid = parseUuid(body);
        return;
      case MsgMain.agentConnected:
        this.info.agentConnected = true;
        this.emit('agent', true);
        return;
      case MsgMain.agentConnectedTokens:
        this.info.agentConnected = true;
        this.info.agentTokens = parseU32(body, 'AGENT_CONNECTED_TOKENS');
        this.emit('agent', true);
        return;
      case MsgMain.agentDisconnected:
        parseU32(body, 'AGENT_DISCONNECTED');
        this.info.agentConnected = false;
        this.emit('agent', false);
        return;
      case MsgMain.agentToken:
        this.info.agentTokens += parseU32(body, 'AGENT_TOKEN');
        return;
      case MsgMain.multiMediaTime:
        parseU32(body, 'MULTI_MEDIA_TIME');
        return;
      case MsgMain.agentData:
        // The agent protocol arrives with the agent issue; until then its data is dropped.
        return;
      default:
        this.host.log.debug({ channel: this.name, type }, 'main: message ignored');
    }
  }

  /** Ask for client (absolute) or server (relative) mouse mode. */
  requestMouseMode(mode: number): void {
    this.send(MsgcMain.mouseModeRequest, encodeU16(mode));
  }

  get clientMouseSupported(): boolean {
    return ((this.info.mouseMode?.supported ?? 0) & MouseMode.client) !== 0;
  }
}
