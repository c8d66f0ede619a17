#!/bin/sh
# Install the Debian 12 packages that building, testing and running mailnode
# need. Installs with apt-get when run as root; otherwise prints the command.
# This script is the only place the project installs anything.
set -eu

PKGS="
build-essential cmake pkg-config clang libclang-rt-14-dev
libraft-dev liblmdb-dev lmdb-utils libssl-dev libuv1-dev libclamav-dev
libargon2-dev libinih-dev libhttp-parser-dev libjansson-dev zlib1g-dev
libcmocka-dev cppcheck gdb
openssl ca-certificates curl python3 python3-pytest
isync swaks btrfs-progs ansible-core haproxy
"

missing=""
for p in $PKGS postfix; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "mailnode needs these Debian packages:$missing" >&2
	echo "run as root: apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "installing:$missing" >&2
apt-get update -qq || true
# postfix asks what kind of mail system this is: none, tests run their own.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
# policy-rc.d keeps packages (postfix, haproxy) from starting daemons.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	created_policy=1
fi
rc=0
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
[ "$created_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
exit "$rc"
