"""The OpenAPI document equals the server's behaviour: schemathesis, with all its checks, against a real
server, with auth off and with auth (and admin actions) on; with auth on, every operation but the
health checks answers 401 without the token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import Server

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
TOKEN = "contract-s3cret"
# The request body cap (413) is a limit JSON Schema cannot state; it is set here above the largest body
# the schema allows (16 texts x 100,000 characters, each up to 12 bytes as a JSON escape pair), so that
# every schema-valid request must be answered. Its own refusal is tested in test_serving.py.
LIMITS = ("--max-texts-per-request", "16", "--max-request-bytes", str(24 << 20))
OPEN = {"/healthz", "/readyz"}


# 40 generated cases an operation. A reload re-reads and warms the bundle (a few tenths of a second:
# most of the run at 40 cases) and its body has one optional field, so ten cases cover it.
CONFIG = "generation.max-examples = 40\n"
RELOAD_CONFIG = '[[operations]]\ninclude-path = "/admin/reload"\ngeneration.max-examples = 10\n'


def _schemathesis(url: str, config: Path, *args: str) -> str:
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--seed",
            "7",
            "--request-timeout",
            "30",
            "--no-color",
            "--generation-database",
            "none",  # the same cases on every run, whatever an earlier run found
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = run.stdout[-3000:]
    assert run.returncode == 0, f"schemathesis found contract failures:\n{run.stdout[-12000:]}"
    assert "No issues found" in summary and " passed" in summary, summary
    return summary


def test_schema_holds_with_auth_off(bundle: Path, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    with Server(bundle, *LIMITS) as s:
        summary = _schemathesis(s.url, config)
        print(summary[-600:])
        spec = httpx.get(f"{s.url}/openapi.json").json()
        assert "securitySchemes" not in spec.get("components", {})
        assert spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"].keys() == {"text/plain"}


def test_schema_holds_with_auth_on_and_every_operation_needs_the_token(bundle: Path, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG + RELOAD_CONFIG, encoding="utf-8")
    env = {"HUMANLIKE_AUTH_TOKEN": TOKEN, "HUMANLIKE_ADMIN": "true"}
    with Server(bundle, *LIMITS, env=env) as s:
        summary = _schemathesis(s.url, config, "--header", f"Authorization: Bearer {TOKEN}")
        print(summary[-600:])
        spec = httpx.get(f"{s.url}/openapi.json").json()
        assert "HTTPBearer" in spec["components"]["securitySchemes"]
        operations = [(path, method) for path, item in spec["paths"].items() for method in item]
        assert ("/admin/reload", "post") in operations and ("/metrics", "get") in operations
        for path, method in operations:
            answer = httpx.request(method.upper(), f"{s.url}{path}", json={"texts": ["t"]})
            if path in OPEN:
                assert answer.status_code == 200, path
            else:
                assert answer.status_code == 401, (path, answer.status_code)
                assert answer.headers["www-authenticate"] == "Bearer"
