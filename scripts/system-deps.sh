#!/usr/bin/env bash
# Install the real parts infra drives (packer, etcd) from Debian packages when they are missing.
set -euo pipefail
missing=()
command -v packer >/dev/null 2>&1 || missing+=(packer)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]} (Debian packages)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
