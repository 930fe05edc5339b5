import type { Command } from 'commander';

/** `spicectl usb redirect`: lands with the usbredir host. */
export function registerUsbRedirect(_usb: Command): void {}
