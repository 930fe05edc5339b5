import { capsWords } from '../wire/caps.js';
import { ChannelType, InputsCap, MOTION_ACK_BUNCH, MsgInputs, MsgcInputs } from '../wire/enums.js';
import { encodeKeyCode, encodeMouseButton, encodeMouseMotion, encodeMousePosition, parseModifiers } from '../wire/messages/inputs.js';
import { keyCode, type KeyStroke } from '../keymap.js';
import { Channel, type ChannelHost } from './channel.js';

/** Button masks for buttons 1..7 (LEFT, MIDDLE, RIGHT, UP, DOWN, SIDE, EXTRA). */
const buttonMask = (b: number) => 1 << (b - 1);

/**
 * Keyboard and mouse. Motion follows spice-gtk's rule: at most 2 bunches (8 messages)
 * un-acked; beyond that, motion is coalesced and flushed on MOTION_ACK or before a button.
 */
export class InputsChannel extends Channel {
  modifiers = 0;
  private buttons = 0;
  private unackedMotion = 0;
  private pendingRel: { dx: number; dy: number } | null = null;
  private pendingAbs: { x: number; y: number; display: number } | null = null;

  constructor(host: ChannelHost, id: number, t0?: number) {
    super(host, ChannelType.inputs, id, t0);
  }

  channelCaps(): number[] {
    return capsWords([InputsCap.keyScancode]);
  }

  protected onMessage(type: number, body: Buffer): void {
    switch (type) {
      case MsgInputs.init:
      case MsgInputs.keyModifiers:
        this.modifiers = parseModifiers(body, type === MsgInputs.init ? 'INPUTS_INIT' : 'KEY_MODIFIERS');
        this.emit('modifiers', this.modifiers);
        return;
      case MsgInputs.mouseMotionAck:
        this.unackedMotion = Math.max(0, this.unackedMotion - MOTION_ACK_BUNCH);
        this.flushMotion();
        this.emit('motion-ack');
        return;
      default:
        this.host.log.debug({ channel: this.name, type }, 'inputs: message ignored');
    }
  }

  key(stroke: KeyStroke): void {
    this.send(stroke.down ? MsgcInputs.keyDown : MsgcInputs.keyUp, encodeKeyCode(keyCode(stroke.key, stroke.down)));
  }

  /** Relative motion (server mouse mode). */
  moveBy(dx: number, dy: number): void {
    if (this.pendingRel) {
      this.pendingRel.dx += dx;
      this.pendingRel.dy += dy;
    } else this.pendingRel = { dx, dy };
    this.flushMotion();
  }

  /** Absolute position (client mouse mode). */
  moveTo(x: number, y: number, display = 0): void {
    this.pendingAbs = { x, y, display };
    this.flushMotion();
  }

  private flushMotion(): void {
    if (this.unackedMotion >= 2 * MOTION_ACK_BUNCH) return;
    if (this.pendingRel) {
      this.send(MsgcInputs.mouseMotion, encodeMouseMotion(this.pendingRel.dx, this.pendingRel.dy, this.buttons));
      this.pendingRel = null;
      this.unackedMotion++;
    }
    if (this.pendingAbs && this.unackedMotion < 2 * MOTION_ACK_BUNCH) {
      const p = this.pendingAbs;
      this.send(MsgcInputs.mousePosition, encodeMousePosition(p.x, p.y, this.buttons, p.display));
      this.pendingAbs = null;
      this.unackedMotion++;
    }
  }

  /** Motion messages sent and not yet acknowledged (MOUSE_MOTION_ACK). */
  get unackedMotions(): number {
    return this.unackedMotion;
  }

  /** Motion still waiting for the server's acks. */
  get motionPending(): boolean {
    return this.pendingRel !== null || this.pendingAbs !== null;
  }

  button(button: number, down: boolean): void {
    // Buttons must not overtake motion queued before them.
    const saved = this.unackedMotion;
    this.unackedMotion = 0;
    this.flushMotion();
    this.unackedMotion = Math.max(saved, this.unackedMotion);
    this.buttons = down ? this.buttons | buttonMask(button) : this.buttons & ~buttonMask(button);
    this.send(down ? MsgcInputs.mousePress : MsgcInputs.mouseRelease, encodeMouseButton(button, this.buttons));
  }
}
