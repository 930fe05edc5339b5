import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

// INPUTS_INIT / KEY_MODIFIERS (s->c): u16 keyboard_modifiers (SCROLL 1, NUM 2, CAPS 4)
export function parseModifiers(body: Buffer, what: string): number {
  return new Reader(body, 0, what).u16('modifiers');
}

// KEY_DOWN / KEY_UP: u32 code (set-1 bytes, least significant first, stop at the first zero)
export function encodeKeyCode(code: number): Buffer {
  return new Writer(4).u32(code).finish();
}

// MOUSE_MOTION: i32 dx, i32 dy, u16 buttons_state
export function encodeMouseMotion(dx: number, dy: number, buttons: number): Buffer {
  return new Writer(10).i32(dx).i32(dy).u16(buttons).finish();
}

// MOUSE_POSITION: u32 x, u32 y, u16 buttons_state, u8 display_id
export function encodeMousePosition(x: number, y: number, buttons: number, displayId: number): Buffer {
  return new Writer(11).u32(x).u32(y).u16(buttons).u8(displayId).finish();
}

// MOUSE_PRESS / MOUSE_RELEASE: u8 button, u16 buttons_state
export function encodeMouseButton(button: number, buttons: number): Buffer {
  return new Writer(3).u8(button).u16(buttons).finish();
}
