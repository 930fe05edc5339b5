// usbredir filter rules: "class,vendor,product,version,allow|..." — parse, format, check a
// device (usbredirfilter_check semantics), explain the decision, and convert to/from
// libvirt's <redirfilter> XML. Pure: strings and objects in, values out.
//
// Text format (usbredir usbredirfilter.h): rules separated by '|', each rule exactly five
// integers class,vendor,product,version,allow. The token separator is ',' (SPICE, .vv,
// filter_filter) or ':' (QEMU's usb-redir filter= property). Each value is read like C
// strtol(s, 0): optional leading whitespace and sign, "0x" = hex, a leading "0" = OCTAL
// ("010" is 8; "0800" is invalid), else decimal. -1 matches anything. Ranges: class -1..255,
// vendor/product/version -1..65535 (version is bcdDevice, BCD), allow 0 = deny, else allow.
// Empty rules ("a||b", a trailing '|') are skipped.
//
// Deliberate differences from usbredir's parser (all make us stricter or friendlier, never
// more permissive on a value): an empty field ("1,,2,3,4" — usbredir's strtok would silently
// shift the fields) is an error; surrounding whitespace of the whole text is ignored; values
// that C would truncate to int are range errors.

import { SpiceError } from '../util/errors.js';

export interface FilterRule {
  /** bDeviceClass / bInterfaceClass, -1 = any. */
  deviceClass: number;
  /** idVendor, -1 = any. */
  vendorId: number;
  /** idProduct, -1 = any. */
  productId: number;
  /** bcdDevice, -1 = any. */
  deviceVersionBcd: number;
  allow: boolean;
}

export type FilterSeparator = ',' | ':';

export interface ParseFilterOptions {
  /** Token separator: ',' (default; SPICE, .vv, filter_filter) or ':' (QEMU filter=). */
  sep?: FilterSeparator;
  /** Called for values that parse but probably don't mean what was meant (octal). */
  onWarning?: (message: string) => void;
}

const FIELDS = ['class', 'vendor', 'product', 'version', 'allow'] as const;
type FieldName = (typeof FIELDS)[number];
const RANGES: Record<FieldName, [number, number]> = {
  class: [-1, 255],
  vendor: [-1, 65535],
  product: [-1, 65535],
  version: [-1, 65535],
  allow: [-2147483648, 2147483647],
};

const bad = (msg: string): SpiceError => new SpiceError('input', msg);

/** Parse a filter string; throws SpiceError('input') naming the rule, field and value. */
export function parseFilter(text: string, opts: ParseFilterOptions = {}): FilterRule[] {
  const sep = opts.sep ?? ',';
  if (sep !== ',' && sep !== ':') throw bad(`filter token separator must be ',' or ':', got '${String(sep)}'`);
  const other = sep === ',' ? ':' : ',';
  const rules: FilterRule[] = [];
  for (const ruleText of text.trim().split('|')) {
    if (ruleText === '') continue; // empty rules are skipped, as usbredir does
    const n = rules.length + 1;
    const tokens = ruleText.split(sep);
    if (tokens.length !== 5) {
      let msg = `filter rule ${n} '${ruleText}': expected 5 fields class${sep}vendor${sep}product${sep}version${sep}allow, found ${tokens.length}`;
      if (ruleText.includes(other)) msg += `; it contains '${other}' — is this a '${other}'-separated filter?`;
      throw bad(msg);
    }
    const values = tokens.map((tok, i) => parseField(tok, n, FIELDS[i]!, opts.onWarning));
    rules.push({
      deviceClass: values[0]!,
      vendorId: values[1]!,
      productId: values[2]!,
      deviceVersionBcd: values[3]!,
      allow: values[4]! !== 0,
    });
  }
  return rules;
}

interface StrtolResult {
  value: number; // may be inexact (> 2^53) only when far out of every range
  base: 8 | 10 | 16;
  digits: string;
  rest: string; // what strtol leaves unconsumed
}

/** C strtol(s, &end, 0) for one token; null when no digits were converted. */
function strtol(s: string): StrtolResult | null {
  let i = 0;
  while (i < s.length && ' \t\n\v\f\r'.includes(s[i]!)) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  let base: 8 | 10 | 16 = 10;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) {
    base = 16;
    i += 2;
  } else if (s[i] === '0') {
    base = 8;
  }
  const digitRe = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  const start = i;
  while (i < s.length && digitRe.test(s[i]!)) i++;
  if (i === start) return null;
  const digits = s.slice(start, i);
  let value = 0;
  for (const d of digits) value = value * base + parseInt(d, 16);
  return { value: neg ? -value : value, base, digits, rest: s.slice(i) };
}

function parseField(tok: string, n: number, field: FieldName, onWarning?: (m: string) => void): number {
  const where = `filter rule ${n}, field ${field}`;
  if (tok === '') throw bad(`${where}: empty value (two separators in a row?)`);
  const r = strtol(tok);
  if (!r || r.rest !== '') {
    const t = tok.trim();
    if (r && r.rest.trim() === '' && t !== tok) {
      throw bad(`${where}: '${tok}' has trailing whitespace, which usbredir rejects`);
    }
    if (/^[+-]?0[0-9]+$/.test(t) && /[89]/.test(t)) {
      const dec = t.replace(/^([+-]?)0+(?=\d)/, '$1');
      throw bad(`${where}: '${tok}' is not a number: a leading 0 means octal, and 8 and 9 are not octal digits; write 0x${t.replace(/^[+-]/, '')} for hex or ${dec} for decimal`);
    }
    if (/^[0-9a-fA-F]+$/.test(t) && /[a-fA-F]/.test(t)) {
      throw bad(`${where}: '${tok}' is not a number; write 0x${t} for hex${t.startsWith('0') ? ' (a leading 0 means octal)' : ''}`);
    }
    if (/^[+-]?0[xX]$/.test(t)) throw bad(`${where}: '${tok}' has no hex digits after 0x`);
    throw bad(`${where}: '${tok}' is not a number (use decimal, 0x-prefixed hex, octal with a leading 0, or -1 for any)`);
  }
  const [min, max] = RANGES[field];
  if (r.value < min || r.value > max) {
    const shown = String(r.value) === tok ? `${tok}` : `'${tok}' (= ${r.value}${r.base === 8 ? ', octal because of the leading 0' : ''})`;
    throw bad(`${where}: ${shown} is out of range ${min}..${max}`);
  }
  if (r.base === 8 && r.value !== parseInt(r.digits, 10) && onWarning) {
    const hex = `0x${r.value.toString(16).padStart(field === 'class' ? 2 : 4, '0')}`;
    onWarning(`${where}: '${tok.trim()}' has a leading 0, so it is octal ${r.value} (${hex}), not decimal ${parseInt(r.digits, 10)}; write 0x${r.digits.replace(/^0+/, '')} for hex or ${parseInt(r.digits, 10)} for decimal`);
  }
  return r.value;
}

/** Throw SpiceError('input') when a rule has a value out of range (usbredirfilter_verify). */
export function verifyRules(rules: readonly FilterRule[]): void {
  rules.forEach((r, i) => {
    const check = (v: number, field: FieldName): void => {
      const [min, max] = RANGES[field];
      if (!Number.isInteger(v) || v < min || v > max) throw bad(`filter rule ${i + 1}, field ${field}: ${v} is out of range ${min}..${max}`);
    };
    check(r.deviceClass, 'class');
    check(r.vendorId, 'vendor');
    check(r.productId, 'product');
    check(r.deviceVersionBcd, 'version');
  });
}

/** Format rules as usbredir does: 0x%02x class, 0x%04x ids/version, -1 for any, allow 1/0. */
export function formatFilter(rules: readonly FilterRule[], sep: FilterSeparator = ','): string {
  verifyRules(rules);
  return rules.map((r) => formatRule(r, sep)).join('|');
}

function formatRule(r: FilterRule, sep: string): string {
  const h = (v: number, w: number): string => (v === -1 ? '-1' : `0x${v.toString(16).padStart(w, '0')}`);
  return [h(r.deviceClass, 2), h(r.vendorId, 4), h(r.productId, 4), h(r.deviceVersionBcd, 4), r.allow ? '1' : '0'].join(sep);
}

// ---- matching ------------------------------------------------------------------------------

export interface FilterDevice {
  deviceClass: number;
  deviceSubclass?: number;
  deviceProtocol?: number;
  vendorId: number;
  productId: number;
  /** bcdDevice */
  bcdDevice: number;
  /** Interfaces of the active configuration. */
  interfaces: readonly { class: number; subclass: number; protocol: number }[];
}

export interface FilterFlags {
  /** A pass that matches no rule allows instead of denying (usbredirfilter_fl_default_allow). */
  defaultAllow?: boolean;
  /** Check non-boot HID interfaces of multi-interface devices too (usbredirfilter_fl_dont_skip_non_boot_hid). */
  dontSkipNonBootHid?: boolean;
}

/** usbredirfilter flag bits, for callers holding the C-style number. */
export const FILTER_FL_DEFAULT_ALLOW = 0x01;
export const FILTER_FL_DONT_SKIP_NON_BOOT_HID = 0x02;

export type FilterPass =
  | { kind: 'device'; class: number }
  | { kind: 'interface'; index: number; class: number; subclass: number; protocol: number };

export interface FilterStep {
  pass: FilterPass;
  /**
   * allow / deny: rule `ruleIndex` matched; no-match: no rule matched (denies);
   * default-allow: no rule matched, allowed by flag; skipped: pass not checked (`note` says why).
   */
  outcome: 'allow' | 'deny' | 'no-match' | 'default-allow' | 'skipped';
  /** 0-based index into the rules, when a rule matched. */
  ruleIndex: number | null;
  /** True for passes of the re-check done when every interface was a skipped non-boot HID. */
  recheck: boolean;
  note?: string;
}

export interface FilterCheckResult {
  allowed: boolean;
  /** usbredirfilter_check's result: 0 → 'allow', -EPERM → 'deny', -ENOENT → 'no-match'. */
  verdict: 'allow' | 'deny' | 'no-match';
  /**
   * The pass and rule (0-based index) that decided: for a denial, the denying rule; for an
   * allowance, the matching rule of the last pass checked. null when no rule decided (a pass
   * with no match, default_allow, or nothing to check).
   */
  decidedBy: { pass: FilterPass; ruleIndex: number } | null;
  /** One line. */
  reason: string;
  /** Several lines: the device, each pass and its rule, the result. */
  explain: string;
  steps: FilterStep[];
}

const CLASS_NAMES: Record<number, string> = {
  0x00: 'per-interface',
  0x01: 'audio',
  0x02: 'communications',
  0x03: 'HID',
  0x05: 'physical',
  0x06: 'image',
  0x07: 'printer',
  0x08: 'mass storage',
  0x09: 'hub',
  0x0a: 'CDC data',
  0x0b: 'smart card',
  0x0d: 'content security',
  0x0e: 'video',
  0x0f: 'personal healthcare',
  0x10: 'audio/video',
  0x11: 'billboard',
  0x12: 'USB-C bridge',
  0xdc: 'diagnostic',
  0xe0: 'wireless controller',
  0xef: 'miscellaneous',
  0xfe: 'application specific',
  0xff: 'vendor specific',
};

const hx = (v: number, w: number): string => `0x${v.toString(16).padStart(w, '0')}`;
const className = (c: number): string => `class ${hx(c, 2)}${CLASS_NAMES[c] ? ` ${CLASS_NAMES[c]}` : ''}`;

export function describePass(p: FilterPass): string {
  return p.kind === 'device' ? `device ${className(p.class)}` : `interface ${p.index} (${className(p.class)}, subclass ${hx(p.subclass, 2)}, protocol ${hx(p.protocol, 2)})`;
}

/** "rule 2 (0x03,-1,-1,-1,0)" — 1-based, as in parse errors. */
export function describeRule(rules: readonly FilterRule[], index: number): string {
  return `rule ${index + 1} (${formatRule(rules[index]!, ',')})`;
}

function matchRule(rules: readonly FilterRule[], cls: number, dev: FilterDevice): number {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (
      (r.deviceClass === -1 || r.deviceClass === cls) &&
      (r.vendorId === -1 || r.vendorId === dev.vendorId) &&
      (r.productId === -1 || r.productId === dev.productId) &&
      (r.deviceVersionBcd === -1 || r.deviceVersionBcd === dev.bcdDevice)
    ) {
      return i;
    }
  }
  return -1;
}

/**
 * Decide whether rules allow redirecting device, exactly as usbredirfilter_check:
 * 1. device-class pass, skipped for class 0x00 and 0xef;
 * 2. one pass per interface, with the interface class; unless dontSkipNonBootHid, interfaces
 *    0x03/0x00/0x00 (non-boot HID) are skipped on devices with more than one interface, and if
 *    that skipped every interface the whole check is redone without skipping;
 * in each pass the first matching rule wins; a deny ends the check (denied); a pass with no
 * matching rule ends it too (denied) unless defaultAllow; otherwise allowed.
 * Throws SpiceError('input') for rules out of range (usbredirfilter_verify).
 */
export function checkDevice(rules: readonly FilterRule[], device: FilterDevice, flags: FilterFlags | number = {}): FilterCheckResult {
  verifyRules(rules);
  const f: Required<FilterFlags> =
    typeof flags === 'number'
      ? { defaultAllow: (flags & FILTER_FL_DEFAULT_ALLOW) !== 0, dontSkipNonBootHid: (flags & FILTER_FL_DONT_SKIP_NON_BOOT_HID) !== 0 }
      : { defaultAllow: flags.defaultAllow ?? false, dontSkipNonBootHid: flags.dontSkipNonBootHid ?? false };
  // The C API takes uint8_t / uint16_t values.
  const dev: FilterDevice = {
    ...device,
    deviceClass: device.deviceClass & 0xff,
    vendorId: device.vendorId & 0xffff,
    productId: device.productId & 0xffff,
    bcdDevice: device.bcdDevice & 0xffff,
    interfaces: device.interfaces.map((i) => ({ class: i.class & 0xff, subclass: i.subclass & 0xff, protocol: i.protocol & 0xff })),
  };
  const steps: FilterStep[] = [];
  const verdict = runPasses(rules, dev, f.defaultAllow, f.dontSkipNonBootHid, steps, false);

  const last = steps[steps.length - 1];
  let decidedBy: FilterCheckResult['decidedBy'] = null;
  let reason: string;
  if (verdict === 'deny') {
    decidedBy = { pass: last!.pass, ruleIndex: last!.ruleIndex! };
    reason = `denied by ${describeRule(rules, last!.ruleIndex!)} for the ${describePass(last!.pass)}`;
  } else if (verdict === 'no-match') {
    reason = `denied: no rule matches the ${describePass(last!.pass)}; end the filter with a catch-all rule such as -1,-1,-1,-1,1 or -1,-1,-1,-1,0`;
  } else {
    const matched = steps.filter((s) => s.outcome === 'allow' && (!steps.some((x) => x.recheck) || s.recheck));
    const checked = steps.filter((s) => s.outcome !== 'skipped' && (!steps.some((x) => x.recheck) || s.recheck));
    const lastMatch = matched[matched.length - 1];
    if (lastMatch) decidedBy = { pass: lastMatch.pass, ruleIndex: lastMatch.ruleIndex! };
    if (checked.length === 0) {
      reason = 'allowed: nothing to check (device class 0x00/0xef and no interfaces)';
    } else if (checked.length === 1) {
      const s = checked[0]!;
      reason =
        s.outcome === 'allow'
          ? `allowed by ${describeRule(rules, s.ruleIndex!)} for the ${describePass(s.pass)}`
          : `allowed: no rule matches the ${describePass(s.pass)}, and default_allow is set`;
    } else {
      const parts = checked.map((s) =>
        s.outcome === 'allow' ? `${passShort(s.pass)}: rule ${s.ruleIndex! + 1}` : `${passShort(s.pass)}: default_allow`,
      );
      reason = `allowed: all ${checked.length} passes allow (${parts.join('; ')})`;
    }
  }

  const lines: string[] = [];
  const ids = `${hx(dev.vendorId, 4).slice(2)}:${hx(dev.productId, 4).slice(2)}`;
  lines.push(`device ${ids} bcdDevice ${hx(dev.bcdDevice, 4)}, ${className(dev.deviceClass)}, ${dev.interfaces.length} interface(s); flags: ${f.defaultAllow ? 'default_allow' : 'no default_allow'}${f.dontSkipNonBootHid ? ', dont_skip_non_boot_hid' : ''}`);
  let announcedRecheck = false;
  for (const s of steps) {
    if (s.recheck && !announcedRecheck) {
      lines.push('every interface was a skipped non-boot HID interface: checking again without skipping');
      announcedRecheck = true;
    }
    let what: string;
    switch (s.outcome) {
      case 'allow':
        what = `${describeRule(rules, s.ruleIndex!)} allows`;
        break;
      case 'deny':
        what = `${describeRule(rules, s.ruleIndex!)} denies`;
        break;
      case 'no-match':
        what = 'no rule matches: denied';
        break;
      case 'default-allow':
        what = 'no rule matches: allowed by default_allow';
        break;
      case 'skipped':
        what = `skipped (${s.note})`;
        break;
    }
    lines.push(`  ${describePass(s.pass)}: ${what}`);
  }
  lines.push(`result: ${reason}`);

  return { allowed: verdict === 'allow', verdict, decidedBy, reason, explain: lines.join('\n'), steps };
}

function passShort(p: FilterPass): string {
  return p.kind === 'device' ? 'device class' : `interface ${p.index}`;
}

function runPasses(
  rules: readonly FilterRule[],
  dev: FilterDevice,
  defaultAllow: boolean,
  dontSkip: boolean,
  steps: FilterStep[],
  recheck: boolean,
): 'allow' | 'deny' | 'no-match' {
  const one = (pass: FilterPass): 'allow' | 'deny' | 'no-match' => {
    const i = matchRule(rules, pass.class, dev);
    if (i >= 0) {
      const allow = rules[i]!.allow;
      steps.push({ pass, outcome: allow ? 'allow' : 'deny', ruleIndex: i, recheck });
      return allow ? 'allow' : 'deny';
    }
    steps.push({ pass, outcome: defaultAllow ? 'default-allow' : 'no-match', ruleIndex: null, recheck });
    return defaultAllow ? 'allow' : 'no-match';
  };

  const devicePass: FilterPass = { kind: 'device', class: dev.deviceClass };
  if (dev.deviceClass !== 0x00 && dev.deviceClass !== 0xef) {
    const v = one(devicePass);
    if (v !== 'allow') return v;
  } else {
    steps.push({ pass: devicePass, outcome: 'skipped', ruleIndex: null, recheck, note: `device class ${hx(dev.deviceClass, 2)}: classes are given per interface` });
  }

  const n = dev.interfaces.length;
  let skipped = 0;
  for (let i = 0; i < n; i++) {
    const it = dev.interfaces[i]!;
    const pass: FilterPass = { kind: 'interface', index: i, class: it.class, subclass: it.subclass, protocol: it.protocol };
    if (!dontSkip && n > 1 && it.class === 0x03 && it.subclass === 0x00 && it.protocol === 0x00) {
      skipped++;
      steps.push({ pass, outcome: 'skipped', ruleIndex: null, recheck, note: 'non-boot HID interface of a multi-interface device' });
      continue;
    }
    const v = one(pass);
    if (v !== 'allow') return v;
  }
  if (n > 0 && skipped === n) return runPasses(rules, dev, defaultAllow, true, steps, true);
  return 'allow';
}

// ---- libvirt <redirfilter> -------------------------------------------------------------------
//
// <redirfilter><usbdev class='0x08' vendor='0x1234' product='0xbeef' version='2.00' allow='yes'/>
// <usbdev allow='no'/></redirfilter>. class/vendor/product are hex with an optional 0x
// (libvirt schema: (0x)?[0-9a-fA-F]{1,2} / {1,4}) or -1; version is bcdDevice written as
// decimal "major.minor" (each 0..99; "2.5" means 0x0205) or -1; allow is yes/no and required.
// Missing attributes mean -1.

/** libvirt XML for rules; -1 values are left out; versions must be valid BCD. */
export function toLibvirtXml(rules: readonly FilterRule[]): string {
  verifyRules(rules);
  const lines = ['<redirfilter>'];
  rules.forEach((r, i) => {
    let attrs = '';
    if (r.deviceClass !== -1) attrs += ` class='${hx(r.deviceClass, 2)}'`;
    if (r.vendorId !== -1) attrs += ` vendor='${hx(r.vendorId, 4)}'`;
    if (r.productId !== -1) attrs += ` product='${hx(r.productId, 4)}'`;
    if (r.deviceVersionBcd !== -1) attrs += ` version='${bcdToVersion(r.deviceVersionBcd, i + 1)}'`;
    lines.push(`  <usbdev${attrs} allow='${r.allow ? 'yes' : 'no'}'/>`);
  });
  lines.push('</redirfilter>');
  return lines.join('\n');
}

function bcdToVersion(bcd: number, n: number): string {
  const d = [(bcd >> 12) & 0xf, (bcd >> 8) & 0xf, (bcd >> 4) & 0xf, bcd & 0xf];
  if (d.some((x) => x > 9)) {
    throw bad(`filter rule ${n}, field version: ${hx(bcd, 4)} is not BCD, so libvirt's version='major.minor' cannot express it`);
  }
  return `${d[0]! * 10 + d[1]!}.${d[2]}${d[3]}`;
}

/** Rules from a <redirfilter> element (alone or inside a whole domain XML). */
export function fromLibvirtXml(xml: string): FilterRule[] {
  const src = xml.replace(/<!--[\s\S]*?-->/g, (m) => ' '.repeat(m.length));
  const opens = [...src.matchAll(/<redirfilter(?=[\s/>])([^>]*)>/g)];
  if (opens.length === 0) throw bad('libvirt XML: no <redirfilter> element found');
  if (opens.length > 1) throw bad(`libvirt XML: ${opens.length} <redirfilter> elements; libvirt allows only one`);
  const open = opens[0]!;
  if (open[1]!.trim().endsWith('/')) return []; // <redirfilter/>
  if (open[1]!.trim() !== '') throw bad(`libvirt XML: unexpected attributes on <redirfilter>: ${open[1]!.trim()}`);
  const bodyStart = open.index! + open[0].length;
  const close = src.indexOf('</redirfilter', bodyStart);
  if (close < 0) throw bad('libvirt XML: <redirfilter> is not closed');
  const body = src.slice(bodyStart, close);

  const rules: FilterRule[] = [];
  let pos = 0;
  for (;;) {
    while (pos < body.length && /\s/.test(body[pos]!)) pos++;
    if (pos >= body.length) break;
    const n = rules.length + 1;
    const m = /^<usbdev((?:\s+[A-Za-z_][\w.-]*\s*=\s*(?:'[^']*'|"[^"]*"))*)\s*(\/>|>\s*<\/usbdev\s*>)/.exec(body.slice(pos));
    if (!m) {
      const snippet = body.slice(pos, pos + 40).split('\n')[0];
      throw bad(`libvirt XML: expected <usbdev .../> as entry ${n} of <redirfilter>, found '${snippet}'`);
    }
    rules.push(usbdevToRule(m[1]!, n));
    pos += m[0].length;
  }
  return rules;
}

function usbdevToRule(attrText: string, n: number): FilterRule {
  const attrs = new Map<string, string>();
  for (const a of attrText.matchAll(/([A-Za-z_][\w.-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")/g)) {
    const name = a[1]!;
    if (attrs.has(name)) throw bad(`libvirt XML: usbdev ${n} has attribute ${name} twice`);
    attrs.set(name, decodeEntities(a[2] ?? a[3] ?? ''));
  }
  for (const name of attrs.keys()) {
    if (!['class', 'vendor', 'product', 'version', 'allow'].includes(name)) {
      throw bad(`libvirt XML: usbdev ${n} has unknown attribute ${name} (expected class, vendor, product, version, allow)`);
    }
  }
  const hexAttr = (name: string, digits: number, example: string): number => {
    const v = attrs.get(name);
    if (v === undefined || v.trim() === '-1') return -1;
    const t = v.trim();
    if (!new RegExp(`^(0[xX])?[0-9a-fA-F]{1,${digits}}$`).test(t)) {
      throw bad(`libvirt XML: usbdev ${n}: ${name}='${v}' is not -1 or up to ${digits} hex digits (e.g. ${example})`);
    }
    return parseInt(t.replace(/^0[xX]/, ''), 16);
  };
  const deviceClass = hexAttr('class', 2, '0x08');
  const vendorId = hexAttr('vendor', 4, '0x046d');
  const productId = hexAttr('product', 4, '0xc52b');
  let deviceVersionBcd = -1;
  const ver = attrs.get('version');
  if (ver !== undefined && ver.trim() !== '-1') {
    const m = /^(\d{1,2})\.(\d{1,2})$/.exec(ver.trim());
    if (!m) throw bad(`libvirt XML: usbdev ${n}: version='${ver}' is not -1 or decimal major.minor (e.g. 2.00)`);
    const major = Number(m[1]);
    const minor = Number(m[2]);
    deviceVersionBcd = (Math.floor(major / 10) << 12) | (major % 10 << 8) | (Math.floor(minor / 10) << 4) | minor % 10;
  }
  const allow = attrs.get('allow');
  if (allow === undefined) throw bad(`libvirt XML: usbdev ${n} has no allow attribute (allow='yes' or allow='no' is required)`);
  if (allow !== 'yes' && allow !== 'no') throw bad(`libvirt XML: usbdev ${n}: allow='${allow}' must be 'yes' or 'no'`);
  return { deviceClass, vendorId, productId, deviceVersionBcd, allow: allow === 'yes' };
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[e as 'lt']!;
  });
}
