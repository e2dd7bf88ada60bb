#!/usr/bin/env bash
# The demo: the seed's example nodes.json, validated and turned into Chef roles.
set -euo pipefail
cd "$(dirname "$0")/.."
infra=.venv/bin/infra
$infra validate
