"""Real parts for integration tests: one moto server for the session, reset before each test."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import boto3
import pytest

from infra.sandbox import MotoServer

# Source images every test may build from; the example nodes.json names the first.
SOURCE_AMIS = ["ami-1ebb2077", "ami-0a1b2c3d", "ami-0badc0de"]
# Security groups every region starts with (the example nodes.json names them).
SECURITY_GROUPS = ["bee", "external", "internal", "www"]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory):
    server = MotoServer(tmp_path_factory.mktemp("moto")).start(SOURCE_AMIS, security_groups=SECURITY_GROUPS)
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto server (state reset, source AMIs re-seeded), with the environment pointing at it."""
    request = urllib.request.Request(f"{moto_server.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    return moto_server.endpoint_url


@pytest.fixture
def ec2(aws: str):
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=aws)


@pytest.fixture
def ops_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ops repository as the working directory, holding the example nodes.json."""
    example = Path(__file__).resolve().parents[2] / "nodes.json"
    (tmp_path / "nodes.json").write_text(example.read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def owner_of(repo: Path) -> str:
    """The project that owns what infra makes from `repo` (its infra:owner tag)."""
    from infra.config import load_config

    return load_config(repo / "nodes.json").owner
