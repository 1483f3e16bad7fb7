#!/bin/bash
# Build the kernel + initramfs used by run-in-vm.sh.
#
#   ./build.sh            # builds into $LVSD_VM_BUILD (default: test/vm/build)
#
# Needs root (apt-get) the first time, Debian 12 apt repos, ~800 MB disk while building
# (~240 MB kept in build/).
# Idempotent: re-running rebuilds the initramfs from the cached .debs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
B=${LVSD_VM_BUILD:-${IPVSVM_BUILD:-$HERE/build}}
NODE_BIN=${IPVSVM_NODE:-$(command -v node || true)}
# Extra host binaries to copy in (with their libs), space separated, optional.
EXTRA_BINS=${IPVSVM_EXTRA_BINS:-}

log() { echo "[build] $*" >&2; }
die() { echo "[build] ERROR: $*" >&2; exit 1; }

# ---- 1. host tools -------------------------------------------------------
# a fresh machine may have no package lists yet
ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update >&2
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need_pkgs+=(busybox-static)
command -v cpio   >/dev/null || need_pkgs+=(cpio)
command -v depmod >/dev/null || need_pkgs+=(kmod)
command -v zstd   >/dev/null || need_pkgs+=(zstd)
command -v file   >/dev/null || need_pkgs+=(file)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing host packages: ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_pkgs[@]}" >&2
fi
file -L /bin/busybox | grep -q 'statically linked' || die "/bin/busybox is not static (install busybox-static)"

# ---- 2. download + unpack debs --------------------------------------------
mkdir -p "$B/debs"
KPKG=${IPVSVM_KPKG:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')}
[ -n "$KPKG" ] || die "cannot determine kernel package (apt-cache depends linux-image-amd64)"
KVER=${KPKG#linux-image-}
PKGS=("$KPKG" ipvsadm strace keepalived)
( cd "$B/debs"
  for p in "${PKGS[@]}"; do
    ls "${p}"_*.deb >/dev/null 2>&1 || { log "apt-get download $p"; apt-get download "$p" >&2; }
  done )

# runtime libraries of the packaged tools come from the host: make sure they are installed
deps=()
for p in "${PKGS[@]:1}"; do
  deb=$(ls -t "$B/debs/${p}"_*.deb | head -1)
  for d in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g'); do
    case "$d" in lsb-base|iproute2|"") continue;; esac
    dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'install ok installed' || deps+=("$d")
  done
done
if [ ${#deps[@]} -gt 0 ]; then
  log "installing runtime libs on host: ${deps[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${deps[@]}" >&2
fi

PKGROOT="$B/pkgroot"
rm -rf "$PKGROOT"; mkdir -p "$PKGROOT"
for p in "${PKGS[@]}"; do dpkg -x "$(ls -t "$B/debs/${p}"_*.deb | head -1)" "$PKGROOT"; done
cp "$PKGROOT/boot/vmlinuz-$KVER" "$B/vmlinuz"
# Uncompressed ELF vmlinux: qemu boots it directly via PVH (CONFIG_PVH=y), skipping the
# in-guest xz decompressor, which costs ~2.5 s under TCG.
extract_vmlinux() { # magic-regex decompress-cmd...
  local magic=$1; shift
  local off
  for off in $(LC_ALL=C grep -obUaP "$magic" "$B/vmlinuz" | cut -d: -f1); do
    tail -c +$((off + 1)) "$B/vmlinuz" | "$@" > "$B/vmlinux.tmp" 2>/dev/null
    if [ "$(head -c 4 "$B/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
      mv "$B/vmlinux.tmp" "$B/vmlinux"; return 0
    fi
  done
  rm -f "$B/vmlinux.tmp"; return 1
}
extract_vmlinux '\xfd7zXZ\x00' xz -dcq || extract_vmlinux '\x28\xb5\x2f\xfd' zstd -dcq || \
  extract_vmlinux '\x1f\x8b\x08' gzip -dcq || log "WARNING: could not extract vmlinux; will boot vmlinuz"
depmod -b "$PKGROOT" "$KVER"

# ---- 3. rootfs --------------------------------------------------------------
R="$B/rootfs"
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp,run,root,mnt,var/lib,var/log}
ln -s ../run "$R/var/run"
ln -s ../tmp "$R/var/tmp"

# busybox + applet links (real binaries copied below win over the links)
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do
  [ "$a" = busybox ] && continue
  case "$a" in init|linuxrc) continue;; esac
  ln -sf busybox "$R/bin/$a"
done
ln -sf ../bin/busybox "$R/sbin/modprobe"   # kernel's modprobe_path, for on-demand scheduler loading

# copy a binary plus its shared libraries (resolved by ldd on the host)
copy_bin() { # src dest-in-rootfs
  local src=$1 dst=$2
  [ -x "$src" ] || die "missing binary $src"
  mkdir -p "$R$(dirname "$dst")"
  cp -L "$src" "$R$dst"
  local out; out=$(ldd "$src" 2>&1) || true
  if echo "$out" | grep -q 'not found'; then die "unresolved libs for $src:\n$out"; fi
  echo "$out" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' | while read -r lib; do
    [ -e "$R$lib" ] && continue
    mkdir -p "$R$(dirname "$lib")"
    cp -L "$lib" "$R$lib"
  done
}
copy_bin "$PKGROOT/sbin/ipvsadm"        /sbin/ipvsadm
cp "$PKGROOT/sbin/ipvsadm-save" "$PKGROOT/sbin/ipvsadm-restore" "$R/sbin/" 2>/dev/null || true
copy_bin "$PKGROOT/usr/bin/strace"      /usr/bin/strace
copy_bin "$PKGROOT/usr/sbin/keepalived" /usr/sbin/keepalived
copy_bin "$PKGROOT/usr/bin/genhash"     /usr/bin/genhash
rm -f "$R/bin/ip"; copy_bin /bin/ip     /bin/ip        # full iproute2 (veth, netns, ...)
[ -d /etc/iproute2 ] && cp -a /etc/iproute2 "$R/etc/"
# bash as /bin/sh: busybox ash here prefers its own applets (e.g. its tiny `ip`) over PATH
rm -f "$R/bin/sh" "$R/bin/bash"; copy_bin /bin/bash /bin/bash; ln -s bash "$R/bin/sh"
if [ -n "$NODE_BIN" ]; then
  copy_bin "$NODE_BIN" /usr/bin/node
  strip "$R/usr/bin/node" 2>/dev/null || true    # 99 MB -> 86 MB
else
  log "WARNING: node not found on host, guest will have no node"
fi
for b in $EXTRA_BINS; do copy_bin "$(command -v "$b")" "$(command -v "$b")"; done
# glibc's NSS for getpwnam etc. (files backend is inside libc on bookworm; keep for safety)
for l in /lib/x86_64-linux-gnu/libnss_files.so.2; do [ -e "$l" ] && cp -L "$l" "$R$l"; done

cat > "$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
keepalived_script:x:998:998::/nonexistent:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$R/etc/group" <<'EOF'
root:x:0:
keepalived_script:x:998:
nogroup:x:65534:
EOF
echo "127.0.0.1 localhost" > "$R/etc/hosts"
echo "hosts: files" > "$R/etc/nsswitch.conf"
echo "ipvsvm" > "$R/etc/hostname"
: > "$R/etc/fstab"

# ---- 4. kernel modules (closure from modules.dep) -----------------------------
MODS_WANT="crc32c_generic crc32c-intel ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_dh
  ip_vs_fo ip_vs_ovf ip_vs_lblc ip_vs_lblcr ip_vs_ftp ip_vs_pe_sip nf_conntrack nf_nat
  veth dummy macvlan ipvlan bridge tun
  virtio_pci virtio_net virtio_console 9p 9pnet_virtio
  nf_tables nft_chain_nat nft_ct nft_nat nft_masq nft_reject_inet nft_fib_inet nf_conntrack_netlink"
MD="$PKGROOT/lib/modules/$KVER"
declare -A have=()
for m in $MODS_WANT; do
  line=$(grep -E "(^|/)${m}\.ko(\.[a-z]+)?:" "$MD/modules.dep" || true)
  [ -n "$line" ] || { grep -qE "/${m}\.ko" "$MD/modules.builtin" && continue; die "module $m not found"; }
  for f in ${line/:/}; do have[$f]=1; done
done
for f in "${!have[@]}"; do
  mkdir -p "$R/lib/modules/$KVER/$(dirname "$f")"
  cp "$MD/$f" "$R/lib/modules/$KVER/$f"
done
cp "$MD"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/"
depmod -b "$R" "$KVER"
log "kernel $KVER, ${#have[@]} module files"

# ---- 5. init ------------------------------------------------------------------
cp "$HERE/guest-init.sh" "$R/init"
chmod 755 "$R/init"

# ---- 6. pack ------------------------------------------------------------------
# Uncompressed by default: under TCG, unpacking a zstd cpio with node inside costs ~1.4 s
# more than copying the plain one (measured); the file is ~130 MB.
case "${IPVSVM_COMPRESS:-none}" in
  none) COMP=(cat) ;;
  *)    COMP=(zstd -q -T0 -3 -c) ;;
esac
( cd "$R" && find . -print0 | sort -z | cpio --null -o -H newc -R 0:0 --quiet ) | "${COMP[@]}" > "$B/initramfs.img.tmp"
mv "$B/initramfs.img.tmp" "$B/initramfs.img"
echo "$KVER" > "$B/kernel-version"
rm -rf "$PKGROOT" "$R"   # ~500 MB unpacked; the .debs stay cached in $B/debs (list: cpio -t < initramfs.img)
log "done: $B/vmlinux $B/initramfs.img ($(du -h "$B/initramfs.img" | cut -f1))"
