# Sourced by the setup scripts: say what is being done, and keep saying it while it takes long.
# `while_saying WHAT LOG CMD...` runs CMD with its output in LOG, printing WHAT first and a line
# every ${INFRA_PROGRESS_EVERY:-10} s while it runs; should it fail, the end of LOG, and exit 1.

say() { printf '%s\n' "$*"; }

while_saying() {
    local what=$1 log=$2 every=${INFRA_PROGRESS_EVERY:-10} waited=0 pid status
    shift 2
    say "$what"
    "$@" >>"$log" 2>&1 &
    pid=$!
    trap 'kill "$pid" 2>/dev/null || true' EXIT  # a background command ignores Ctrl-C: end it with us
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        waited=$((waited + 1))
        if [ $((waited % every)) -eq 0 ] && kill -0 "$pid" 2>/dev/null; then
            say "  ... still at it (${waited} s)"
        fi
    done
    status=0
    wait "$pid" || status=$?
    trap - EXIT
    if [ "$status" -ne 0 ]; then
        say "failed (exit $status); the end of $log:"
        tail -n 20 "$log"
        exit 1
    fi
}
