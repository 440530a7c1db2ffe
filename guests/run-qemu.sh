#!/usr/bin/env bash
# run-qemu.sh NAME [qemu options...] — run a guest under QEMU (Debian's
# qemu-system-x86) as a reference: prints the guest's COM1 output on stdout and
# "qemu: guest exit value V" on stderr; exits with the guest's exit value.
#
#   guests/run-qemu.sh hello
#   guests/run-qemu.sh selftest | diff - guests/selftest/expected.txt
#   guests/run-qemu.sh bench
#   guests/run-qemu.sh nanobench | grep -v cycles/iteration   # its cycle counts are QEMU's
#
# hello, bench and nanobench are Multiboot kernels (qemu -kernel). selftest is a flat
# real-mode binary; QEMU's BIOS only loads a boot sector, so it is rebuilt with
# -DQEMU_FLOPPY (guests/selftest/qemuboot.inc prepends a small loader) and booted
# as a 1.44 MB floppy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: run-qemu.sh hello|selftest|bench|nanobench [qemu options...]}
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case $name in
  hello)    boot=(-kernel "$here/hello/hello.elf") ;;
  bench)    boot=(-kernel "$here/bench/bench.bin") ;;
  nanobench) boot=(-kernel "$here/nanobench/nanobench.bin") ;;
  selftest)
    nasm -f bin -DQEMU_FLOPPY -I "$here/selftest/" -I "$here/common/" -o "$tmp/selftest.img" "$here/selftest/selftest.asm"
    truncate -s 1474560 "$tmp/selftest.img"
    boot=(-drive "file=$tmp/selftest.img,format=raw,if=floppy") ;;
  *) echo "run-qemu.sh: unknown guest $name" >&2; exit 2 ;;
esac
set +e
timeout "${QEMU_TIMEOUT:-300}" qemu-system-i386 -display none -vga none -nic none -no-reboot \
  -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 "${boot[@]}" "$@" </dev/null
status=$?
set -e
if (( status % 2 == 1 )); then
  echo "qemu: guest exit value $(( (status - 1) / 2 ))" >&2
  exit $(( (status - 1) / 2 ))
fi
echo "qemu: no exit through port 0xF4 (status $status)" >&2
exit 125
