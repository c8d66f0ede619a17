#!/bin/bash
# `make cluster`: three nodes on loopback, in the foreground. Node 1 uses
# the `make run` ports; nodes 2 and 3 the same ports plus 100 and 200.
# Data and configuration live in ./var-cluster/node{1,2,3}. Ctrl-C stops
# all three.
set -eu
bin=$(readlink -f "$1")
top=$(pwd)/var-cluster
mkdir -p "$top"

conf() { # id offset
	id=$1 off=$2 dir=$top/node$1
	mkdir -p "$dir"
	cat >"$dir/mailnode.conf" <<CONF
[node]
id = $id
data_dir = $dir/data

[listen]
imap = 127.0.0.1:$((1143 + off))
imaps = 127.0.0.1:$((1993 + off))
pop3 = 127.0.0.1:$((1110 + off))
pop3s = 127.0.0.1:$((1995 + off))
lmtp = 127.0.0.1:$((2424 + off))
managesieve = 127.0.0.1:$((4190 + off))
http = 127.0.0.1:$((8080 + off))
cluster = 127.0.0.1:$((7001 + off))
CONF
}

conf 1 0
conf 2 100
conf 3 200
if [ ! -d "$top/node1/data/raft" ]; then
	"$bin" --config "$top/node1/mailnode.conf" init --demo
	"$bin" --config "$top/node1/mailnode.conf" token >"$top/token"
	chmod 600 "$top/token"
	for i in 2 3; do
		"$bin" --config "$top/node$i/mailnode.conf" join --peer 127.0.0.1:7001 \
			--token-file "$top/token"
	done
fi

pids=""
stop() {
	trap - INT TERM
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	wait
	exit 0
}
trap stop INT TERM
for i in 1 2 3; do
	"$bin" --config "$top/node$i/mailnode.conf" serve > >(sed -u "s/^/node$i: /") 2>&1 &
	pids="$pids $!"
done
echo "three nodes starting; health: curl http://127.0.0.1:8080/health (8180, 8280)" >&2
echo "status: $bin --config $top/node1/mailnode.conf status" >&2
wait
