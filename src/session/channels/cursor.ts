import { ProtocolError } from '../../util/errors.js';
import { ChannelType, MsgCursor } from '../wire/enums.js';
import { CursorFlags, parseCursorInit, parseCursorInvalOne, parseCursorMove, parseCursorSet, type CursorShape } from '../wire/messages/cursor.js';
import { Channel, type ChannelHost } from './channel.js';

/** Bounds a hostile server's cache: real cursors are a few KiB each. */
const MAX_CACHE_ENTRIES = 1024;

/** Pointer shape and position as the server draws it (server mouse mode). */
export class CursorChannel extends Channel {
  x = 0;
  y = 0;
  visible = false;
  shape: CursorShape | null = null;
  readonly cache = new Map<bigint, CursorShape>();

  constructor(host: ChannelHost, id: number, t0?: number) {
    super(host, ChannelType.cursor, id, t0);
  }

  channelCaps(): number[] {
    return [];
  }

  private resolve(c: CursorShape): CursorShape | null {
    if (c.flags & CursorFlags.none) return null;
    if (c.flags & CursorFlags.fromCache) {
      const hit = this.cache.get(c.header!.unique);
      if (!hit) throw new ProtocolError(`cursor ${c.header!.unique} is not in the cursor cache`);
      return hit;
    }
    if (c.flags & CursorFlags.cacheMe) {
      if (this.cache.size >= MAX_CACHE_ENTRIES) throw new ProtocolError('cursor cache overflow: the server never invalidates');
      this.cache.set(c.header!.unique, c);
    }
    return c;
  }

  protected onMessage(type: number, body: Buffer): void {
    switch (type) {
      case MsgCursor.init: {
        const m = parseCursorInit(body);
        this.cache.clear();
        Object.assign(this, { x: m.x, y: m.y, visible: m.visible });
        this.shape = this.resolve(m.cursor);
        break;
      }
      case MsgCursor.set: {
        const m = parseCursorSet(body);
        Object.assign(this, { x: m.x, y: m.y, visible: m.visible });
        this.shape = this.resolve(m.cursor);
        break;
      }
      case MsgCursor.move:
        Object.assign(this, parseCursorMove(body));
        this.visible = true;
        break;
      case MsgCursor.hide:
        this.visible = false;
        break;
      case MsgCursor.reset:
        this.cache.clear();
        this.shape = null;
        break;
      case MsgCursor.invalOne:
        this.cache.delete(parseCursorInvalOne(body));
        break;
      case MsgCursor.invalAll:
        this.cache.clear();
        break;
      case MsgCursor.trail:
        break;
      default:
        this.host.log.debug({ channel: this.name, type }, 'cursor: message ignored');
        return;
    }
    this.emit('cursor');
  }
}
