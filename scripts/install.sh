#!/usr/bin/env bash
# The virtualenv infra and its tests run from ($VENV, .venv by default), with infra installed in
# it for development. pip is quiet for about a minute on a fresh machine: this says what it does,
# and that it is still at it, instead of leaving `make demo` silent; pip's own output goes to a log.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/progress.sh
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"
say "setting up $venv: a virtualenv holding infra and its development tools"
"$python" -m venv "$venv"
log="$venv/pip-install.log"
: >"$log"
while_saying "upgrading pip in $venv (its log: $log)" "$log" "$venv/bin/pip" install --upgrade pip
while_saying "installing infra and its dependencies with pip, about a minute the first time (its log: $log)" \
    "$log" "$venv/bin/pip" install -e '.[dev]'
say "$venv is ready"
