#!/usr/bin/env bash
# Soak test of the real backend: `moodtune serve` (shipped model, real SQLite library)
# under the mixed load of crates/server/examples/load.rs (frames, playlists, likes from
# several clients) while `moodtune library import` writes a large song list into the
# same library from another process. Prints the load's latency per request kind, its
# errors, the server's memory over time, and how long the import took.
#   scripts/soak.sh [SECONDS] [CLIENTS] [ROWS]     defaults: 60 4 150000
# SOAK_PROFILE=test builds with the test profile (opt-level 2, what `cargo test` already
# built) instead of release.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-60}"
CLIENTS="${2:-4}"
ROWS="${3:-150000}"

PROFILE="${SOAK_PROFILE:-release}"
DIR=$([ "$PROFILE" = release ] && echo release || echo debug)
cargo build --profile "$PROFILE" --locked -q -p moodtune
cargo build --profile "$PROFILE" --locked -q -p moodtune-server --example load
BIN="target/$DIR/moodtune"
LOAD="target/$DIR/examples/load"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# A large song list, written before the clock starts.
awk -v n="$ROWS" 'BEGIN {
    print "title,artist,genre,lyrics";
    for (i = 0; i < n; i++)
        printf "Soak Song %d,Artist %d,%s,%s\n", i, i % 997,
            (i % 3 ? "pop" : "rock"), (i % 2 ? "dancing in the sun all night" : "tears fall in the cold rain");
}' > "$WORK/big.csv"

"$BIN" serve --db "$WORK/library.sqlite" --addr 127.0.0.1:0 > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 240); do
    URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.log" | head -1 || true)"
    [ -n "$URL" ] && break
    sleep 0.5
done
[ -n "$URL" ] || { echo "moodtune serve did not start:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
echo "soak: $PROFILE build, server $URL (pid $SERVER_PID), $CLIENTS clients for $SECS s, import of $ROWS rows beside it"

# The import starts with the load and runs beside it.
(
    start=$(date +%s.%N)
    if "$BIN" library import --db "$WORK/library.sqlite" "$WORK/big.csv" > "$WORK/import.log" 2>&1; then
        status=ok
    else
        status="failed: $(tail -1 "$WORK/import.log")"
    fi
    end=$(date +%s.%N)
    echo "import of $ROWS rows: $status in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s" > "$WORK/import.result"
) &
IMPORT_PID=$!

set +e
"$LOAD" --mix --clients "$CLIENTS" --seconds "$SECS" --url "$URL" --pid "$SERVER_PID"
LOAD_STATUS=$?
set -e
wait "$IMPORT_PID" || true
cat "$WORK/import.result"
grep -c . "$WORK/serve.log" >/dev/null && grep -i 'error\|panic' "$WORK/serve.log" | head -5 || true
kill -0 "$SERVER_PID" 2>/dev/null && echo "server still running" || { echo "server died" >&2; exit 1; }
exit "$LOAD_STATUS"
