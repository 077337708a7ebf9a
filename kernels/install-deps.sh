#!/bin/sh
# Install the host tools the kernel matrix and the arm64 suite need (Debian/Ubuntu). Only installs what
# is missing. qemu-system-arm boots the arm64 guest; g++-aarch64-linux-gnu brings the arm64 glibc and
# libstdc++ (its sysroot, used by the guest and by qemu-user) and builds prebuilds/linux-arm64.
set -eu
need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in qemu-system-x86 qemu-system-arm g++-aarch64-linux-gnu busybox-static kmod xz-utils xfsprogs e2fsprogs cpio binutils; do
  have_pkg "$p" || need="$need $p"
done
if [ -z "$need" ]; then
  echo "install-deps: all present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "install-deps: installing$need"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $need
