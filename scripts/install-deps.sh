#!/bin/bash
# Install the Debian 12 (bookworm) packages spicectl's tests and benchmarks need.
# Idempotent: when everything is installed already it does nothing (no apt-get update).
# Usage (root): scripts/install-deps.sh [--node] [--list]
#   --node   also make sure Node.js >= 20 is present (adds the NodeSource apt repository
#            when `node` is missing or older; Debian 12 itself ships Node 18)
#   --list   print the package list and exit
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PKGS=(
  # SPICE servers: QEMU (guest with USB redirection) and Xspice (an X server that is a SPICE server)
  qemu-system-x86 qemu-utils xserver-xspice
  # the guest: Debian kernel + busybox initramfs (scripts/build-guest.sh)
  linux-image-amd64 busybox-static kmod cpio gzip xz-utils zstd
  # X clients for display content, screenshots and typing tests
  xvfb xterm x11-apps x11-utils xdotool imagemagick
  # the guest agent against Xspice (clipboard, resolution, file copy), the X clipboard, audio checks
  spice-vdagent xclip sox
  # disk images for USB tests
  dosfstools mtools genisoimage xorriso
  # network / capture / misc tools
  tshark socat iproute2 procps util-linux openssl ca-certificates python3 tmux
  # reference client (benchmarks)
  spice-client-gtk virt-viewer
)

with_node=0
for a in "$@"; do
  case "$a" in
    --node) with_node=1 ;;
    --list) printf '%s\n' "${PKGS[@]}"; exit 0 ;;
    -h|--help) sed -n 2,7p "$0"; exit 0 ;;
    *) echo "install-deps: unknown option $a" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "install-deps: run as root" >&2; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
node_ok() {
  command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]
}

updated=0
apt_update() { [ "$updated" = 1 ] || { apt-get update -qq; updated=1; }; }
apt_install() {
  apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >/dev/null
}

missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
  # tshark (wireshark-common) asks whether non-root users may capture: answer no, never prompt.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt_update
  apt_install "${missing[@]}"
else
  echo "install-deps: all ${#PKGS[@]} packages already installed"
fi

if [ "$with_node" = 1 ] && ! node_ok; then
  echo "install-deps: installing Node.js 20 from the NodeSource apt repository"
  for p in curl gnupg; do installed "$p" || { apt_update; apt_install "$p"; }; done
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key \
    | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  echo 'deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main' \
    >/etc/apt/sources.list.d/nodesource.list
  apt-get update -qq
  apt_install nodejs
  node_ok || { echo "install-deps: node >= 20 still missing" >&2; exit 1; }
fi

# Sanity checks for things the harness relies on.
[ -n "$(ls /boot/vmlinuz-* 2>/dev/null)" ] || { echo "install-deps: no /boot/vmlinuz-*" >&2; exit 1; }
command -v Xspice >/dev/null || { echo "install-deps: Xspice missing" >&2; exit 1; }
if [ "$with_node" = 1 ]; then echo "install-deps: node $(node --version), npm $(npm --version)"; fi
