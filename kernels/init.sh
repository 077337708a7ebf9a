#!/bin/busybox sh
# /init of the matrix initramfs: mount things, load modules, mount the test disks, run guest.js, power off.
/bin/busybox mkdir -p /proc /sys /dev /tmp /mnt/ext4 /mnt/xfs /sbin /usr/sbin
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin HOME=/tmp
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
log() { echo "@@DONTCACHE@@ {\"type\":\"log\",\"detail\":\"$*\"}"; }
while read -r m; do
  insmod "/modules/$m.ko" || log "insmod $m failed"
done < /modules/order
i=0
while [ ! -b /dev/vdb ] && [ $i -lt 20 ]; do sleep 1; i=$((i+1)); done
FS=""
if mount -t ext4 /dev/vda /mnt/ext4; then FS="$FS --fs ext4=/mnt/ext4"; else log "mount ext4 /dev/vda failed"; fi
if mount -t xfs /dev/vdb /mnt/xfs; then FS="$FS --fs xfs=/mnt/xfs"; else log "mount xfs /dev/vdb failed"; fi
echo "@@DONTCACHE@@ {\"type\":\"booted\",\"release\":\"$(uname -r)\"}"
/usr/bin/node /guest.js --pkg /pkg --kernel "$(cat /kernel-id)" --args-file /guest-args.json $FS
echo "@@DONTCACHE@@ {\"type\":\"guest-exit\",\"code\":$?}"
umount /mnt/ext4 /mnt/xfs
sync
poweroff -f
