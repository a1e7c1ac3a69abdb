"""compose.yaml and deploy/ as an operator runs them: the default profile is one polling
bot, the scale profile webhook replicas behind Caddy with Redis, Prometheus and Grafana.

`docker compose config` checks the file where the compose plugin is installed; without
it, the file is checked against the compose-spec JSON schema (tests/vendor/compose-spec)
and compose's profile and interpolation rules are applied here. promtool (Debian's
`prometheus` package) and caddy check their configurations where they are installed
(scripts/test installs both when it runs as root)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "compose.yaml"
SCHEMA = ROOT / "tests" / "vendor" / "compose-spec" / "compose-spec.json"
SCALE = {
    "COMPOSE_PROFILES": "scale",
    "BOT_REPLICAS": "3",
    "WEBHOOK_URL": "https://bot.example.com/telegram/hook",
}
# ${VAR}, ${VAR:-default}, ${VAR-default}, and $$ for a literal $ (what compose.yaml uses).
VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?-)([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of the variables compose.yaml uses."""

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, default = match.groups()
        if operator == ":-" and not env.get(name):
            return str(default)
        if operator == "-" and name not in env:
            return str(default)
        return env.get(name, "")

    return VARIABLE.sub(value, text)


def enabled(env: dict[str, str]) -> dict[str, Any]:
    """The services compose starts with `env` (its .env): those without profiles and
    those of a profile COMPOSE_PROFILES names."""
    model = yaml.safe_load(interpolate(COMPOSE.read_text(), env))
    active = set(filter(None, env.get("COMPOSE_PROFILES", "").split(",")))
    return {
        name: service
        for name, service in model["services"].items()
        if not service.get("profiles") or active & set(service["profiles"])
    }


def test_compose_file_follows_the_compose_spec() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    compose = yaml.safe_load(COMPOSE.read_text())
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors
    # The schema does catch a wrong file: a misspelt key, a replica count as a list.
    compose["services"]["bot"]["replica"] = 2
    compose["services"]["redis"]["deploy"] = {"replicas": [2]}
    assert len(list(validator.iter_errors(compose))) == 2


def test_default_profile_runs_one_polling_bot() -> None:
    services = enabled({})
    assert set(services) == {"bot"}
    bot = services["bot"]
    assert int(bot["deploy"]["replicas"]) == 1
    assert "WEBHOOK_URL" not in bot.get("environment", {}), "polling unless .env says otherwise"
    # Redis is not started here: the bot must not need it.
    assert bot["depends_on"]["redis"]["required"] is False
    env_file = bot["env_file"]
    assert env_file == [{"path": ".env", "required": False}]
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_scale_profile_runs_replicas_behind_caddy_with_redis_prometheus_and_grafana() -> None:
    services = enabled(SCALE)
    assert set(services) == {"bot", "redis", "caddy", "prometheus", "grafana"}
    assert int(services["bot"]["deploy"]["replicas"]) == 3
    assert services["caddy"]["environment"]["BOT_REPLICAS"] == "3"
    assert services["caddy"]["environment"]["WEBHOOK_URL"] == SCALE["WEBHOOK_URL"]
    assert "443:443" in services["caddy"]["ports"]
    # Prometheus and Grafana are reached from the host only.
    for name in ("prometheus", "grafana"):
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"])


@pytest.mark.parametrize("env", [{}, SCALE], ids=["default", "scale"])
def test_every_dependency_runs_and_every_mounted_file_exists(env: dict[str, str]) -> None:
    model = yaml.safe_load(interpolate(COMPOSE.read_text(), env))
    services = enabled(env)
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            depends_on = {name: {} for name in depends_on}
        for dependency, condition in depends_on.items():
            needed = condition.get("required", True)
            assert dependency in model["services"], f"{name} needs an unknown {dependency}"
            assert dependency in services or not needed, f"{name} needs {dependency}, not run"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts a missing {source}"
            else:
                assert source in model["volumes"], f"{name} mounts an undeclared {source}"


def test_docker_compose_config_accepts_both_profiles() -> None:
    docker = shutil.which("docker")
    probe = (
        subprocess.run([docker or "docker", "compose", "version"], capture_output=True, check=False)
        if docker
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip(
            "no docker compose here: compose.yaml was checked against the compose-spec schema"
        )
    for env in ({}, SCALE):
        subprocess.run(
            [docker or "docker", "compose", "config", "--quiet"],
            cwd=ROOT,
            env=os.environ | env,
            check=True,
        )


def _start_caddy(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """deploy/caddy/start.sh with a `caddy` that prints what it was given."""
    fake = tmp_path / "caddy"
    fake.write_text('#!/bin/sh\necho "$WEBHOOK_SITE|$WEBHOOK_PATH|$BOT_UPSTREAMS|$*"\n')
    fake.chmod(0o755)
    return subprocess.run(
        [shutil.which("sh") or "/bin/sh", str(DEPLOY / "caddy" / "start.sh")],
        env={"PATH": f"{tmp_path}:{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_caddy_takes_its_site_path_and_replicas_from_the_settings(tmp_path: Path) -> None:
    run = _start_caddy(tmp_path, {"WEBHOOK_URL": SCALE["WEBHOOK_URL"], "BOT_REPLICAS": "3"})
    assert run.returncode == 0, run.stderr
    site, path, upstreams, args = run.stdout.strip().split("|")
    assert (site, path) == ("https://bot.example.com", "/telegram/hook")
    assert upstreams.split() == [f"segment-bot-bot-{i}:8080" for i in (1, 2, 3)]
    assert args == "run --config /etc/caddy/Caddyfile --adapter caddyfile"
    # The replicas' names follow compose's project name.
    assert yaml.safe_load(COMPOSE.read_text())["name"] == "segment-bot"


@pytest.mark.parametrize("url", ["", "http://bot.example.com/hook", "https://bot.example.com"])
def test_caddy_refuses_a_webhook_url_it_cannot_serve(tmp_path: Path, url: str) -> None:
    run = _start_caddy(tmp_path, {"WEBHOOK_URL": url, "BOT_REPLICAS": "2"})
    assert run.returncode == 2
    assert run.stderr.startswith("caddy: WEBHOOK_URL must be https://HOST/PATH")
    assert not run.stdout


def test_caddyfile_proxies_only_the_webhook_with_health_checks_on_healthz() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip(
            "caddy is not installed (scripts/test installs it as root): Caddyfile unchecked"
        )
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(DEPLOY / "caddy" / "Caddyfile"), "--adapter", "caddyfile"],
        env=os.environ
        | {
            "WEBHOOK_SITE": "https://bot.example.com",
            "WEBHOOK_PATH": "/telegram/hook",
            "BOT_UPSTREAMS": " segment-bot-bot-1:8080 segment-bot-bot-2:8080",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    text = adapted.stdout
    config = json.loads(text)
    [server] = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]
    proxies = re.findall(r'\{"handler":"reverse_proxy".*?"upstreams":\[[^\]]*\]\}', text)
    [proxy] = [json.loads(p) for p in proxies]
    assert [u["dial"] for u in proxy["upstreams"]] == [
        "segment-bot-bot-1:8080",
        "segment-bot-bot-2:8080",
    ]
    assert proxy["health_checks"]["active"]["uri"] == "/healthz"
    assert '"path":["/telegram/hook"]' in text


def _promtool(*args: str) -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool is not installed (Debian's prometheus package; scripts/test "
            "installs it as root): rules only linted here"
        )
    run = subprocess.run([promtool, *args], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_promtool_accepts_the_config_and_rules() -> None:
    assert "SUCCESS" in _promtool("check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    assert "SUCCESS" in _promtool("check", "rules", str(DEPLOY / "prometheus" / "alerts.yml"))


def test_every_alert_has_a_severity_a_summary_and_a_paragraph_in_the_deploy_readme() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    readme = (DEPLOY / "README.md").read_text()
    [group] = rules["groups"]
    names = [rule["alert"] for rule in group["rules"]]
    assert len(names) == len(set(names)) >= 10
    for rule in group["rules"]:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert f"`{rule['alert']}`" in readme, f"deploy/README.md does not explain {rule['alert']}"


def test_scrape_config_finds_every_replica_and_loads_the_rules() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    [job] = config["scrape_configs"]
    [sd] = job["dns_sd_configs"]
    assert (sd["names"], sd["type"], sd["port"]) == (["bot"], "A", 8080)


def test_grafana_provisions_prometheus_and_the_dashboard() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "segment-bot.yml").read_text())[
        "providers"
    ]
    grafana = enabled(SCALE)["grafana"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "segment-bot.json").read_text())
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
