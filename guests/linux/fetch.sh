#!/bin/sh
# Fetches Debian's i386 686 kernel and busybox-static into the cache (as root, the first
# time) and builds the initramfs; options as for host/debian-guest.ts, e.g. --init test-init.
set -e
cd "$(dirname "$0")/../.."
npx tsc -p .
exec node dist/host/debian-guest.js "$@"
