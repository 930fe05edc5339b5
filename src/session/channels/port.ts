import { ChannelType } from '../wire/enums.js';
import { MsgPort, MsgcPort, PORT_EVENT_NAMES, encodePortEvent, parsePortEvent, parsePortInit } from '../wire/messages/port.js';
import type { ChannelHost } from './channel.js';
import { SpicevmcChannel } from './spicevmc.js';

/**
 * A port channel: a named byte stream to a QEMU `spiceport` chardev (digest §8.3). Data as on
 * every spicevmc channel ('data'); PORT_INIT names the port ('port-init' {name, opened}), PORT_EVENT
 * says when the guest side opens or closes it ('port-event' name).
 */
export class PortChannel extends SpicevmcChannel {
  portName: string | null = null;
  /** whether the chardev's front end (device, monitor) has the port open */
  guestOpen = false;

  constructor(host: ChannelHost, id: number, lz4: boolean, t0?: number) {
    super(host, ChannelType.port, id, lz4, t0);
  }

  protected override onOtherMessage(type: number, body: Buffer): void {
    switch (type) {
      case MsgPort.init: {
        const { name, opened } = parsePortInit(body);
        this.portName = name;
        this.guestOpen = opened;
        this.emit('port-init', { name, opened });
        return;
      }
      case MsgPort.event: {
        const ev = parsePortEvent(body);
        if (ev === 0) this.guestOpen = true;
        if (ev === 1) this.guestOpen = false;
        this.emit('port-event', PORT_EVENT_NAMES[ev] ?? `event${ev}`);
        return;
      }
      default:
        super.onOtherMessage(type, body);
    }
  }

  /** Tell the guest side we opened (0), closed (1) the port, or send a break (2). */
  portEvent(event: number): void {
    this.send(MsgcPort.event, encodePortEvent(event));
  }

  override describe() {
    return { ...super.describe(), port: this.portName, guestOpen: this.guestOpen };
  }
}
