// Port channel messages: PORT_INIT (a pointer to the name), PORT_EVENT both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/util/log.js';
import { PortChannel } from '../../src/session/channels/port.js';
import { Writer } from '../../src/session/wire/writer.js';
import { ProtocolError } from '../../src/util/errors.js';
import { MsgPort, MsgcPort, PortEvent, encodePortInit, parsePortEvent, parsePortInit } from '../../src/session/wire/messages/port.js';

test('PORT_INIT: name via its pointer, NUL dropped; bad pointers refused', () => {
  assert.deepEqual(parsePortInit(encodePortInit('org.qemu.monitor.hmp.0', true)), { name: 'org.qemu.monitor.hmp.0', opened: true });
  // the name need not follow right after the fixed part: the pointer says where it is
  const odd = new Writer().u32(4).u32(12).u8(0).u8(0).u8(0).u8(0).bytes(Buffer.from('abc\0')).finish();
  assert.deepEqual(parsePortInit(odd), { name: 'abc', opened: false });
  assert.throws(() => parsePortInit(new Writer().u32(4).u32(100).u8(0).finish()), ProtocolError);
  assert.throws(() => parsePortInit(new Writer().u32(400).u32(9).u8(0).bytes(Buffer.from('x\0')).finish()), ProtocolError);
});

test('PortChannel: PORT_INIT and PORT_EVENT become events; portEvent() sends 201', () => {
  const sent: { type: number; body: Buffer }[] = [];
  class T extends PortChannel {
    constructor() {
      super({ log: silentLogger, connectionId: () => 1, password: () => ({ value: '', given: false }), openSocket: async () => { throw new Error('no'); } }, 0, false);
      this.state = 'ready';
    }
    override send(type: number, body: Buffer) {
      sent.push({ type, body });
      return true;
    }
    feed(type: number, body: Buffer) {
      this.onMessage(type, body);
    }
  }
  const ch = new T();
  const seen: unknown[] = [];
  ch.on('port-init', (i) => seen.push(i));
  ch.on('port-event', (e) => seen.push(e));
  ch.on('data', (d: Buffer) => seen.push(d.toString()));
  ch.feed(MsgPort.init, encodePortInit('org.spicectl.test', false));
  ch.feed(MsgPort.event, Buffer.from([PortEvent.opened]));
  ch.feed(101, Buffer.from('hello'));
  ch.feed(MsgPort.event, Buffer.from([PortEvent.closed]));
  assert.deepEqual(seen, [{ name: 'org.spicectl.test', opened: false }, 'opened', 'hello', 'closed']);
  assert.equal(ch.portName, 'org.spicectl.test');
  assert.equal(ch.guestOpen, false);
  ch.portEvent(PortEvent.opened);
  assert.deepEqual(sent, [{ type: MsgcPort.event, body: Buffer.from([0]) }]);
  assert.equal(parsePortEvent(Buffer.from([2])), 2);
});
