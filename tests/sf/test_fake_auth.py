"""The fake `sf` as two machines on one host (one state file each, one auth store each): an org created with
machine A's CLI is unknown to machine B's until B logs in with the org's auth URL; the envelopes and exit codes are
the real commands'. Also: the two command lines the sidecar runs for the hand-over pass the real CLI's grammar."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from sidecar.fakesf import executable_path
from sidecar.pool.handover import LOGIN_ARGS, SHOW_ARGS
from sidecar.sf import grammar
from tests.support.fakesf import scratch_org
from tests.support.provisioning import HUB, make_worktree


def sf(state: Path, *args: str, stdin: str = "") -> tuple[int, Any, str]:
    """(exit code, parsed stdout when it is JSON else the text, stderr) of one fake invocation."""
    done = subprocess.run(
        [str(executable_path()), *args],
        env={"SF_FAKE_STATE": str(state), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )
    try:
        out: Any = json.loads(done.stdout)
    except ValueError:
        out = done.stdout
    return done.returncode, out, done.stderr


def machine(tmp_path: Path, name: str, orgs: list[dict[str, Any]]) -> Path:
    state = tmp_path / f"{name}.json"
    state.write_text(json.dumps({"devHub": HUB, "noise": False, "orgs": orgs}))
    return state


def url_file(tmp_path: Path, url: str, name: str = "auth-url") -> Path:
    path = tmp_path / name
    path.write_text(url)
    return path


def test_an_org_created_on_a_is_unknown_to_b_until_b_logs_in_with_its_url(tmp_path: Path) -> None:
    a, b = machine(tmp_path, "a", []), machine(tmp_path, "b", [])
    worktree = make_worktree(tmp_path / "wt")
    definition = str(worktree / "config" / "project-scratch-def.json")
    code, created, _ = sf(a, "org", "create", "scratch", "--definition-file", definition, "--alias", "qa1", "--json")
    assert code == 0, created
    code, refused, _ = sf(b, "org", "open", "--target-org", "qa1", "--url-only", "--json")
    assert code == 2 and refused["name"] == "NamedOrgNotFoundError"
    code, shown, _ = sf(a, "org", "auth", "show-sfdx-auth-url", "--target-org", "qa1", "--no-prompt", "--json")
    assert (
        code == 0
        and set(shown) == {"status", "result", "warnings"}
        and "sensitive SFDX Auth URL" in shown["warnings"][0]
    )
    url = shown["result"]["sfdxAuthUrl"]
    host = created["result"]["authFields"]["instanceUrl"].split("://")[1]
    assert url.startswith("force://PlatformCLI::5Aep861") and url.endswith("@" + host)
    assert (
        sf(a, "org", "auth", "show-sfdx-auth-url", "--target-org", "qa1", "--json")[1]["result"]["sfdxAuthUrl"] == url
    )
    code, login, _ = sf(
        b, "org", "login", "sfdx-url", "--sfdx-url-file", str(url_file(tmp_path, url)), "--alias", "qa1", "--json"
    )
    assert code == 0 and login["status"] == 0, login
    result = login["result"]
    assert result["username"] == created["result"]["username"] and result["orgId"] == created["result"]["orgId"]
    assert result["clientSecret"] == "" and result["accessToken"].startswith(result["orgId"][:15] + "!")
    assert result["refreshToken"] == url.split("::", 1)[1].rsplit("@", 1)[0]
    code, opened, _ = sf(b, "org", "open", "--target-org", "qa1", "--url-only", "--json")
    assert code == 0 and opened["result"]["orgId"] == result["orgId"]
    listed = sf(b, "org", "list", "--json")[1]["result"]["scratchOrgs"]
    assert [(o["alias"], o["username"]) for o in listed] == [("qa1", result["username"])]
    # B's CLI now shows the same URL: the org's secret travelled with it.
    assert (
        sf(b, "org", "auth", "show-sfdx-auth-url", "--target-org", "qa1", "--json")[1]["result"]["sfdxAuthUrl"] == url
    )


def test_the_login_moves_the_alias_and_reads_a_json_file(tmp_path: Path) -> None:
    a = machine(tmp_path, "a", [scratch_org("qa1")])
    b = machine(tmp_path, "b", [{**scratch_org("other"), "alias": "qa1"}])
    document = sf(a, "org", "auth", "show-sfdx-auth-url", "--target-org", "qa1", "--json")[1]
    path = url_file(tmp_path, json.dumps(document), "auth.json")
    code, login, _ = sf(b, "org", "login", "sfdx-url", "--sfdx-url-file", str(path), "--alias", "qa1", "--json")
    assert code == 0, login
    orgs = json.loads(b.read_text())["orgs"]
    assert [o.get("alias") for o in orgs] == [None, "qa1"] and orgs[1]["username"] == "test-qa1@example.com"


def test_refusals_are_the_real_ones(tmp_path: Path) -> None:
    b = machine(tmp_path, "b", [])
    code, bad, _ = sf(b, "org", "login", "sfdx-url", "--sfdx-url-file", str(url_file(tmp_path, "https://x")), "--json")
    assert code == 1 and bad["name"] == "INVALID_SFDX_AUTH_URL" and "force://<clientId>" in bad["message"]
    forged = url_file(tmp_path, "force://PlatformCLI::made-up-token@x.my.salesforce.com", "forged")
    code, refused, _ = sf(b, "org", "login", "sfdx-url", "--sfdx-url-file", str(forged), "--json")
    assert code == 1 and refused["name"] == "invalid_grant"
    code, missing, _ = sf(b, "org", "login", "sfdx-url", "--sfdx-url-file", str(tmp_path / "none"), "--json")
    assert code == 2 and "No file found at" in missing["message"]
    code, neither, _ = sf(b, "org", "login", "sfdx-url", "--json")
    assert code == 1 and "--sfdx-url-file" in neither["message"]
    code, unknown, _ = sf(b, "org", "auth", "show-sfdx-auth-url", "--target-org", "qa9", "--json")
    assert code == 2 and unknown["name"] == "NamedOrgNotFoundError"
    code, hub, _ = sf(b, "org", "auth", "show-sfdx-auth-url", "--target-org", HUB, "--json")
    assert code == 1 and hub["name"] == "NoRefreshTokenError"
    assert json.loads(b.read_text())["orgs"] == []  # nothing was authorized by any of them


def test_without_json_or_no_prompt_the_url_is_not_shown_unconfirmed(tmp_path: Path) -> None:
    a = machine(tmp_path, "a", [scratch_org("qa1")])
    code, _, err = sf(a, "org", "auth", "show-sfdx-auth-url", "--target-org", "qa1")
    assert code == 1 and "confirmation denied" in err
    code, out, _ = sf(a, "org", "auth", "show-sfdx-auth-url", "--target-org", "qa1", stdin="y\n")
    assert code == 0 and "SFDX Auth URL" in out and "force://" in out


def test_the_sidecars_hand_over_lines_pass_the_real_grammar() -> None:
    show = grammar.parse([*SHOW_ARGS, "--target-org", "qa1", "--no-prompt", "--json"])
    assert show.ok and show.command_id == "org:auth:show-sfdx-auth-url"
    assert show.flags == {"target-org": "qa1", "no-prompt": True, "json": True}
    login = grammar.parse([*LOGIN_ARGS, "--sfdx-url-file", "/h/handover/login-x/auth-url", "--alias", "qa1", "--json"])
    assert login.ok and login.command_id == "org:login:sfdx-url"
    assert login.flags == {"sfdx-url-file": "/h/handover/login-x/auth-url", "alias": "qa1", "json": True}
