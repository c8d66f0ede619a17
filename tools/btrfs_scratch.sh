#!/bin/sh
# A BTRFS file system on a loop image, for benchmarks and tests that want
# the file system mailnode is deployed on.
#
#   tools/btrfs_scratch.sh up MOUNTPOINT [SIZE]   (root; SIZE default 8G)
#   tools/btrfs_scratch.sh down MOUNTPOINT
#
# The image is MOUNTPOINT.img beside the mount point; `down` unmounts and
# removes it.
set -eu
cmd=${1:-}
mnt=${2:-}
size=${3:-8G}
if [ -z "$cmd" ] || [ -z "$mnt" ]; then
	echo "usage: $0 up|down MOUNTPOINT [SIZE]" >&2
	exit 2
fi
img="$mnt.img"
case "$cmd" in
up)
	if mountpoint -q "$mnt"; then
		echo "$mnt is already mounted" >&2
		exit 1
	fi
	mkdir -p "$mnt"
	truncate -s "$size" "$img"
	mkfs.btrfs -q -f "$img"
	mount -o loop "$img" "$mnt"
	echo "$mnt: btrfs on $img"
	;;
down)
	umount "$mnt"
	rm -f "$img"
	rmdir "$mnt" 2>/dev/null || true
	;;
*)
	echo "usage: $0 up|down MOUNTPOINT [SIZE]" >&2
	exit 2
	;;
esac
