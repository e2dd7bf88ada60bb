"""A stand-in for `packer` that takes a fixed time per build, for the apply benchmarks.

infra runs `packer build -machine-readable -var NAME=VALUE ... TEMPLATE` (see
infra/providers/packer.py) as a process and reads its output. Here that process is `bin/packer`,
a bash script put first on PATH: it hands its working directory and arguments to the build
service the benchmark runs (`PackerService`, on a loopback port named by
INFRA_BENCH_PACKER_PORT), prints what the service answers and exits with its code.

A build reads the template as infra rendered it (from infra/templates/packer.json.j2, with
`custom_endpoint_ec2` added for the sandbox), waits the service's `seconds`, registers an AMI at
the endpoint with the template's `ami_name` and `tags` (`{{user `x`}}` from the -var values and
the template's variables, `{{timestamp}}` and `{{isotime ...}}` substituted), and answers packer's
machine-readable artifact line, so infra reads the AMI id. `packer validate` and `packer version`
succeed without doing anything. The service records when each build ran (`spans`), so the
benchmark can see how many overlapped.

Why a service: a build in a process of its own cost about 50 ms of CPU (Python starting and
importing urllib), and an apply of 1,000 groups runs 950 builds on the same two cores as infra and
moto, so that stand-in alone took half the CPU of the apply. The bash client costs about 1 ms;
infra still starts one packer process per build and reads its output, as with the real one.

The AMI is registered with two EC2 Query API requests (RegisterImage, CreateTags) made with
http.client on one connection, not boto3. The endpoint (moto) does not check signatures; the Authorization header only
names the region.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socketserver
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

USER = re.compile(r"\{\{\s*user\s+`([^`]+)`\s*\}\}")
TIMESTAMP = re.compile(r"\{\{\s*timestamp\s*\}\}")
ISOTIME = re.compile(r"\{\{\s*isotime(?:\s+\"[^\"]*\")?\s*\}\}")
CLIENT = Path(__file__).resolve().parent / "bin"  # the folder of the `packer` client to put first on PATH


class Failed(Exception):
    """A build that cannot go on: its message is packer's last line, and it exits 1."""


def substitute(value: str, variables: dict[str, str], now: float, unique: str) -> str:
    value = USER.sub(lambda m: variables.get(m[1], ""), value)
    value = TIMESTAMP.sub(str(int(now)), value)
    # Go's "20060102-150405" layout, the one packer.json.j2 uses; a unique suffix keeps names apart.
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M%S") + f"-{unique}"
    return ISOTIME.sub(stamp, value)


class Ec2Client:
    """EC2 Query API requests of one build, on one connection kept open between them, as packer's
    AWS SDK keeps its own (a new connection per request cost the counting proxy a thread each)."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint, self.region = endpoint, region
        address = urllib.parse.urlsplit(endpoint)
        self.host, self.port = address.hostname or "127.0.0.1", address.port or 80
        self.connection: http.client.HTTPConnection | None = None

    def __enter__(self) -> Ec2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.connection is not None:
            self.connection.close()

    def call(self, params: dict[str, str], attempts: int = 5) -> str:
        """One request; the answer's XML text. A connection refused or reset is tried again (on a
        new connection), as packer's AWS SDK does; an HTTP error fails the build."""
        body = urllib.parse.urlencode({**params, "Version": "2016-11-15"}).encode()
        credential = f"testing/20240101/{self.region}/ec2/aws4_request"
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                   "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=0"}
        for attempt in range(1, attempts + 1):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.connection.request("POST", "/", body=body, headers=headers)
                response = self.connection.getresponse()
                answer = response.read()
            except (ConnectionError, OSError, http.client.HTTPException) as exc:
                self.connection.close()
                self.connection = None
                if attempt == attempts:
                    raise Failed(f"fake packer: {params['Action']} at {self.endpoint}: {exc}") from None
                time.sleep(0.1 * attempt)
                continue
            if response.status >= 400:
                raise Failed(f"fake packer: {params['Action']} at {self.endpoint}: HTTP Error {response.status}: "
                             f"{response.reason}")
            return answer.decode()
        raise AssertionError("unreachable")


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


def said(kind: str, *data: str) -> str:
    fields = [str(int(time.time())), "amazon-ebs", kind, *(d.replace(",", "%!(PACKER_COMMA)") for d in data)]
    return ",".join(fields)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 128  # an apply with --parallelism 50 starts 50 builds at once (the default, 5, refuses some)


class PackerService:
    """The builds of every `bin/packer` process, in this process, one thread per build."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds  # how long each build takes
        self.spans: list[tuple[float, float]] = []  # (start, end) of each build since the last reset
        self._lock = threading.Lock()
        self._count = 0
        service = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                request = self.rfile.readline().rstrip(b"\n").split(b"\0")
                cwd, argv = request[0].decode(), [arg.decode() for arg in request[1:-1]]
                lines, code = service.run(Path(cwd), argv)
                try:
                    self.wfile.write("".join(f"{line}\n" for line in [*lines, f"exit:{code}"]).encode())
                except OSError:
                    pass  # infra stopped the client (an interrupted apply)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def environment(self) -> dict[str, str]:
        """What `bin/packer` needs: the service's port, and itself first on PATH."""
        return {"INFRA_BENCH_PACKER_PORT": str(self.port), "PATH": f"{CLIENT}{os.pathsep}{os.environ.get('PATH', '')}"}

    def reset(self) -> list[tuple[float, float]]:
        with self._lock:
            spans, self.spans = self.spans, []
        return spans

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def run(self, cwd: Path, argv: list[str]) -> tuple[list[str], int]:
        command = argv[0] if argv else ""
        if command == "build":
            try:
                return self.build(cwd, argv[1:]), 0
            except Failed as failure:
                return [str(failure)], 1
        if command == "validate":
            return [], 0
        if command in ("version", "--version", "-v"):
            return ["Packer v1.6.6 (infra benchmark fake)"], 0
        return [f"fake packer: unsupported command {command!r}"], 1

    def build(self, cwd: Path, argv: list[str]) -> list[str]:
        started = time.time()
        given, path = parse_build(argv)
        template = json.loads((cwd / path).read_text())
        defaults = {k: (v if isinstance(v, str) else "") for k, v in (template.get("variables") or {}).items()}
        variables = {**defaults, **given}
        builder = next(b for b in template["builders"] if b.get("type") == "amazon-ebs")
        with self._lock:
            self._count += 1
            unique = str(self._count)
        now = time.time()
        region = substitute(str(builder.get("region", "us-east-1")), variables, now, unique)
        name = substitute(str(builder.get("ami_name", "fake-packer")), variables, now, unique)
        tags = {k: substitute(str(v), variables, now, unique) for k, v in (builder.get("tags") or {}).items()}
        endpoint = builder.get("custom_endpoint_ec2")
        if not endpoint:
            raise Failed("fake packer: the template names no custom_endpoint_ec2; it only builds in moto")
        lines = [said("ui", "say", f"amazon-ebs: fake build of {name}")]
        time.sleep(self.seconds)
        with Ec2Client(endpoint, region) as ec2:
            answer = ec2.call({"Action": "RegisterImage", "Name": name, "RootDeviceName": "/dev/sda1",
                               "Description": str(builder.get("ami_description", ""))})
            image_id = re.search(r"<imageId>([^<]+)</imageId>", answer)[1]
            if tags:
                request = {"Action": "CreateTags", "ResourceId.1": image_id}
                for number, (key, value) in enumerate(tags.items(), 1):
                    request[f"Tag.{number}.Key"], request[f"Tag.{number}.Value"] = key, value
                ec2.call(request)
        with self._lock:
            self.spans.append((started, time.time()))
        return [*lines, said("ui", "say", f"amazon-ebs: AMI: {image_id}"), said("artifact-count", "1"),
                said("artifact", "0", "builder-id", "mitchellh.amazonebs"),
                said("artifact", "0", "id", f"{region}:{image_id}"), said("artifact", "0", "end")]
