#!/usr/bin/env bash
# Runs the benchmarks that carry goals, interleaved ROUNDS times so that
# each pair is measured side by side under the same machine load, and
# prints the median of each with the ratios the goals are stated in.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-5}
benchtime=${BENCHTIME:-1s}
pattern=${BENCH:-'Notify|Middleware|BareParseWithClaims|RejectHugeToken|FileStore|BoltPut'}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/addon.test" .

for i in $(seq "$rounds"); do
	echo "round $i of $rounds" >&2
	(cd "$tmp" && ./addon.test -test.run '^$' -test.bench "$pattern" \
		-test.benchmem -test.benchtime "$benchtime") >>"$tmp/raw.txt"
done

awk -f scripts/bench.awk "$tmp/raw.txt"
