import { SpiceError } from '../util/errors.js';

// PC/XT scancode set 1 for a US keyboard. A key is {make, extended}; extended keys are
// sent with an 0xE0 prefix byte.
export interface Key { make: number; extended: boolean }

const plain = (make: number): Key => ({ make, extended: false });
const ext = (make: number): Key => ({ make, extended: true });

const named: Record<string, Key> = {
  esc: plain(0x01), escape: plain(0x01), backspace: plain(0x0e), tab: plain(0x0f), enter: plain(0x1c), return: plain(0x1c),
  ctrl: plain(0x1d), lctrl: plain(0x1d), shift: plain(0x2a), lshift: plain(0x2a), rshift: plain(0x36), alt: plain(0x38),
  lalt: plain(0x38), space: plain(0x39), capslock: plain(0x3a), numlock: plain(0x45), scrolllock: plain(0x46),
  f1: plain(0x3b), f2: plain(0x3c), f3: plain(0x3d), f4: plain(0x3e), f5: plain(0x3f), f6: plain(0x40), f7: plain(0x41),
  f8: plain(0x42), f9: plain(0x43), f10: plain(0x44), f11: plain(0x57), f12: plain(0x58),
  rctrl: ext(0x1d), ralt: ext(0x38), altgr: ext(0x38), home: ext(0x47), up: ext(0x48), pageup: ext(0x49), pgup: ext(0x49),
  left: ext(0x4b), right: ext(0x4d), end: ext(0x4f), down: ext(0x50), pagedown: ext(0x51), pgdn: ext(0x51),
  insert: ext(0x52), ins: ext(0x52), delete: ext(0x53), del: ext(0x53), lsuper: ext(0x5b), super: ext(0x5b), win: ext(0x5b),
  rsuper: ext(0x5c), menu: ext(0x5d), kpenter: ext(0x1c), kpdivide: ext(0x35),
};

// Printable characters: [unshifted, shifted] per key.
const rows: [string, string, number][] = [
  ['1', '!', 0x02], ['2', '@', 0x03], ['3', '#', 0x04], ['4', '$', 0x05], ['5', '%', 0x06], ['6', '^', 0x07],
  ['7', '&', 0x08], ['8', '*', 0x09], ['9', '(', 0x0a], ['0', ')', 0x0b], ['-', '_', 0x0c], ['=', '+', 0x0d],
  ['q', 'Q', 0x10], ['w', 'W', 0x11], ['e', 'E', 0x12], ['r', 'R', 0x13], ['t', 'T', 0x14], ['y', 'Y', 0x15],
  ['u', 'U', 0x16], ['i', 'I', 0x17], ['o', 'O', 0x18], ['p', 'P', 0x19], ['[', '{', 0x1a], [']', '}', 0x1b],
  ['a', 'A', 0x1e], ['s', 'S', 0x1f], ['d', 'D', 0x20], ['f', 'F', 0x21], ['g', 'G', 0x22], ['h', 'H', 0x23],
  ['j', 'J', 0x24], ['k', 'K', 0x25], ['l', 'L', 0x26], [';', ':', 0x27], ["'", '"', 0x28], ['`', '~', 0x29],
  ['\\', '|', 0x2b], ['z', 'Z', 0x2c], ['x', 'X', 0x2d], ['c', 'C', 0x2e], ['v', 'V', 0x2f], ['b', 'B', 0x30],
  ['n', 'N', 0x31], ['m', 'M', 0x32], [',', '<', 0x33], ['.', '>', 0x34], ['/', '?', 0x35],
];
const chars = new Map<string, { key: Key; shift: boolean }>();
for (const [lo, hi, make] of rows) {
  chars.set(lo, { key: plain(make), shift: false });
  chars.set(hi, { key: plain(make), shift: true });
}
chars.set(' ', { key: plain(0x39), shift: false });
chars.set('\n', { key: plain(0x1c), shift: false });
chars.set('\t', { key: plain(0x0f), shift: false });

/** The u32 code of KEY_DOWN / KEY_UP: bytes least significant first, break = make | 0x80. */
export function keyCode(key: Key, down: boolean): number {
  const b = down ? key.make : key.make | 0x80;
  return key.extended ? (0xe0 | (b << 8)) >>> 0 : b;
}

export type KeyStroke = { key: Key; down: boolean };

/** Press/release events that type `text` on a US layout. */
export function strokesForText(text: string): KeyStroke[] {
  const out: KeyStroke[] = [];
  const shift = named.shift!;
  for (const ch of text) {
    const k = chars.get(ch);
    if (!k) throw new SpiceError('usage', `cannot type ${JSON.stringify(ch)}: only US-keyboard ASCII is supported`);
    if (k.shift) out.push({ key: shift, down: true });
    out.push({ key: k.key, down: true }, { key: k.key, down: false });
    if (k.shift) out.push({ key: shift, down: false });
  }
  return out;
}

/** "ctrl+alt+del", "up", "shift+f10": press all in order, release in reverse. */
export function strokesForCombo(combo: string): KeyStroke[] {
  const keys = combo.toLowerCase().split('+').map((name) => {
    const k = named[name] ?? (name.length === 1 ? chars.get(name)?.key : undefined);
    if (!k) throw new SpiceError('usage', `unknown key "${name}" in "${combo}" (known: ${Object.keys(named).join(', ')}, or a single character)`);
    return k;
  });
  return [...keys.map((key) => ({ key, down: true })), ...keys.reverse().map((key) => ({ key, down: false }))];
}
