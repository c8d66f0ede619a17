#!/bin/sh
# `make run`: one node, a cluster of one, data in ./var, loopback ports.
set -eu
bin=$1
if [ ! -d var/raft ] && [ ! -f var/join.pending ]; then
	"$bin" init --demo
fi
cat <<'MSG'

mailnode is starting (Ctrl-C stops it; the next `make run` reuses ./var).

  IMAP  127.0.0.1:1143 (STARTTLS)   IMAPS 127.0.0.1:1993
  POP3  127.0.0.1:1110 (STLS)       POP3S 127.0.0.1:1995
  LMTP  127.0.0.1:2424
  HTTP  http://127.0.0.1:8080/health  /metrics

  Demo account: demo@example.test, password "demo" (created on first start).
  The certificate is self-signed (./var/tls/server.crt): accept it in your client.

  More users:   ./build/mailnode user add alice@example.test
  Deliver mail: swaks --protocol LMTP --server 127.0.0.1:2424 --to demo@example.test
  Status:       ./build/mailnode status

MSG
exec "$bin" serve
