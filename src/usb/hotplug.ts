// Watch USB devices come and go, as LocalDevice entries: for `usb redirect --auto` (redirect
// newly plugged devices a filter allows) and for noticing that a redirected device was
// unplugged.
//
//   const w = await watchUsbDevices({ filter: rules });
//   w.on('attach', (dev, verdict) => { if (verdict.allowed) redirect(dev); });
//   w.on('detach', (dev) => ...);
//   const unlink = linkUnplug(w, libusbDevice);   // libusbDevice.markGone() when it is unplugged
//   w.close();
//
// Two sources: libusb hotplug events (usb.on('attach'/'detach')) or, when those are not
// available, polling getDeviceList() every second. Hotplug is treated as unavailable where
// /sys/bus/usb is missing (containers, CI: the WebUSB rewrite of the package crashes there, and
// libusb could not see a device anyway), where the package says it has no hotplug support, or
// when subscribing throws.

import { existsSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { checkDevice, type FilterFlags, type FilterRule } from './filter.js';
import type { HostLog } from './host.js';
import { busPortOf, describeDevice, loadUsb, SYS_USB_DEVICES, type LibusbDeviceLike, type UsbDeviceLike } from './libusb-backend.js';
import type { LocalDevice } from './local-device.js';

/** What hotplug needs of the 'usb' module (the real one, or a fake). */
export interface HotplugModule {
  getDeviceList(): UsbDeviceLike[];
  on?(event: 'attach' | 'detach', listener: (device: LibusbDeviceLike) => void): void;
  removeListener?(event: 'attach' | 'detach', listener: (device: LibusbDeviceLike) => void): void;
  _supportedHotplugEvents?(): boolean;
}

export interface AttachVerdict {
  /** The filter allows it (always true without a filter). */
  allowed: boolean;
  /** One line: why (the filter's reason), or "no filter". */
  reason: string;
}

export interface HotplugEvents {
  attach: [device: LocalDevice, verdict: AttachVerdict];
  detach: [device: LocalDevice];
  /** Listing failed while polling, or describing a new device failed (the watch goes on). */
  error: [Error];
}

export interface HotplugOptions {
  /** The 'usb' module (default: the real one); tests pass a fake. */
  usb?: HotplugModule;
  /** Decide `allowed` of attach events with these usbredir filter rules. */
  filter?: readonly FilterRule[];
  filterFlags?: FilterFlags;
  /** Polling period when hotplug events are unavailable (default 1000 ms). */
  pollMs?: number;
  /** Force polling. */
  polling?: boolean;
  /** Emit 'attach' for the devices present at the start too (default false: only new ones). */
  emitExisting?: boolean;
  /** Read string descriptors of new devices (opens them; default true). */
  strings?: boolean;
  /** Where the USB bus appears in sysfs (default /sys/bus/usb); hotplug needs it. */
  sysBusUsb?: string;
  /** sysfs device directory for speed / drivers (default /sys/bus/usb/devices). */
  sysRoot?: string;
  log?: HostLog;
}

export type HotplugMode = 'events' | 'polling';

/** Key of one plugged-in device: a re-plug into the same port gets a new address, so a new key. */
function keyOf(d: Pick<UsbDeviceLike, 'busNumber' | 'deviceAddress' | 'portNumbers'>): string {
  return `${busPortOf(d)}@${d.busNumber}.${d.deviceAddress}`;
}

export class UsbHotplugWatcher extends EventEmitter<HotplugEvents> {
  private readonly mod: HotplugModule;
  private readonly opts: HotplugOptions;
  private readonly known = new Map<string, LocalDevice>();
  /** Per-device chain, so a detach never overtakes the describing of its attach. */
  private readonly chains = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private closed = false;
  private modeValue: HotplugMode = 'polling';
  private readonly onAttach = (d: LibusbDeviceLike): void => void this.attached(d);
  private readonly onDetach = (d: LibusbDeviceLike): void => void this.detached(keyOf(d));

  constructor(mod: HotplugModule, opts: HotplugOptions = {}) {
    super();
    this.mod = mod;
    this.opts = opts;
  }

  /** 'events' (libusb hotplug) or 'polling' (getDeviceList every pollMs). */
  get mode(): HotplugMode {
    return this.modeValue;
  }

  /** The devices currently known to be plugged in. */
  devices(): LocalDevice[] {
    return [...this.known.values()];
  }

  /** Seed the known devices, then subscribe (or start polling). */
  async start(): Promise<this> {
    let initial: UsbDeviceLike[] = [];
    try {
      initial = this.mod.getDeviceList();
    } catch (e) {
      this.emitError(e);
    }
    for (const d of initial) {
      const k = keyOf(d);
      if (this.known.has(k)) continue;
      const local = await this.describe(d);
      if (!local) continue;
      this.known.set(k, local);
      if (this.opts.emitExisting) this.emit('attach', local, this.verdict(local));
    }
    if (this.closed) return this;
    const why = this.hotplugUnavailable();
    if (why === null) {
      try {
        this.mod.on!('attach', this.onAttach);
        this.mod.on!('detach', this.onDetach);
        this.modeValue = 'events';
        this.opts.log?.debug('usb: watching hotplug events');
        return this;
      } catch (e) {
        this.unsubscribe();
        this.opts.log?.warn(`usb: hotplug events failed (${(e as Error).message}); polling every ${this.pollMs} ms`);
      }
    } else {
      this.opts.log?.debug(`usb: hotplug unavailable (${why}); polling every ${this.pollMs} ms`);
    }
    this.modeValue = 'polling';
    this.schedulePoll();
    return this;
  }

  private get pollMs(): number {
    return this.opts.pollMs ?? 1000;
  }

  /** null when libusb hotplug events can be used, else why not. */
  private hotplugUnavailable(): string | null {
    if (this.opts.polling) return 'polling requested';
    if (typeof this.mod.on !== 'function' || typeof this.mod.removeListener !== 'function') return 'the usb module has no hotplug events';
    const sys = this.opts.sysBusUsb ?? '/sys/bus/usb';
    if (process.platform === 'linux' && !existsSync(sys)) return `${sys} is missing`;
    try {
      if (this.mod._supportedHotplugEvents && !this.mod._supportedHotplugEvents()) return 'libusb has no hotplug support here';
    } catch (e) {
      return `hotplug support check failed: ${(e as Error).message}`;
    }
    return null;
  }

  private verdict(d: LocalDevice): AttachVerdict {
    if (!this.opts.filter) return { allowed: true, reason: 'no filter' };
    try {
      const r = checkDevice(this.opts.filter, d, this.opts.filterFlags);
      return { allowed: r.allowed, reason: r.reason };
    } catch (e) {
      return { allowed: false, reason: `filter check failed: ${(e as Error).message}` };
    }
  }

  private async describe(d: UsbDeviceLike): Promise<LocalDevice | null> {
    try {
      return await describeDevice(d, this.opts.sysRoot ?? SYS_USB_DEVICES, { strings: this.opts.strings ?? true });
    } catch (e) {
      this.emitError(e);
      return null;
    }
  }

  private emitError(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.opts.log?.warn(`usb: hotplug: ${err.message}`);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private chain(key: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn).finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    this.chains.set(key, next);
    return next;
  }

  private attached(d: UsbDeviceLike): Promise<void> {
    const k = keyOf(d);
    return this.chain(k, async () => {
      if (this.closed || this.known.has(k)) return;
      const local = await this.describe(d);
      if (!local || this.closed) return;
      this.known.set(k, local);
      this.emit('attach', local, this.verdict(local));
    });
  }

  private detached(k: string): Promise<void> {
    return this.chain(k, async () => {
      const local = this.known.get(k);
      if (!local || this.closed) return;
      this.known.delete(k);
      this.emit('detach', local);
    });
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.pollOnce().finally(() => this.schedulePoll());
    }, this.pollMs);
  }

  /** One polling round (also callable by tests). */
  async pollOnce(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      let list: UsbDeviceLike[];
      try {
        list = this.mod.getDeviceList();
      } catch (e) {
        this.emitError(e);
        return;
      }
      const now = new Map(list.map((d) => [keyOf(d), d] as const));
      const work: Promise<void>[] = [];
      for (const k of [...this.known.keys()]) if (!now.has(k)) work.push(this.detached(k));
      for (const [k, d] of now) if (!this.known.has(k)) work.push(this.attached(d));
      await Promise.all(work);
    } finally {
      this.polling = false;
    }
  }

  private unsubscribe(): void {
    try {
      this.mod.removeListener?.('attach', this.onAttach);
      this.mod.removeListener?.('detach', this.onDetach);
    } catch {
      /* nothing to undo */
    }
  }

  /** Stop watching (unsubscribes, so the package stops its hotplug thread / poller). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.modeValue === 'events') this.unsubscribe();
  }
}

/** Start watching. */
export async function watchUsbDevices(opts: HotplugOptions = {}): Promise<UsbHotplugWatcher> {
  const mod = opts.usb ?? (await loadUsb());
  return new UsbHotplugWatcher(mod, opts).start();
}

/** Something that can be told its device was unplugged (a LibusbDevice). */
export interface Unpluggable {
  readonly local: Pick<LocalDevice, 'busPort' | 'busNumber' | 'deviceAddress'>;
  markGone(reason?: string): void;
}

/** Call device.markGone() when the watcher sees it unplugged. Returns the unsubscribe function. */
export function linkUnplug(watcher: UsbHotplugWatcher, device: Unpluggable): () => void {
  const l = (d: LocalDevice): void => {
    const me = device.local;
    if (d.busPort === me.busPort && d.busNumber === me.busNumber && d.deviceAddress === me.deviceAddress) {
      device.markGone(`the device at ${d.busPort} was unplugged`);
    }
  };
  watcher.on('detach', l);
  return () => {
    watcher.off('detach', l);
  };
}
