#!/usr/bin/env bash
# The demo: the seed's whole workflow on the local sandbox (a moto server), with the real packer.
# It works in demo/ (a fresh ops repository holding the example nodes.json) and stops the sandbox
# when it ends, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
infra="${INFRA:-$PWD/.venv/bin/infra}"  # INFRA: another infra (the tests' stand-in)
rm -rf demo && mkdir demo && cp nodes.json demo/ && cd demo

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() { "$infra" sandbox stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "validate nodes.json"
"$infra" validate

step "start the sandbox (moto on 127.0.0.1, seeded with the source AMI)"
# Its lines are shown as they come and kept in a file, whose last line (export AWS_ENDPOINT_URL=...)
# is then run. Not `tee /dev/stderr`: with `make demo > demo.log 2>&1` that opens demo.log again,
# from its start, and the log loses everything before it.
"$infra" sandbox start | tee sandbox-start.log
eval "$(tail -1 sandbox-start.log)"

step "role:create: Chef roles"
"$infra" role:create
step "packer:create: Packer templates"
"$infra" packer:create
step "packer:run: build the AMIs with packer (in parallel)"
"$infra" packer:run
step "autoscale:create and autoscale:run: dna file, launch template and the 12_04-bee autoscaling group"
"$infra" autoscale:create 12_04-bee
"$infra" autoscale:run 12_04-bee

step "plan: nothing left to do"
"$infra" plan --detailed-exitcode

step "change 12_04-bee's instance type (and a short roll timeout for the demo)"
python3 - <<'PY'
import json
config = json.load(open("nodes.json"))
config["12_04-bee"]["instance_type"] = "m3.large"
config["12_04-bee"]["autoscale"]["timeout"] = 3
json.dump(config, open("nodes.json", "w"), indent=2)
PY
"$infra" plan --output markdown

step "apply: rebuild the AMI, new launch template version, blue/green roll of the ASG"
"$infra" apply --auto-approve

step "instance:create: a one-off 12_04-www node with a key pair imported from a key file"
ssh-keygen -q -t rsa -b 2048 -N "" -f demo-key.pem
"$infra" instance:create 12_04-www --key demo-key.pem --name www-1

step "instance:deploy: re-run chef-solo on 12_04-bee's nodes, one at a time"
"$infra" instance:deploy 12_04-bee -n 1

step "what exists now"
"$infra" state list
"$infra" drift
find roles packer dna -type f | sort
echo
echo "The demo's ops repository is in demo/. The sandbox is stopped on exit."
