#!/bin/bash
# Run one libFuzzer harness for a bounded time on its seed corpus.
# usage: run.sh FUZZER CORPUS_DIR SECONDS
# New inputs go to a scratch copy, so the checked-in corpus stays small.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
if [ -d "$corpus" ]; then
	cp -r "$corpus"/. "$work/corpus/" 2>/dev/null || true
fi
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" 2>&1 | tail -25
status=$(ls "$work/artifacts" | wc -l)
if [ "$status" != 0 ]; then
	echo "fuzzer found $status crashing inputs:" >&2
	for f in "$work/artifacts"/*; do
		echo "--- $f" >&2
		od -c "$f" | head -20 >&2
	done
	exit 1
fi
