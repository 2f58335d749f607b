from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.server import Server, running_server, server_env, smartpay


@dataclass
class LiveServer:
    server: Server
    env: dict[str, str]
    secret_key: str
    publishable_key: str


def create_merchant_with_cli(env: dict[str, str], name: str) -> tuple[str, str]:
    result = smartpay(env, "merchants", "create", name)
    assert result.returncode == 0, result.stderr
    secret = re.search(r"sk_test_\w+", result.stdout)
    publishable = re.search(r"pk_test_\w+", result.stdout)
    assert secret and publishable, result.stdout
    return secret.group(0), publishable.group(0)


@pytest.fixture
def live_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = server_env(tmp_path / "data", database_url)
    migrated = smartpay(env, "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    return env


@pytest.fixture
def live_server(tmp_path: Path, live_env: dict[str, str]) -> Iterator[LiveServer]:
    secret, publishable = create_merchant_with_cli(live_env, "E2E merchant")
    with running_server(live_env, tmp_path / "server.log") as server:
        yield LiveServer(server, live_env, secret, publishable)
