import { capsWords, hasCap } from '../wire/caps.js';
import { MsgSpicevmc, SpicevmcCap } from '../wire/enums.js';
import { decodeCompressedData, encodeCompressedData } from '../wire/messages/spicevmc.js';
import { Channel, type ChannelHost } from './channel.js';

/** Payload (uncompressed) vs message-body bytes per direction, and how many messages were LZ4. */
export class PayloadStats {
  payloadIn = 0;
  payloadOut = 0;
  bodyIn = 0;
  bodyOut = 0;
  compressedIn = 0;
  compressedOut = 0;
  toJSON() {
    const ratio = (p: number, w: number) => (w ? Math.round((p / w) * 1000) / 1000 : null);
    return {
      payloadIn: this.payloadIn, payloadOut: this.payloadOut, bodyIn: this.bodyIn, bodyOut: this.bodyOut,
      compressedIn: this.compressedIn, compressedOut: this.compressedOut,
      ratioIn: ratio(this.payloadIn, this.bodyIn), ratioOut: ratio(this.payloadOut, this.bodyOut),
    };
  }
}

/**
 * A spicevmc channel (usbredir, port, webdav): an unframed byte stream in DATA messages,
 * optionally LZ4-compressed both ways. Emits 'data' (Buffer) with the payload.
 */
export class SpicevmcChannel extends Channel {
  readonly payload = new PayloadStats();

  constructor(host: ChannelHost, type: number, id: number, private readonly lz4: boolean, t0?: number) {
    super(host, type, id, t0);
  }

  channelCaps(): number[] {
    return this.lz4 ? capsWords([SpicevmcCap.dataCompressLz4]) : [];
  }

  /** We compress only when both sides advertised LZ4. */
  get compressing(): boolean {
    return this.lz4 && hasCap(this.serverChannelCaps, SpicevmcCap.dataCompressLz4);
  }

  protected onMessage(type: number, body: Buffer): void {
    let data: Buffer;
    if (type === MsgSpicevmc.data) data = body;
    else if (type === MsgSpicevmc.compressedData) {
      data = decodeCompressedData(body);
      this.payload.compressedIn++;
    } else {
      this.onOtherMessage(type, body);
      return;
    }
    this.payload.bodyIn += body.length;
    this.payload.payloadIn += data.length;
    this.emit('data', data);
  }

  /** Channel-specific messages (e.g. PORT_INIT); ignored here. */
  protected onOtherMessage(type: number, _body: Buffer): void {
    this.host.log.debug({ channel: this.name, type }, 'spicevmc: message ignored');
  }

  /** Sends payload bytes; returns false when the socket wants the caller to wait for 'drain'. */
  write(payload: Buffer): boolean {
    const compressed = this.compressing ? encodeCompressedData(payload) : null;
    const body = compressed ?? payload;
    if (compressed) this.payload.compressedOut++;
    this.payload.payloadOut += payload.length;
    this.payload.bodyOut += body.length;
    return this.send(compressed ? MsgSpicevmc.compressedData : MsgSpicevmc.data, body);
  }

  /** Resolves when the socket's write buffer has drained. */
  drained(): Promise<void> {
    return this.conn?.drained() ?? Promise.resolve();
  }

  override describe() {
    return { ...super.describe(), payload: this.payload.toJSON(), lz4: this.compressing };
  }
}
