#!/usr/bin/env bash
# A release build with profile-guided optimisation (PGO), trained on the bundled
# captures: the build to install on a web host (systemd/README.md).
#
#   1. finds llvm-profdata for rustc's own LLVM (rustup's llvm-tools component; added
#      with rustup when missing)
#   2. builds an instrumented binary (target/pgo-train/) and replays every capture in
#      pcaps/ through it: CRS off on one worker, the site policy with CRS on two workers;
#      as root, also runs the live daemon on loopback under real HTTP (curl against
#      python's http.server), so that its capture loop and fan-out are not left
#      untrained (code a profile never saw run is optimised for size)
#   3. merges the profiles and builds target/pgo/release/tamperwatch with them
#   4. when LLVM BOLT is there (or can be installed): instruments that binary with
#      llvm-bolt, runs the same training through it, and lays its code out again by
#      that profile (hot paths packed together, cold blocks split off), in place
#   5. replays the same captures through the optimised binary and checks that it prints
#      exactly the events the instrumented one printed
#
# The training set is pcaps/ (attacks, benign browsing, evasions, TCP edge cases), not
# the benchmark captures in bench-data/: the profile must not be fitted to what
# scripts/bench.sh times. PGO changes how code is laid out and inlined, never what it
# does; so does BOLT: step 5 checks that on every training run.
#
# Run from anywhere: scripts/build-pgo.sh. Prints the binary's path on stdout.
# Environment:
#   PGO_KEEP=1          keeps the raw profiles (target/pgo-data/) for inspection
#   PGO_TARGET_CPU=CPU  also compiles for that CPU (rustc -Ctarget-cpu, e.g. native when
#                       building on the web host itself): the binary then needs that CPU
#                       and is written to target/pgo-CPU/ instead of target/pgo/
#   PGO_BOLT=auto       auto: step 4 when llvm-bolt is installed or, as root, apt-get can
#                       install it (Debian's bolt-NN); 1: step 4 or fail; 0: no step 4
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { printf '[pgo] %s\n' "$*" >&2; }
die() { printf '[pgo] ERROR: %s\n' "$*" >&2; exit 1; }

command -v cargo > /dev/null || die "cargo not found: install a Rust toolchain (rustup.rs)"
scripts/setup.sh build >&2

# llvm-profdata must read the profiles this rustc's LLVM writes: the distribution's
# llvm-profdata is usually another LLVM version and rejects them.
host=$(rustc -vV | sed -n 's/^host: //p')
profdata=$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata
if [ ! -x "$profdata" ]; then
    command -v rustup > /dev/null \
        || die "llvm-profdata for rustc's LLVM is missing and rustup is not installed to add it (rustup component add llvm-tools)"
    log "adding rustup component llvm-tools (llvm-profdata)"
    rustup component add llvm-tools >&2 || die "rustup component add llvm-tools failed"
    [ -x "$profdata" ] || die "llvm-tools added but $profdata is missing"
fi

# Instrumented and optimised builds take the same code-generation flags, so that the
# profile describes the code it is applied to.
CPU_FLAGS=
TRAIN_DIR=$ROOT/target/pgo-train
OUT_DIR=$ROOT/target/pgo
if [ -n "${PGO_TARGET_CPU:-}" ]; then
    case $PGO_TARGET_CPU in
        *[!A-Za-z0-9_.-]*) die "PGO_TARGET_CPU must be a CPU name (rustc --print target-cpus)" ;;
    esac
    CPU_FLAGS=" -Ctarget-cpu=$PGO_TARGET_CPU"
    TRAIN_DIR=$ROOT/target/pgo-train-$PGO_TARGET_CPU
    OUT_DIR=$ROOT/target/pgo-$PGO_TARGET_CPU
fi
# LLVM BOLT (step 4) reads the optimised binary's relocations to move its code, so
# the binary is then linked with them (--emit-relocs; the code is the same).
PGO_BOLT=${PGO_BOLT:-auto}
case $PGO_BOLT in auto | 0 | 1) ;; *) die "PGO_BOLT must be auto, 0 or 1" ;; esac
# Prints the newest of the given tool in PATH (plain name, or Debian's name-NN).
newest_tool() {
    command -v "$1" 2> /dev/null && return 0
    compgen -c "$1-" | grep -E "^$1-[0-9]+\$" | sort -V | tail -n 1
}
bolt= merge_fdata=
if [ "$PGO_BOLT" != 0 ]; then
    bolt=$(newest_tool llvm-bolt || true)
    if [ -z "$bolt" ] && [ "$(id -u)" -eq 0 ] && command -v apt-cache > /dev/null; then
        pkg=$(apt-cache search --names-only '^bolt-[0-9]+$' 2> /dev/null | cut -d' ' -f1 | sort -V | tail -n 1)
        if [ -n "$pkg" ]; then
            log "installing $pkg (LLVM BOLT)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" > /dev/null 2>&1 \
                || log "apt-get install $pkg failed"
            bolt=$(newest_tool llvm-bolt || true)
        fi
    fi
    [ -n "$bolt" ] && merge_fdata=$(newest_tool merge-fdata || true)
    if [ -z "$bolt" ] || [ -z "$merge_fdata" ]; then
        [ "$PGO_BOLT" = 1 ] && die "PGO_BOLT=1 but llvm-bolt and merge-fdata were not found (Debian: apt-get install bolt-NN)"
        log "LLVM BOLT not found: step 4 skipped (the PGO build is complete without it)"
        bolt=
    fi
fi
LINK_FLAGS=
[ -n "$bolt" ] && LINK_FLAGS=" -Clink-arg=-Wl,--emit-relocs"
DATA=$ROOT/target/pgo-data
rm -rf "$DATA"
mkdir -p "$DATA"
log "step 1/5: instrumented build (${TRAIN_DIR#"$ROOT"/})"
RUSTFLAGS="-Cprofile-generate=$DATA$CPU_FLAGS" CARGO_TARGET_DIR=$TRAIN_DIR \
    cargo build --release --quiet || die "instrumented build failed"
TRAIN_BIN=$TRAIN_DIR/release/tamperwatch

log "step 2/5: training on the captures in pcaps/"
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
printf 'crs:\n  enabled: false\n' > "$SCRATCH/crs-off.yaml"
mapfile -t captures < <(find pcaps -name '*.pcap' -o -name '*.pcapng' | sort)
[ "${#captures[@]}" -gt 0 ] || die "no captures under pcaps/"
# Each run's events are kept (by run) for step 5.
mkdir -p "$SCRATCH/events"
runs=()
for i in "${!captures[@]}"; do
    runs+=("off-$i:replay --workers 1 --rules rules --config $SCRATCH/crs-off.yaml ${captures[$i]}")
done
# The CRS on every fourth capture: its load dominates a short capture's run.
for ((i = 0; i < ${#captures[@]}; i += 4)); do
    runs+=("on-$i:replay --workers 2 --rules rules --config pcaps/site.yaml ${captures[$i]}")
done
trained=${#captures[@]}

# Runs every training run through the binary $1, keeping each run's events in the
# directory $2. A capture the monitor refuses (the bad-input set) trains the refusal
# path: its exit status is not this script's business, only that the builds agree on it.
run_replays() {
    local bin=$1 events=$2 run name args
    mkdir -p "$events"
    for run in "${runs[@]}"; do
        name=${run%%:*}
        read -r -a args <<< "${run#*:}"
        "$bin" "${args[@]}" > "$events/$name" 2> /dev/null || echo "exit $?" >> "$events/$name"
    done
}

# The live daemon ($1): capture on loopback, two workers, CRS on, metrics scraped;
# stopped by its PID with SIGTERM, so that it exits cleanly and writes its profile.
train_daemon() {
    local bin=$1
    if [ "$(id -u)" -ne 0 ] || ! command -v python3 > /dev/null || ! command -v curl > /dev/null; then
        log "live daemon not trained: needs root (capture), python3 and curl"
        return 0
    fi
    local site_port=$((20000 + RANDOM % 20000)) metrics_port www=$SCRATCH/www web tw i ready
    metrics_port=$((site_port + 1))
    mkdir -p "$www"
    printf '<html><body>tamperwatch PGO training page</body></html>\n' > "$www/index.html"
    python3 -m http.server --bind 127.0.0.1 --directory "$www" "$site_port" > /dev/null 2>&1 &
    web=$!
    printf 'site:\n  addresses: [127.0.0.1/32]\n  ports: [%s]\nrules: %s\nevents:\n  path: %s\nstore:\n  path: %s\ncapture:\n  interface: lo\n  workers: 2\nmetrics:\n  listen: 127.0.0.1:%s\n' \
        "$site_port" "$ROOT/rules" "$SCRATCH/live-events.jsonl" "$SCRATCH/live-flagged.db" "$metrics_port" \
        > "$SCRATCH/live.yaml"
    "$bin" run --config "$SCRATCH/live.yaml" > /dev/null 2>&1 &
    tw=$!
    ready=0
    for ((i = 0; i < 100; i++)); do
        if curl -sf "http://127.0.0.1:$metrics_port/readyz" > /dev/null 2>&1; then
            ready=1
            break
        fi
        sleep 0.1
    done
    if [ "$ready" = 0 ]; then
        # A busy port or a capture refused: the replays above still trained the
        # packet stages, which the daemon shares.
        log "live daemon not trained: it did not report ready within 10 s"
        kill -TERM "$tw" "$web" 2> /dev/null || true
        wait "$tw" "$web" 2> /dev/null || true
        return 0
    fi
    # Short connections (http.server closes each), a few attacks and writes among them.
    for ((i = 0; i < 4; i++)); do
        # (Every response to /dev/null: this script's output is the binary's path.)
        curl -s "http://127.0.0.1:$site_port/?page=[1-400]" > /dev/null 2>&1 || true
        curl -s --path-as-is "http://127.0.0.1:$site_port/?id=1%27%20OR%20%271%27=%271" \
            "http://127.0.0.1:$site_port/../../etc/passwd" > /dev/null 2>&1 || true
        curl -s -X POST -d 'name=x&comment=<script>alert(1)</script>' \
            "http://127.0.0.1:$site_port/contact" > /dev/null 2>&1 || true
        curl -s "http://127.0.0.1:$metrics_port/metrics" > /dev/null 2>&1 || true
    done
    kill -TERM "$tw" 2> /dev/null || true
    wait "$tw" 2> /dev/null || true
    kill "$web" 2> /dev/null || true
    wait "$web" 2> /dev/null || true
    log "trained the live daemon on loopback"
}
run_replays "$TRAIN_BIN" "$SCRATCH/events"
train_daemon "$TRAIN_BIN"
compgen -G "$DATA/*.profraw" > /dev/null || die "the instrumented binary wrote no profile to $DATA"
log "trained on $trained captures ($(du -sh "$DATA" | cut -f1) of raw profiles)"

log "step 3/5: optimised build with the profile (${OUT_DIR#"$ROOT"/})"
"$profdata" merge -o "$SCRATCH/merged.profdata" "$DATA" || die "llvm-profdata merge failed"
# A function the training never ran has no profile: that is expected, not a warning.
RUSTFLAGS="-Cprofile-use=$SCRATCH/merged.profdata -Cllvm-args=-pgo-warn-missing-function=false$CPU_FLAGS$LINK_FLAGS" \
    CARGO_TARGET_DIR=$OUT_DIR cargo build --release --quiet \
    || die "optimised build failed"
[ "${PGO_KEEP:-0}" = 1 ] || rm -rf "$DATA"
PGO_BIN=$OUT_DIR/release/tamperwatch

if [ -n "$bolt" ]; then
    log "step 4/5: BOLT: instrumenting the optimised binary and training it again ($bolt)"
    BOLT_DATA=$SCRATCH/bolt
    mkdir -p "$BOLT_DATA"
    "$bolt" "$PGO_BIN" -instrument -o "$SCRATCH/tamperwatch.bolt-train" \
        -instrumentation-file="$BOLT_DATA/profile" -instrumentation-file-append-pid \
        > "$SCRATCH/bolt-instrument.log" 2>&1 \
        || { cat "$SCRATCH/bolt-instrument.log" >&2; die "llvm-bolt -instrument failed"; }
    # Its events are checked too: an instrumented layout must not change what it does.
    run_replays "$SCRATCH/tamperwatch.bolt-train" "$SCRATCH/bolt-events"
    train_daemon "$SCRATCH/tamperwatch.bolt-train"
    diff -rq "$SCRATCH/events" "$SCRATCH/bolt-events" > /dev/null \
        || die "the BOLT-instrumented binary printed other events than the PGO-instrumented one"
    compgen -G "$BOLT_DATA/profile*" > /dev/null || die "the BOLT-instrumented binary wrote no profile"
    "$merge_fdata" "$BOLT_DATA"/profile* > "$SCRATCH/bolt.fdata" 2> /dev/null || die "merge-fdata failed"
    # Blocks ordered for fall-through on the hot paths, functions ordered by calls,
    # cold blocks split off, identical functions folded.
    "$bolt" "$PGO_BIN" -o "$SCRATCH/tamperwatch.bolt" -data="$SCRATCH/bolt.fdata" \
        -reorder-blocks=ext-tsp -reorder-functions=cdsort -split-functions -split-all-cold \
        -split-eh -icf=1 -use-gnu-stack > "$SCRATCH/bolt-optimise.log" 2>&1 \
        || { cat "$SCRATCH/bolt-optimise.log" >&2; die "llvm-bolt failed"; }
    mv "$SCRATCH/tamperwatch.bolt" "$PGO_BIN"
    log "BOLT: laid out $PGO_BIN by $(du -sh "$SCRATCH/bolt.fdata" | cut -f1) of profile"
fi

log "step 5/5: the optimised binary's events against the instrumented one's (${#runs[@]} runs)"
run_replays "$PGO_BIN" "$SCRATCH/final-events"
if ! differ=$(diff -rq "$SCRATCH/events" "$SCRATCH/final-events"); then
    while read -r _ got _; do
        name=${got##*/}
        for run in "${runs[@]}"; do
            [ "${run%%:*}" = "$name" ] && log "DIFFERENT events: tamperwatch ${run#*:}"
        done
    done <<< "$differ"
    die "$(wc -l <<< "$differ") of ${#runs[@]} runs printed other events than the instrumented build"
fi
log "done: ${PGO_BIN#"$ROOT"/} (events identical on ${#runs[@]} runs)"
printf '%s\n' "$PGO_BIN"
