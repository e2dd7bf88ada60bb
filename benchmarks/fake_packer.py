"""A stand-in for `packer` that takes a fixed time per build, for the apply benchmark.

infra runs `packer build -machine-readable -var NAME=VALUE ... TEMPLATE` (see
infra/providers/packer.py). This reads the template as infra rendered it (from
infra/templates/packer.json.j2, with `custom_endpoint_ec2` added for the sandbox), sleeps
INFRA_BENCH_PACKER_SECONDS (default 0), registers an AMI at the endpoint with the template's
`ami_name` and `tags` (`{{user `x`}}` from the -var values and the template's variables,
`{{timestamp}}` and `{{isotime ...}}` substituted), and prints packer's machine-readable artifact
line so infra reads the AMI id. `packer validate` and `packer version` succeed without doing
anything. Run through the `bin/packer` wrapper, put first on PATH. With INFRA_BENCH_PACKER_LOG
set, each build appends its start and end time to that file.

The AMI is registered with two EC2 Query API requests (RegisterImage, CreateTags) made with
urllib, not boto3: importing boto3 and making an EC2 client costs about 0.3 s of CPU, so on a
2-core machine 50 builds at once would measure boto3's start-up, not whether infra overlaps
builds. This costs about 0.04 s. The endpoint (moto) does not check signatures; the
Authorization header only names the region.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone

USER = re.compile(r"\{\{\s*user\s+`([^`]+)`\s*\}\}")
TIMESTAMP = re.compile(r"\{\{\s*timestamp\s*\}\}")
ISOTIME = re.compile(r"\{\{\s*isotime(?:\s+\"[^\"]*\")?\s*\}\}")


def substitute(value: str, variables: dict[str, str], now: float) -> str:
    value = USER.sub(lambda m: variables.get(m[1], ""), value)
    value = TIMESTAMP.sub(str(int(now)), value)
    # Go's "20060102-150405" layout, the one packer.json.j2 uses; a unique suffix keeps names apart.
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    return ISOTIME.sub(stamp, value)


def ec2_call(endpoint: str, region: str, params: dict[str, str]) -> str:
    """One EC2 Query API request; the answer's XML text."""
    body = urllib.parse.urlencode({**params, "Version": "2016-11-15"}).encode()
    credential = f"{os.environ.get('AWS_ACCESS_KEY_ID', 'testing')}/20240101/{region}/ec2/aws4_request"
    request = urllib.request.Request(endpoint.rstrip("/") + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read().decode()


def parse_build(argv: list[str]) -> tuple[dict[str, str], str]:
    variables: dict[str, str] = {}
    rest = list(argv)
    template = ""
    while rest:
        arg = rest.pop(0)
        if arg == "-var" and rest:
            name, _, value = rest.pop(0).partition("=")
            variables[name] = value
        elif arg.startswith("-var="):
            name, _, value = arg[len("-var="):].partition("=")
            variables[name] = value
        elif not arg.startswith("-"):
            template = arg
    return variables, template


def say(kind: str, *data: str) -> None:
    fields = [str(int(time.time())), "amazon-ebs", kind, *(d.replace(",", "%!(PACKER_COMMA)") for d in data)]
    print(",".join(fields), flush=True)


def build(argv: list[str]) -> int:
    started = time.time()
    given, path = parse_build(argv)
    with open(path) as file:
        template = json.load(file)
    defaults = {k: (v if isinstance(v, str) else "") for k, v in (template.get("variables") or {}).items()}
    variables = {**defaults, **given}
    builder = next(b for b in template["builders"] if b.get("type") == "amazon-ebs")
    now = time.time()
    region = substitute(str(builder.get("region", "us-east-1")), variables, now)
    name = substitute(str(builder.get("ami_name", "fake-packer")), variables, now)
    tags = {k: substitute(str(v), variables, now) for k, v in (builder.get("tags") or {}).items()}
    endpoint = builder.get("custom_endpoint_ec2") or os.environ.get("AWS_ENDPOINT_URL")
    say("ui", "say", f"amazon-ebs: fake build of {name}")
    time.sleep(float(os.environ.get("INFRA_BENCH_PACKER_SECONDS", "0")))

    if not endpoint:
        print("fake packer: no endpoint (custom_endpoint_ec2 or AWS_ENDPOINT_URL); it only builds in moto",
              file=sys.stderr)
        return 1
    answer = ec2_call(endpoint, region, {"Action": "RegisterImage", "Name": name, "RootDeviceName": "/dev/sda1",
                                         "Description": str(builder.get("ami_description", ""))})
    image_id = re.search(r"<imageId>([^<]+)</imageId>", answer)[1]
    if tags:
        request = {"Action": "CreateTags", "ResourceId.1": image_id}
        for number, (key, value) in enumerate(tags.items(), 1):
            request[f"Tag.{number}.Key"], request[f"Tag.{number}.Value"] = key, value
        ec2_call(endpoint, region, request)
    say("ui", "say", f"amazon-ebs: AMI: {image_id}")
    log = os.environ.get("INFRA_BENCH_PACKER_LOG")
    if log:  # when each build ran, so the benchmark can see how many overlapped
        with open(log, "a") as file:
            file.write(f"{started:.6f} {time.time():.6f}\n")
    say("artifact-count", "1")
    say("artifact", "0", "builder-id", "mitchellh.amazonebs")
    say("artifact", "0", "id", f"{region}:{image_id}")
    say("artifact", "0", "end")
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "build":
        return build(argv[1:])
    if command == "validate":
        return 0
    if command in ("version", "--version", "-v"):
        print("Packer v1.6.6 (infra benchmark fake)")
        return 0
    print(f"fake packer: unsupported command {command!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
