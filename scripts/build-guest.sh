#!/bin/bash
# Build the e2e test guest: the installed Debian kernel + a busybox-static initramfs whose /init is
# test/e2e/harness/guest-init, with the USB/SCSI/CD/FAT/virtio/qxl modules (dependencies resolved
# with modprobe --show-depends, loaded in that order by /init).
# Usage: scripts/build-guest.sh [OUTDIR]     (default: .cache/guest in the repository)
#   env KVER=<version> picks the kernel (default: the newest with /boot/vmlinuz-<version>)
#   env FORCE=1 rebuilds even when the inputs did not change
# Output: OUTDIR/vmlinuz, OUTDIR/initrd.gz, OUTDIR/modules.txt, OUTDIR/kernel-version, OUTDIR/stamp
# Rebuilds only when an input changed (kernel, modules, busybox, guest-init, this script).
# Needs: linux-image-amd64 busybox-static kmod cpio gzip (scripts/install-deps.sh)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/.cache/guest}
init=$repo/test/e2e/harness/guest-init

# Top-level modules; their dependencies are added in load order.
MODS=(usb_common usbcore xhci_pci ehci_pci uhci_hcd usb_storage uas scsi_mod sd_mod sr_mod cdrom
      isofs fat vfat nls_cp437 nls_ascii nls_iso8859_1 nls_utf8 virtio_pci virtio_console qxl)

die() { echo "build-guest: $*" >&2; exit 1; }

if [ -n "${KVER:-}" ]; then
  kver=$KVER
else
  kver=""
  for d in $(printf '%s\n' /lib/modules/* | sort -V); do
    if [ -f "/boot/vmlinuz-${d##*/}" ]; then kver=${d##*/}; fi
  done
fi
if [ -z "$kver" ] || [ ! -f "/boot/vmlinuz-$kver" ] || [ ! -d "/lib/modules/$kver" ]; then
  die "no kernel with /boot/vmlinuz-* and /lib/modules/* (apt-get install linux-image-amd64)"
fi
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox missing (apt-get install busybox-static)"
case "$(ldd "$busybox" 2>&1 || true)" in
  *'not a dynamic executable'*|*'statically linked'*) ;;
  *) die "$busybox is not static (apt-get install busybox-static)" ;;
esac
command -v cpio >/dev/null || die "cpio missing"
command -v modprobe >/dev/null || die "modprobe missing (apt-get install kmod)"
[ -f "$init" ] || die "missing $init"

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9   # concurrent callers wait for one build

# Everything the result depends on, hashed. Kernel modules are covered by the kernel's
# modules.dep (it changes with every kernel package build) and the kernel image.
stamp=$( {
  echo "kver=$kver mods=${MODS[*]}"
  sha256sum "$0" "$init" "$busybox" "/boot/vmlinuz-$kver" "/lib/modules/$kver/modules.dep" | cut -d' ' -f1
} | sha256sum | cut -d' ' -f1)
if [ "${FORCE:-0}" != 1 ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] \
   && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.gz" ]; then
  echo "build-guest: up to date ($out, kernel $kver)"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/spicectl-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,mnt,tmp,run,etc,lib/modules}
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
install -m 0755 "$init" "$root/init"

: >"$work/order"
for m in "${MODS[@]}"; do
  modprobe -S "$kver" --show-depends --ignore-install "$m" >>"$work/order" 2>"$work/err" \
    || echo "build-guest: warning: module $m: $(cat "$work/err")" >&2
done
# "insmod /path/x.ko [args]" lines, deduplicated in first-seen order; "builtin x" needs nothing.
awk '$1=="insmod"{print $2}' "$work/order" | awk '!seen[$0]++' >"$work/kos"
: >"$root/lib/modules/load.list"
while read -r ko; do
  base=$(basename "$ko")
  case "$ko" in
    *.ko.xz) base=${base%.xz}; xz -dc "$ko" >"$root/lib/modules/$base" ;;
    *.ko.zst) base=${base%.zst}; zstd -qdc "$ko" >"$root/lib/modules/$base" ;;
    *.ko.gz) base=${base%.gz}; gzip -dc "$ko" >"$root/lib/modules/$base" ;;
    *) cp "$ko" "$root/lib/modules/$base" ;;
  esac
  echo "$base" >>"$root/lib/modules/load.list"
done <"$work/kos"
[ -s "$root/lib/modules/load.list" ] || die "no modules resolved for kernel $kver"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -6 -n) >"$work/initrd.gz"
cp "/boot/vmlinuz-$kver" "$work/vmlinuz"
# Publish atomically: stamp last, so an interrupted build is redone next time.
rm -f "$out/stamp"
mv "$work/initrd.gz" "$out/initrd.gz"
mv "$work/vmlinuz" "$out/vmlinuz"
cp "$root/lib/modules/load.list" "$out/modules.txt"
echo "$kver" >"$out/kernel-version"
# Never commit build output.
[ -f "$out/.gitignore" ] || echo '*' >"$out/.gitignore"
echo "$stamp" >"$out/stamp"
echo "build-guest: $out: kernel $kver, initrd $(du -h "$out/initrd.gz" | cut -f1), $(wc -l <"$out/modules.txt") modules"
