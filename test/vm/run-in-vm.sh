#!/bin/bash
# Boot a throwaway Debian-kernel VM with IPVS and run one command in it (lvsd's copy of the
# shared ipvs-vm tool; the project builds and uses its own image, see README.md).
#
#   run-in-vm.sh HOSTDIR COMMAND [ARGS...]
#
# HOSTDIR is shared read-write over 9p and mounted at the same absolute path in
# the guest (at /host if HOSTDIR is "/"); the command runs there as root via
# `bash -c "COMMAND ARGS..."` (arguments are joined with spaces, like ssh).
# Guest stdout+stderr (merged) go to our stdout; our exit status is the command's.
# Exit 124 = VM timed out, 125 = VM/harness failure (guest console log -> stderr).
#
# Env: IPVSVM_TIMEOUT (s, default 300)  IPVSVM_MEM (MiB, 1024)  IPVSVM_CPUS (2)
#      IPVSVM_ACCEL (auto|kvm|tcg)  IPVSVM_NICS (isolated virtio NICs eth0.., 1)
#      IPVSVM_9P_CACHE (none|mmap|loose, none)  IPVSVM_DEBUG=1 (console log -> stderr)
#      IPVSVM_APPEND (extra kernel args)
#      LVSD_VM_BUILD (artifacts dir, default test/vm/build; point it at an existing build to reuse it)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
B=${LVSD_VM_BUILD:-${IPVSVM_BUILD:-$HERE/build}}

if [ $# -lt 2 ]; then
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
HOSTDIR=$(cd "$1" 2>/dev/null && pwd -P) || { echo "run-in-vm: no such directory: $1" >&2; exit 2; }
shift

if [ ! -f "$B/initramfs.img" ]; then
  mkdir -p "$B"
  (
    flock 9                                   # parallel first runs: build once
    if [ ! -f "$B/initramfs.img" ]; then
      echo "run-in-vm: building VM image (first run)..." >&2
      LVSD_VM_BUILD="$B" "$HERE/build.sh" >&2
    fi
  ) 9>"$B/.build.lock" || { echo "run-in-vm: build failed" >&2; exit 125; }
fi
KERNEL=${IPVSVM_KERNEL:-$B/vmlinux}        # uncompressed ELF -> PVH boot (fast under TCG)
[ -f "$KERNEL" ] || KERNEL=$B/vmlinuz

TIMEOUT=${IPVSVM_TIMEOUT:-300}
MEM=${IPVSVM_MEM:-1024}
CPUS=${IPVSVM_CPUS:-2}
NICS=${IPVSVM_NICS:-1}

# KVM only with real hardware virtualisation (kvm_intel/kvm_amd). Other /dev/kvm providers
# (e.g. kvm_pvm, which only runs specially built PVM guest kernels) hang on a stock kernel.
ACCEL=${IPVSVM_ACCEL:-auto}
if [ "$ACCEL" = auto ]; then
  ACCEL=tcg
  if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then ACCEL=kvm; fi
fi
case "$ACCEL" in
  kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
  *)   ACCEL_ARGS=(-accel "tcg,thread=multi${IPVSVM_TB_SIZE:+,tb-size=$IPVSVM_TB_SIZE}" -cpu max) ;;
esac

RUN=$(mktemp -d /tmp/ipvsvm.XXXXXX) || exit 125
trap 'rm -rf "$RUN"' EXIT
printf '%s\n' "$*" > "$RUN/cmd.sh"
MP=$HOSTDIR; [ "$MP" = / ] && MP=/host
printf '%s\n' "$MP" > "$RUN/hostdir"
printf '%s\n' "${IPVSVM_9P_CACHE:-none}" > "$RUN/cache"

NETARGS=()
for ((i = 0; i < NICS; i++)); do
  # each NIC sits alone on its own qemu hub: nothing it sends leaves the VM
  NETARGS+=(-netdev "hubport,id=n$i,hubid=$i" -device "virtio-net-pci,netdev=n$i,mac=52:54:00:12:34:$(printf %02x $((0x56 + i)))")
done

# qemu runs in a background subshell so that INT/TERM sent to us can stop it (bash defers
# traps while a foreground job runs). Its stdout is a private pipe to `cat`: qemu makes
# its stdout non-blocking, which must not leak onto the caller's stdout.
(
  timeout -k 5 "$TIMEOUT" qemu-system-x86_64 \
    -nodefaults -no-user-config -display none -vga none -nic none \
    -machine "${IPVSVM_MACHINE:-q35}" "${ACCEL_ARGS[@]}" -m "$MEM" -smp "$CPUS" \
    -kernel "$KERNEL" -initrd "${IPVSVM_INITRD:-$B/initramfs.img}" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off ${IPVSVM_APPEND:-}" \
    -no-reboot \
    -serial "file:$RUN/console.log" \
    -device virtio-serial-pci -chardev file,id=out,path=/dev/stdout \
    -device virtserialport,chardev=out,name=ipvsvm.out \
    -virtfs "local,path=$RUN,mount_tag=ipvsvm_ctl,security_model=none,id=ctl" \
    -virtfs "local,path=${HOSTDIR//,/,,},mount_tag=ipvsvm_host,security_model=none,id=host" \
    "${NETARGS[@]}" \
    </dev/null 2>"$RUN/qemu.err" &
  echo $! > "$RUN/timeout.pid"
  wait $!
  echo $? > "$RUN/qrc"
) | cat &
trap 'kill -TERM "$(cat "$RUN/timeout.pid" 2>/dev/null)" 2>/dev/null; wait; rm -rf "$RUN"; exit 143' INT TERM
wait $!
qrc=$(cat "$RUN/qrc" 2>/dev/null || echo 125)

dump() { # label file [lines]
  [ -s "$2" ] || return 0
  echo "---- $1 ----" >&2
  if [ -n "${3:-}" ]; then tail -n "$3" "$2" >&2; else cat "$2" >&2; fi
}
grep -v 'is not connected to host network' "$RUN/qemu.err" > "$RUN/qemu.err2" 2>/dev/null
if [ "${IPVSVM_DEBUG:-0}" = 1 ]; then
  dump "qemu stderr" "$RUN/qemu.err2"; dump "guest console" "$RUN/console.log"
fi
if [ -f "$RUN/rc" ]; then
  exit "$(cat "$RUN/rc")"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "run-in-vm: TIMEOUT after ${TIMEOUT}s" >&2; rc=124
else
  echo "run-in-vm: VM exited (qemu status $qrc) without a command status" >&2; rc=125
fi
if [ "${IPVSVM_DEBUG:-0}" != 1 ]; then
  dump "qemu stderr" "$RUN/qemu.err2"; dump "guest console (tail)" "$RUN/console.log" 40
fi
exit "$rc"
