#!/usr/bin/env bash
# Runs one coverage-guided fuzz target (cargo fuzz, libFuzzer, nightly) for a while,
# seeded from the bad-input corpus; see docs/FUZZING.md.
#   scripts/fuzz.sh TARGET [SECONDS]     targets: song_list lyrics audio image weights
# A crash is saved under fuzz/artifacts/TARGET/; add it to crates/testkit/found/ so the
# corpus tests run it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}"
SECONDS_TO_RUN="${2:-300}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzzing needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Seeds: the corpus files each target reads. Targets that pick the format from the
# first byte get that byte in front of each file.
SEEDS="$(mktemp -d)"
trap 'rm -rf "$SEEDS"' EXIT
cargo run -q -p moodtune-testkit --example write-corpus "$SEEDS" >/dev/null
OUT="fuzz/corpus/$TARGET"
mkdir -p "$OUT"
prefixed() { # EXT-LIST... : copies matching seeds with the index of their extension first
    local i=0
    for ext in "$@"; do
        for f in "$SEEDS"/*."$ext"; do
            [ -e "$f" ] || continue
            { printf "\\x$(printf %02x "$i")"; cat "$f"; } > "$OUT/$(basename "$f")"
        done
        i=$((i + 1))
    done
}
case "$TARGET" in
    song_list) prefixed csv tsv xlsx xls ods ;;
    audio) prefixed wav mp3 flac ogg m4a opus ;;
    lyrics) cp "$SEEDS"/*.lrc "$OUT"/ ;;
    image) cp "$SEEDS"/*.png "$SEEDS"/*.jpg "$SEEDS"/*.bmp "$OUT"/ ;;
    weights) cp "$SEEDS"/*.safetensors "$OUT"/ ;;
    *) echo "unknown target $TARGET (song_list lyrics audio image weights)" >&2; exit 2 ;;
esac
# Found crashes, kept in the repository, seed the run too.
if [ -d "crates/testkit/found/$TARGET" ]; then
    cp "crates/testkit/found/$TARGET"/* "$OUT"/ 2>/dev/null || true
fi

cd fuzz
# -rss_limit_mb: a parser that reserves gigabytes from a size field is a finding.
exec cargo +nightly fuzz run -O "$TARGET" "corpus/$TARGET" -- \
    -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=1024 -max_len=1048576 -timeout=20
