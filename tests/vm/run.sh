#!/usr/bin/env bash
# tests/vm/run.sh - the real-VM test: a QEMU guest talks to ringpeer over
# an ivshmem-plain device. Run it with `make vmtest`; --help says more.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tests/vm/run.sh [BUILD_DIR]

The real-VM test. QEMU (TCG unless VGPU_VM_ACCEL says otherwise) boots a
Debian cloud kernel with a busybox initramfs and an ivshmem-plain device
backed by a 16 MiB region file in /dev/shm, which BUILD_DIR/tests/ringpeer
serves on the host. In the guest, tests/vm/init grants group vgpu the
device's BAR with the RUN command of packaging/udev/70-vgpu.rules, then
runs BUILD_DIR/tests/ringclient-static as user vgpu-test (uid 1000, not
root, in group vgpu) with an empty environment: it finds the device by PCI
id 1af4:1110, maps resource2_wc and exchanges checksummed messages.

Passes when the guest ran as uid 1000 with no environment, was refused
before the rule's permissions were applied, printed "ringclient: OK" and
exited 0, and ringpeer exited 0 (every checked message arrived intact).

BUILD_DIR defaults to build/ (make vmtest passes $(BUILD)); build
ringpeer and ringclient-static first (make vmtest does). The serial log
goes to BUILD_DIR/vm-test.log, ringpeer's output to BUILD_DIR/vm-ringpeer.log.

The kernel (the package linux-image-cloud-amd64 depends on) and busybox
(busybox-static) are fetched once with apt-get download into the cache.
Needs qemu-system-x86, cpio and gzip; apt and dpkg while the cache is cold.

Environment:
  VGPU_VM_CACHE       cache directory (default build/vm-cache)
  VGPU_VM_KERNEL_PKG  kernel package to use instead of the newest
                      linux-image-*-cloud-amd64
  VGPU_VM_TIMEOUT     seconds before the VM is killed (default 120)
  VGPU_VM_MESSAGES    checked messages the guest sends (default 20000)
  VGPU_VM_ACCEL       QEMU accelerator (default tcg)
EOF
}

case "${1:-}" in
-h | --help) usage; exit 0 ;;
-*) usage >&2; exit 2 ;;
esac

# Paths: BUILD_DIR is relative to the caller's directory, everything else
# to the repository root.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ $# -ge 1 ]; then
	BUILD=$(realpath -m -- "$1")
else
	BUILD=$ROOT/build
fi
CACHE=$(realpath -m -- "${VGPU_VM_CACHE:-$ROOT/build/vm-cache}")
TIMEOUT=${VGPU_VM_TIMEOUT:-120}
MESSAGES=${VGPU_VM_MESSAGES:-20000}
ACCEL=${VGPU_VM_ACCEL:-tcg}
REGION_SIZE=$((16 << 20)) # an ivshmem BAR is a power of two
LOG=$BUILD/vm-test.log
PEERLOG=$BUILD/vm-ringpeer.log
PEER=$BUILD/tests/ringpeer
CLIENT=$BUILD/tests/ringclient-static
RULE=$ROOT/packaging/udev/70-vgpu.rules

say() { echo "vmtest: $*"; }
die() {
	echo "vmtest: $*" >&2
	echo "vmtest: 0 passed, 1 failed" >&2
	exit 1
}

# A host tool, or a clear message naming the Debian package that has it.
need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 ||
		die "$1 not found: install the Debian package $2 (make deps)"
}
need qemu-system-x86_64 qemu-system-x86
need cpio cpio
need gzip gzip
need timeout coreutils
for f in "$PEER" "$CLIENT"; do
	[ -x "$f" ] || die "$f is missing: run make vmtest (it builds it)"
done

# Everything this run starts, and removes, on every exit path.
STAGE='' REGION='' PEER_PID='' QEMU_PID=''
cleanup() {
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill -TERM "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	if [ -n "$PEER_PID" ] && kill -0 "$PEER_PID" 2>/dev/null; then
		kill -TERM "$PEER_PID" 2>/dev/null || true
		wait "$PEER_PID" 2>/dev/null || true
	fi
	[ -z "$REGION" ] || rm -f -- "$REGION"
	[ -z "$STAGE" ] || rm -rf -- "$STAGE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- fetch

# apt-get download as root warns that its sandbox user _apt cannot write
# the cache; the download is the same either way.
APT_OPTS=()
[ "$(id -u)" -ne 0 ] || APT_OPTS=(-o APT::Sandbox::User=root)

# apt-get download PACKAGE into $CACHE/debs; prints the .deb's path.
fetch_deb() {
	need apt-get apt
	need dpkg-deb dpkg
	mkdir -p "$CACHE/debs"
	local deb
	deb=$(ls "$CACHE/debs/$1"_*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		say "downloading $1 into $CACHE/debs" >&2
		(cd "$CACHE/debs" && apt-get "${APT_OPTS[@]}" -q download "$1" >&2) ||
			die "apt-get download $1 failed (apt-get update first?)"
		deb=$(ls "$CACHE/debs/$1"_*.deb | head -n 1)
	fi
	echo "$deb"
}

# The kernel: the image package the cloud-amd64 metapackage's candidate
# depends on (linux-image-6.1.0-N-cloud-amd64 on bookworm), else the
# newest such package apt knows. Resolved each run from the local apt
# lists (no network); a new one is downloaded only when it changed.
kernel_pkg() {
	if [ -n "${VGPU_VM_KERNEL_PKG:-}" ]; then
		echo "$VGPU_VM_KERNEL_PKG"
		return
	fi
	local p
	p=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' |
		head -n 1 || true)
	[ -n "$p" ] || p=$(apt-cache pkgnames linux-image- 2>/dev/null |
		grep -E '^linux-image-[0-9][^ ]*-cloud-amd64$' |
		sort -V | tail -n 1 || true)
	echo "$p"
}

KPKG=
command -v apt-cache >/dev/null 2>&1 && KPKG=$(kernel_pkg)
if [ -n "$KPKG" ]; then
	KERNEL=$CACHE/kernel/$KPKG/vmlinuz
else
	# No apt here, or its lists know no cloud kernel: use a cached one.
	KERNEL=$(ls -d "$CACHE"/kernel/*/vmlinuz 2>/dev/null | sort -V |
		tail -n 1 || true)
	[ -n "$KERNEL" ] ||
		die "no linux-image-*-cloud-amd64 known to apt-cache (apt-get update?)"
fi
if [ ! -s "$KERNEL" ]; then
	deb=$(fetch_deb "$KPKG")
	mkdir -p "$(dirname "$KERNEL")"
	# Only the image is needed: take ./boot/vmlinuz-* from the package's
	# data (what dpkg -x would unpack), skipping its ~100 MB of modules.
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO --wildcards './boot/vmlinuz-*' >"$KERNEL.tmp"
	[ -s "$KERNEL.tmp" ] || die "no /boot/vmlinuz-* in $deb"
	mv "$KERNEL.tmp" "$KERNEL"
	rm -f "$deb"
fi

BUSYBOX=$CACHE/busybox
if [ ! -x "$BUSYBOX" ]; then
	deb=$(fetch_deb busybox-static)
	x=$(mktemp -d "$CACHE/busybox.XXXXXX")
	dpkg -x "$deb" "$x"
	# bookworm ships it as /bin/busybox; later releases as /usr/bin/busybox
	for b in "$x/bin/busybox" "$x/usr/bin/busybox"; do
		[ ! -x "$b" ] || cp "$b" "$BUSYBOX.tmp"
	done
	rm -rf "$x"
	[ -x "$BUSYBOX.tmp" ] || die "no busybox binary in $deb"
	mv "$BUSYBOX.tmp" "$BUSYBOX"
	rm -f "$deb"
fi
say "kernel ${KPKG:-$(basename "$(dirname "$KERNEL")")}, busybox from $CACHE"

# ------------------------------------------------------------ initramfs

mkdir -p "$BUILD"
STAGE=$(mktemp -d "$BUILD/vm-stage.XXXXXX")
root=$STAGE/root
mkdir -p "$root"/{bin,etc/udev/rules.d,proc,sys,dev,run}
cp "$BUSYBOX" "$root/bin/busybox"
cp "$CLIENT" "$root/bin/ringclient"
cp "$ROOT/tests/vm/init" "$root/init"
cp "$RULE" "$root/etc/udev/rules.d/"
echo "COUNT=$MESSAGES" >"$root/etc/vmtest.conf"
chmod 0755 "$root/init" "$root/bin/busybox" "$root/bin/ringclient"
# newc is the format the kernel unpacks; files are owned by root whoever
# builds them. /dev/console comes from the kernel's built-in initramfs.
(cd "$root" && find . -print0 |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$STAGE/initrd.gz"

# ---------------------------------------------------------------- host

REGION=$(mktemp /dev/shm/vgpu-vmtest.XXXXXX)
"$PEER" --region "$REGION" --size "$REGION_SIZE" >"$PEERLOG" 2>&1 &
PEER_PID=$!

# The guest checks the header as soon as it maps the BAR: wait until the
# peer has laid the region out ("VGPUREG1" at 0, state READY = 1 at 128).
magic() { head -c 8 "$REGION" | tr -d '\0'; }
for _ in $(seq 100); do
	kill -0 "$PEER_PID" 2>/dev/null || break
	if [ "$(magic)" = VGPUREG1 ] &&
		[ "$(od -An -tu4 -j128 -N4 "$REGION" | tr -d ' ')" = 1 ]; then
		break
	fi
	sleep 0.05
done
if ! kill -0 "$PEER_PID" 2>/dev/null || [ "$(magic)" != VGPUREG1 ]; then
	cat "$PEERLOG" >&2
	die "ringpeer did not start serving $REGION"
fi

say "booting the guest (timeout ${TIMEOUT}s, log $LOG)"
start=$(date +%s%N)
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 \
	-M q35 -accel "$ACCEL" -m 256 -smp 1 -nographic -no-reboot -nic none \
	-kernel "$KERNEL" -initrd "$STAGE/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1" \
	-object memory-backend-file,size=$REGION_SIZE,share=on,mem-path="$REGION",id=hm \
	-device ivshmem-plain,memdev=hm \
	</dev/null >"$LOG" 2>&1 &
QEMU_PID=$!
qemu_rc=0
wait "$QEMU_PID" || qemu_rc=$?
QEMU_PID=
ms=$((($(date +%s%N) - start) / 1000000))
secs=$((ms / 1000)).$(printf %03d $((ms % 1000)))

peer_rc=0
kill -TERM "$PEER_PID" 2>/dev/null || true
wait "$PEER_PID" || peer_rc=$?
PEER_PID=

# --------------------------------------------------------------- verdict

# The serial console ends lines with CR LF, and the firmware's and the
# kernel's terminal resets (ESC c, ESC [...) share a line with the guest's.
serial() { sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g; s/\r$//' "$LOG"; }
guest=$(serial | grep -E '^(vmtest-guest|ringclient):' || true)
[ -z "$guest" ] || printf '%s\n' "$guest" | sed 's/^/  guest| /'

problems=()
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	problems+=("the VM did not power off within ${TIMEOUT}s")
elif [ "$qemu_rc" -ne 0 ]; then
	problems+=("qemu-system-x86_64 exited $qemu_rc")
fi
check() { # check DESCRIPTION EXTENDED-REGEX: a guest line must match
	grep -qE "$2" <<<"$guest" || problems+=("$1")
}
check "user vgpu-test (uid 1000) in group vgpu (990)" \
	'^vmtest-guest: as vgpu-test: uid=1000\(vgpu-test\) .*groups=.*990\(vgpu\)'
check "empty environment" '^vmtest-guest: environment entries: 0$'
check "refused before the udev rule's permissions" \
	'^vmtest-guest: before rule: ringclient exit=[1-9]'
check "ringclient mapped the PCI BAR as uid 1000" \
	'^ringclient: /sys/.*/resource2(_wc)? mapped as pci-bar-(wc|uc), .*uid 1000$'
check "ringclient: OK" '^ringclient: OK '
check "ringclient exit status 0" '^vmtest-guest: ringclient exit=0$'
[ "$peer_rc" -eq 0 ] ||
	problems+=("ringpeer exited $peer_rc: $(tail -n 3 "$PEERLOG" | tr '\n' ' ')")

if [ ${#problems[@]} -ne 0 ]; then
	for p in "${problems[@]}"; do echo "vmtest: FAIL: $p" >&2; done
	echo "vmtest: last lines of the serial log $LOG:" >&2
	serial | tail -n 40 | sed 's/^/  | /' >&2
	echo "vmtest: 0 passed, 1 failed" >&2
	exit 1
fi
say "guest booted, ran and powered off in ${secs}s; ringpeer exit 0"
say "1 passed, 0 failed"
