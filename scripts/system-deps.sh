#!/usr/bin/env bash
# Install the real parts infra drives (packer, etcd, haproxy), and graphviz (whose dot reads back what
# infra graph prints, in the tests), from Debian packages when they are missing.
set -euo pipefail
missing=()
command -v packer >/dev/null 2>&1 || missing+=(packer)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
# haproxy lives in /usr/sbin, which a non-root PATH may leave out.
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]} (Debian packages)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
