// GLib key-file syntax (the format of remote-viewer's .vv files): parse, read typed values,
// escape and serialize. Pure: strings in, values out. Behaviour follows GLib 2.74 as measured
// against libglib itself (g_key_file_load_from_data, get_string/get_integer/get_string_list):
//
//   * Lines split on '\n' (a '\r' before it is dropped). Leading whitespace of a line is ignored.
//   * Blank lines and lines starting with '#' are comments. ';' is NOT a comment character.
//   * "[name]" starts a group (trailing whitespace allowed); the name is non-empty and has no
//     '[' ']' or control characters. Repeated groups are merged.
//   * "key=value": the key is what precedes the first '=', trailing whitespace dropped; the
//     value is what follows, leading whitespace dropped, trailing whitespace KEPT. A key may
//     carry a locale suffix "key[de]". A key line before any group is an error. The last of
//     repeated keys wins.
//   * Escapes (decoded when a value is read, not when the file is loaded): \s space, \n, \t,
//     \r, \\; in string lists also \; (the separator). Any other escape, or a backslash at the
//     end of a value, makes GLib refuse that value (remote-viewer then sees the key as unset).
//   * Integers: strtol base 10 on the raw value (no escapes, no 0x): optional sign, digits,
//     then only whitespace or the end; must fit in a signed 32-bit int. Anything else -- "true",
//     "0x10", "" -- fails, and remote-viewer's getters turn a failure into 0.
//   * String lists: split on unescaped ';' (items are not trimmed); one trailing ';' is optional.
//   * A UTF-8 byte order mark is not accepted; string values must be valid UTF-8.

export interface KeyFileEntry {
  /** Key name without a locale suffix. */
  key: string;
  /** "de" for "key[de]=..." */
  locale?: string;
  /** The value exactly as written (escapes not decoded, leading blanks removed). */
  raw: string;
  /** 1-based line number. */
  line: number;
}

export interface KeyFileGroup {
  name: string;
  /** Line of the (first) group header. */
  line: number;
  /** Every entry in file order, repeats included (use getEntry for GLib's "last wins"). */
  entries: KeyFileEntry[];
  /** Lines of later headers with the same name (GLib merges them into this group). */
  repeatedAt: number[];
}

export interface KeyFileSyntaxError {
  line: number;
  message: string;
}

export interface KeyFile {
  groups: KeyFileGroup[];
  /** Every line GLib would reject; GLib refuses the whole file if there is one. */
  errors: KeyFileSyntaxError[];
}

const CONTROL = /[\x00-\x1f\x7f]/;

function isValidGroupName(name: string): boolean {
  return name !== '' && !/[[\]]/.test(name) && !CONTROL.test(name);
}

/** Parse key-file text. Never throws: syntax errors are collected, one per bad line. */
export function parseKeyFile(text: string): KeyFile {
  const groups: KeyFileGroup[] = [];
  const byName = new Map<string, KeyFileGroup>();
  const errors: KeyFileSyntaxError[] = [];
  let current: KeyFileGroup | null = null;
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const lastTerminated = text.endsWith('\n');
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    // A CR is part of the line ending only when a LF follows it.
    const terminated = i < lines.length - 1 || lastTerminated;
    let l = (terminated ? rawLine.replace(/\r$/, '') : rawLine).replace(/^[ \t\n\v\f\r]+/, '');
    if (i === 0 && l.startsWith('\ufeff')) {
      // Reported once; the rest is parsed as if the mark were absent, to find other problems.
      errors.push({ line, message: 'the file starts with a UTF-8 byte order mark, which GLib rejects: save it without a BOM' });
      l = l.slice(1);
    }
    if (l === '' || l.startsWith('#')) return;
    if (l.startsWith(';')) {
      errors.push({ line, message: `"${l}": ';' does not start a comment in a GLib key file: use '#'` });
      return;
    }
    if (l.startsWith('[')) {
      const t = l.replace(/[ \t\r\n\v\f]+$/, '');
      // After a bad header, its keys are not reported again (GLib stops at the first error).
      if (!t.endsWith(']')) {
        errors.push({ line, message: `"${l}" is not a group header: write [group-name]` });
        current = { name: '', line, entries: [], repeatedAt: [] };
        return;
      }
      const name = t.slice(1, -1);
      if (!isValidGroupName(name)) {
        errors.push({ line, message: `"${t}": invalid group name (it must be non-empty, without '[', ']' or control characters)` });
        current = { name: '', line, entries: [], repeatedAt: [] };
        return;
      }
      const seen = byName.get(name);
      if (seen) {
        seen.repeatedAt.push(line);
        current = seen;
      } else {
        current = { name, line, entries: [], repeatedAt: [] };
        groups.push(current);
        byName.set(name, current);
      }
      return;
    }
    const eq = l.indexOf('=');
    if (eq < 0) {
      errors.push({ line, message: `"${l}" is not a key=value pair, a [group] or a # comment` });
      return;
    }
    const keyText = l.slice(0, eq).replace(/[ \t\r\n\v\f]+$/, '');
    const raw = l.slice(eq + 1).replace(/^[ \t\n\v\f\r]+/, '');
    if (keyText === '') {
      errors.push({ line, message: `"${l}": the key before '=' is empty` });
      return;
    }
    let key = keyText;
    let locale: string | undefined;
    const loc = /^([^[\]]+)\[([^[\]]+)\]$/.exec(keyText);
    if (loc) {
      key = loc[1]!;
      locale = loc[2]!;
    } else if (/[[\]]/.test(keyText)) {
      errors.push({ line, message: `"${keyText}": invalid key name ('[' and ']' are only allowed in a locale suffix, key[xx])` });
      return;
    }
    if (!current) {
      errors.push({ line, message: `"${keyText}" comes before any [group]: the file must start with a group such as [virt-viewer]` });
      return;
    }
    current.entries.push({ key, locale, raw, line });
  });
  return { groups, errors };
}

export function getGroup(kf: KeyFile, name: string): KeyFileGroup | undefined {
  return kf.groups.find((g) => g.name === name);
}

/** The effective (last) unlocalized entry for key, as GLib reads it. */
export function getEntry(group: KeyFileGroup | undefined, key: string): KeyFileEntry | undefined {
  if (!group) return undefined;
  for (let i = group.entries.length - 1; i >= 0; i--) {
    const e = group.entries[i]!;
    if (e.key === key && e.locale === undefined) return e;
  }
  return undefined;
}

/** Thrown by the value readers; the message says what is wrong with the value. */
export class KeyFileValueError extends Error {
  override name = 'KeyFileValueError';
}

const ESCAPES: Record<string, string> = { s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' };

function unescape(raw: string, listSep: string | null): string[] {
  const items: string[] = [];
  let cur = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      if (i + 1 >= raw.length) throw new KeyFileValueError('the value ends with a lone backslash (write \\\\ for a backslash)');
      const n = raw[++i]!;
      if (n in ESCAPES) cur += ESCAPES[n];
      else if (listSep !== null && n === listSep) cur += n;
      else {
        const hint = n === ';' ? ' (\\; is only valid in a string list)' : ' (valid: \\s \\n \\t \\r \\\\)';
        throw new KeyFileValueError(`invalid escape "\\${n}"${hint}`);
      }
    } else if (listSep !== null && c === listSep) {
      items.push(cur);
      cur = '';
    } else cur += c;
  }
  if (listSep === null || cur !== '') items.push(cur);
  return items;
}

/** g_key_file_get_string on a raw value. */
export function readString(raw: string): string {
  return unescape(raw, null)[0]!;
}

/** g_key_file_get_string_list on a raw value (separator ';'). */
export function readStringList(raw: string): string[] {
  return unescape(raw, ';');
}

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** g_key_file_get_integer on a raw value: base 10, sign, digits, then only whitespace. */
export function readInteger(raw: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)(.*)$/s.exec(raw);
  if (!m || (m[3] !== '' && !/^[ \t\n\v\f\r]/.test(m[3]!))) {
    throw new KeyFileValueError(`"${raw}" is not an integer`);
  }
  const v = Number(`${m[1]}${m[2]}`);
  if (v < INT_MIN || v > INT_MAX) throw new KeyFileValueError(`${raw.trim()} does not fit in a 32-bit integer`);
  return v === 0 ? 0 : v; // no -0
}

/** Escape a string value the way g_key_file_set_string does (plus every tab as \t). */
export function escapeString(value: string): string {
  return escapeValue(value, false);
}

function escapeValue(value: string, inList: boolean): string {
  let out = '';
  let leading = true;
  for (const c of value) {
    if (leading && c === ' ') {
      out += '\\s';
      continue;
    }
    leading = false;
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (inList && c === ';') out += '\\;';
    else out += c;
  }
  return out;
}

/** Escape a string list as g_key_file_set_string_list does: items joined by ';', one trailing ';'. */
export function escapeStringList(values: readonly string[]): string {
  return values.map((v) => `${escapeValue(v, true)};`).join('');
}

/** A key name GLib accepts when writing (no '=', no brackets, no control characters, no edge blanks). */
export function isValidKeyName(key: string): boolean {
  return key !== '' && !/[=[\]]/.test(key) && !CONTROL.test(key) && key.trim() === key && !key.startsWith('#');
}

export interface SerializeGroup {
  name: string;
  /** [key, raw value] pairs: values must already be escaped (escapeString / escapeStringList / String(int)). */
  entries: [string, string][];
  /** Comment lines (without '#') written above the group header. */
  comments?: string[];
}

/** Serialize groups; throws on names that could not be read back. */
export function serializeKeyFile(groups: SerializeGroup[]): string {
  const out: string[] = [];
  for (const g of groups) {
    if (!isValidGroupName(g.name)) throw new Error(`invalid key-file group name "${g.name}"`);
    if (out.length) out.push('');
    for (const c of g.comments ?? []) out.push(`#${c.includes('\n') ? c.replace(/\n/g, ' ') : c}`);
    out.push(`[${g.name}]`);
    for (const [k, v] of g.entries) {
      if (!isValidKeyName(k)) throw new Error(`invalid key-file key name "${k}"`);
      if (/[\n\r]/.test(v)) throw new Error(`raw value of "${k}" contains a line break: escape it`);
      out.push(`${k}=${v}`);
    }
  }
  return `${out.join('\n')}\n`;
}
