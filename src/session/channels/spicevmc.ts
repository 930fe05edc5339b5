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

/** What a channel holds for a reader that has not attached yet (a peer's hello is ~80 bytes). */
const MAX_UNHEARD = 1 << 20;

/**
 * A spicevmc channel (usbredir, port, webdav): an unframed byte stream in DATA messages,
 * optionally LZ4-compressed both ways. Emits 'data' (Buffer) with the payload.
 */
export class SpicevmcChannel extends Channel {
  readonly payload = new PayloadStats();

  /** Payload that arrived before anyone listened for 'data' (e.g. the peer's hello on a channel
   *  opened ahead of its user): kept in order and handed to the first listener. */
  private unheard: Buffer[] = [];
  private unheardBytes = 0;

  constructor(host: ChannelHost, type: number, id: number, private readonly lz4: boolean, t0?: number) {
    super(host, type, id, t0);
    this.on('newListener', (event) => {
      if (event !== 'data' || !this.unheard.length) return;
      // 'newListener' fires before the listener is added: deliver right after.
      queueMicrotask(() => {
        const held = this.unheard;
        this.unheard = [];
        this.unheardBytes = 0;
        for (const d of held) this.emit('data', d);
      });
    });
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
    if (this.listenerCount('data') > 0 && !this.unheard.length) this.emit('data', data);
    else if ((this.unheardBytes += data.length) <= MAX_UNHEARD) this.unheard.push(data);
    else this.host.log.warn({ channel: this.name, bytes: data.length }, 'spicevmc: data with no reader dropped');
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
