"""Production settings come from the environment and pass Django's deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update(env_extra)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_without_warning_in_production():
    result = _run(
        {"SECRET_KEY": "x" * 20 + "-a-real-production-secret-key-0123456789", "ALLOWED_HOSTS": "openrounds.example.org"},
        "check", "--deploy", "--fail-level", "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_without_secret_key_refuses_to_start():
    result = _run({"SECRET_KEY": ""}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_seed_refuses_to_run_with_debug_off(tmp_path):
    result = _run({"SECRET_KEY": "y" * 60, "ALLOWED_HOSTS": "x.example", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}, "seed_demo")
    assert result.returncode != 0
    assert "only runs with DEBUG on" in result.stderr
