import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SpiceError } from '../util/errors.js';
import { printJson, printLine } from '../util/output.js';
import { checkDevice, formatFilter, fromLibvirtXml, parseFilter, toLibvirtXml, type FilterDevice, type FilterRule } from '../usb/filter.js';
import { vidPid, type LocalDevice } from '../usb/local-device.js';
import { parseDeviceSpec } from '../usb/device-spec.js';
import { registerUsbRedirect } from './usb-redirect.js';

/** libusb is loaded only by the subcommands that list devices (not by `usb redirect`). */
async function localDevices(): Promise<LocalDevice[]> {
  return (await import('../usb/libusb-backend.js')).listLocalDevices();
}

function loadRules(text: string | undefined, xmlFile: string | undefined, warnings: string[]): FilterRule[] | undefined {
  if (xmlFile) {
    let xml: string;
    try {
      xml = readFileSync(xmlFile, 'utf8');
    } catch (e) {
      throw new SpiceError('input', `cannot read ${xmlFile}: ${(e as Error).message}`);
    }
    return fromLibvirtXml(xml);
  }
  if (text === undefined) return undefined;
  return parseFilter(text, { onWarning: (w) => warnings.push(w) });
}

function describeDevice(d: FilterDevice & Partial<LocalDevice>): string {
  const name = [d.manufacturer, d.product].filter(Boolean).join(' ');
  return `${d.busPort ?? 'spec'} ${vidPid(d)}${name ? ` ${name}` : ''}`;
}

async function listAction(flags: { filter?: string; json?: boolean }): Promise<void> {
  const warnings: string[] = [];
  const rules = loadRules(flags.filter, undefined, warnings);
  const devices = await localDevices();
  const rows = devices.map((d) => ({ ...d, filter: rules ? checkDevice(rules, d) : undefined }));
  if (flags.json) {
    printJson(rows.map((r) => ({ ...r, filter: r.filter && { allowed: r.filter.allowed, reason: r.filter.reason } })));
    return;
  }
  if (!rows.length) {
    printLine('no USB devices found (libusb sees none; is /dev/bus/usb available?)');
    return;
  }
  for (const r of rows) {
    const hx = (v: number) => v.toString(16).padStart(2, '0');
    const name = [r.manufacturer, r.product].filter(Boolean).join(' ') || '-';
    const verdict = r.filter ? `  ${r.filter.allowed ? 'allowed' : 'denied'}: ${r.filter.reason}` : '';
    printLine(`${r.busPort.padEnd(8)} ${vidPid(r)}  class ${hx(r.deviceClass)}  ${r.speed.padEnd(6)} ${name}${r.serial ? ` serial ${r.serial}` : ''}  driver ${r.drivers.join(',') || '-'}${verdict}`);
  }
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
}

interface FilterFlags {
  deviceSpec?: string[];
  local?: boolean;
  xml?: string;
  toXml?: boolean;
  json?: boolean;
  defaultAllow?: boolean;
}

async function filterAction(mode: 'check' | 'explain', rulesText: string | undefined, flags: FilterFlags): Promise<number> {
  const warnings: string[] = [];
  let rules: FilterRule[] | undefined;
  try {
    rules = loadRules(rulesText, flags.xml, warnings);
  } catch (e) {
    // A linter's answer, not a failure of spicectl: invalid rules exit 1 with the reason.
    if (!(e instanceof SpiceError) || e.code !== 'input') throw e;
    if (flags.json) printJson({ valid: false, error: e.message });
    else process.stderr.write(`spicectl: ${e.message}\n`);
    return 1;
  }
  if (!rules) throw new SpiceError('usage', 'give filter rules ("class,vendor,product,version,allow|...") or --xml FILE');
  const devices: (FilterDevice & Partial<LocalDevice>)[] = (flags.deviceSpec ?? []).map(parseDeviceSpec);
  if (flags.local) devices.push(...(await localDevices()));
  const results = devices.map((d) => ({ device: d, result: checkDevice(rules, d, { defaultAllow: flags.defaultAllow }) }));
  if (flags.json) {
    printJson({
      valid: true,
      rules: formatFilter(rules, ','),
      qemu: formatFilter(rules, ':'),
      warnings,
      devices: results.map(({ device, result }) => ({
        device: describeDevice(device), allowed: result.allowed, verdict: result.verdict, reason: result.reason,
        decidedBy: result.decidedBy && { rule: result.decidedBy.ruleIndex + 1, pass: result.decidedBy.pass },
        ...(mode === 'explain' ? { explain: result.explain.split('\n') } : {}),
      })),
      ...(flags.toXml ? { libvirt: toLibvirtXml(rules) } : {}),
    });
    return 0;
  }
  printLine(`ok: ${rules.length} rule(s): ${formatFilter(rules, ',')}`);
  printLine(`    QEMU usb-redir filter=: ${formatFilter(rules, ':')}`);
  for (const w of warnings) printLine(`warning: ${w}`);
  for (const { device, result } of results) {
    printLine(`${describeDevice(device)}: ${result.allowed ? 'allowed' : 'denied'} (${result.reason})`);
    if (mode === 'explain') for (const l of result.explain.split('\n')) printLine(`    ${l}`);
  }
  if (flags.toXml) printLine(toLibvirtXml(rules));
  return 0;
}

export function registerUsb(program: Command): void {
  const usb = program.command('usb').description('USB devices and their redirection into a SPICE guest');
  usb
    .command('list')
    .description('list the USB devices of this machine')
    .option('--filter <rules>', 'also show whether these usbredir filter rules allow each device')
    .option('--json', 'print JSON')
    .action(async (flags) => listAction(flags));
  const filter = usb.command('filter').description('check and explain usbredir filter rules ("class,vendor,product,version,allow|...")');
  for (const mode of ['check', 'explain'] as const) {
    filter
      .command(mode)
      .description(mode === 'check' ? 'parse rules, report errors precisely, and check devices' : 'show for each device which rule decides and why')
      .argument('[rules]', 'filter rules, e.g. "0x03,-1,-1,-1,0|-1,-1,-1,-1,1"')
      .option('--device-spec <spec...>', 'a device to check: "vid=0781,pid=5567[,class=00][,bcd=0100][,if=08/06/50+...]"')
      .option('--local', 'check every local USB device')
      .option('--xml <file>', 'read the rules from libvirt <redirfilter> XML')
      .option('--to-xml', 'print the rules as libvirt <redirfilter> XML')
      .option('--default-allow', 'a pass that matches no rule allows (usbredir flag default_allow)')
      .option('--json', 'print JSON')
      .action(async (rules: string | undefined, flags: FilterFlags) => {
        process.exitCode = await filterAction(mode, rules, flags);
      });
  }
  registerUsbRedirect(usb);
}
