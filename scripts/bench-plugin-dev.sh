#!/usr/bin/env bash
# How long a plugin author waits, measured on a running `computehub serve`:
#
#   new-to-live, cold   `plugin new` + `plugin dev --once` with an empty target
#                       directory, until the new route answers
#   new-to-live, warm   the same for a second plugin, target directory shared
#   edit-to-live        `plugin dev` watching; from saving src/lib.rs until the
#                       route answers the edited text (median of 3)
#   edit-to-live --once one `plugin dev --once` round after an edit
#
# Usage: scripts/bench-plugin-dev.sh [path/to/computehub]
# (default target/debug/computehub; build it first with `cargo build -p computehub`).
# Set BENCH_TARGET_DIR to measure "cold" against an existing target directory.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$repo/target/debug/computehub}
[ -x "$bin" ] || { echo "no $bin: cargo build -p computehub first" >&2; exit 1; }
work=$(mktemp -d /tmp/computehub-bench-dev.XXXXXX)
target=${BENCH_TARGET_DIR:-$work/target}
token=bench-admin-token-0123456789
port=$((20000 + RANDOM % 20000))
server=http://127.0.0.1:$port
server_pid=
dev_pid=
cleanup() {
    [ -n "$dev_pid" ] && kill "$dev_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | sed 's/^\./0./'; }
wait_for() { # url text timeout-seconds
    local end=$(($(date +%s) + $3))
    until curl -fs "$1" 2>/dev/null | grep -q "$2"; do
        [ "$(date +%s)" -lt "$end" ] || { echo "timed out waiting for $2 at $1" >&2; return 1; }
        sleep 0.02
    done
}

COMPUTEHUB_ADMIN_TOKEN=$token "$bin" serve --data-dir "$work/data" --listen 127.0.0.1:$port \
    >"$work/server.log" 2>&1 &
server_pid=$!
wait_for "$server/healthz" "" 120 || { cat "$work/server.log"; exit 1; }
export COMPUTEHUB_ADMIN_TOKEN=$token

new_to_live() { # name
    local t0
    t0=$(now)
    "$bin" plugin new "$1" --dir "$work" >/dev/null
    /usr/bin/time -f "%U %S" -o "$work/$1.cpu" \
        "$bin" plugin dev "$work/$1" --server "$server" --target-dir "$target" --once \
        >"$work/$1.log" 2>&1 || { cat "$work/$1.log"; exit 1; }
    wait_for "$server/$1" "hello from $1" 10
    echo "$(since "$t0") $(awk '{print $1 + $2}' "$work/$1.cpu")"
}

echo "computehub plugin dev benchmark ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
read -r cold cpu < <(new_to_live bench-cold)
printf '%-36s %6.1f s   (%.0f CPU s: build, check, upload)\n' "new-to-live, cold target dir" "$cold" "$cpu"
read -r warm cpu < <(new_to_live bench-warm)
printf '%-36s %6.1f s   (%.0f CPU s)\n' "new-to-live, warm target dir" "$warm" "$cpu"

lib=$work/bench-warm/src/lib.rs
t0=$(now)
sed -i "s/hello from bench-warm/once edit/" "$lib"
"$bin" plugin dev "$work/bench-warm" --server "$server" --target-dir "$target" --once \
    >"$work/once.log" 2>&1 || { cat "$work/once.log"; exit 1; }
wait_for "$server/bench-warm" "once edit" 10
printf '%-36s %6.1f s\n' "edit-to-live, plugin dev --once" "$(since "$t0")"

"$bin" plugin dev "$work/bench-warm" --server "$server" --target-dir "$target" \
    >"$work/watch.log" 2>&1 &
dev_pid=$!
wait_for "$server/bench-warm" "once edit" 30
until grep -q "^watching" "$work/watch.log"; do sleep 0.05; done
times=()
for i in 1 2 3; do
    sleep 1
    t0=$(now)
    sed -i "s/\"[a-z]* edit[0-9]*\"/\"watch edit$i\"/" "$lib"
    wait_for "$server/bench-warm" "watch edit$i" 30
    times+=("$(since "$t0")")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
printf '%-36s %6.1f s   (runs: %s)\n' "edit-to-live, plugin dev watching" "$median" "${times[*]}"
echo "last round as plugin dev printed it:"
grep -A6 "^✓" "$work/watch.log" | tail -7 | sed 's/^/  /'
