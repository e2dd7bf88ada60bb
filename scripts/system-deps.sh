#!/usr/bin/env bash
# Install the real parts infra drives (packer, etcd, haproxy), and graphviz (whose dot reads back what
# infra graph prints, in the tests), from Debian packages when they are missing, saying what it does
# while apt-get works (its output goes to a log).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/progress.sh
missing=()
command -v packer >/dev/null 2>&1 || missing+=(packer)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
# haproxy lives in /usr/sbin, which a non-root PATH may leave out.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if [ ${#missing[@]} -eq 0 ]; then
    say "packer, etcd, haproxy and graphviz are installed"
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
log="$(mktemp -t infra-apt.XXXXXX.log)"
say "installing ${missing[*]} (Debian packages; apt-get's log: $log)"
while_saying "updating the package lists (apt-get update)" "$log" $sudo apt-get update -qq
while_saying "installing ${missing[*]} (apt-get install)" "$log" \
    env DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
say "installed ${missing[*]}"
