"""The commands the fake knows, with the flags (long names and short aliases) of CLI v2 2.146.3.

Everything else is "command not found" (exit 2), including `alias set` and `config set`: the sidecar must never
change the CLI's aliases or config, so the fake refuses them loudly.
"""

from __future__ import annotations

from collections.abc import Sequence

from .context import Command
from .flags import Flag

TARGET_ORG = Flag("target-org", "o", aliases=("targetusername",))
API_VERSION = Flag("api-version")

COMMANDS: tuple[Command, ...] = (
    Command(
        ("org", "list"),
        "OrgListCommand",
        (
            Flag("all", kind="bool"),
            Flag("clean", kind="bool"),
            Flag("no-prompt", "p", kind="bool"),
            Flag("skip-connection-status", kind="bool"),
            Flag("verbose", kind="bool"),
        ),
        "cmd_org_list:org_list",
        target=None,
    ),
    Command(
        ("org", "list", "limits"), "LimitsApiDisplayCommand", (TARGET_ORG, API_VERSION), "cmd_org_list:org_list_limits"
    ),
    Command(
        ("org", "create", "scratch"),
        "OrgCreateScratch",
        (
            Flag("alias", "a"),
            Flag("set-default", "d", kind="bool"),
            Flag("definition-file", "f", exists="file"),
            Flag("target-dev-hub", "v"),
            Flag("no-ancestors", "c", kind="bool"),
            Flag(
                "edition",
                "e",
                options=(
                    "developer",
                    "enterprise",
                    "group",
                    "professional",
                    "partner-developer",
                    "partner-enterprise",
                    "partner-group",
                    "partner-professional",
                ),
            ),
            Flag("no-namespace", "m", kind="bool"),
            Flag("duration-days", "y", kind="int", minimum=1, maximum=30, default=7),
            Flag("wait", "w", kind="int", minimum=2, default=5),
            Flag("api-version"),
            Flag("client-id", "i"),
            Flag("track-source", "t", kind="bool", allow_no=True),
            Flag("username"),
            Flag("description"),
            Flag("name"),
            Flag("release", options=("preview", "previous")),
            Flag("admin-email"),
        ),
        "cmd_org_create:org_create_scratch",
        target=None,
        scenarios=frozenset({"limit", "daily-limit", "signup-failed", "no-devhub"}),
    ),
    Command(
        ("org", "delete", "scratch"),
        "DeleteScratch",
        (TARGET_ORG, Flag("no-prompt", "p", kind="bool")),
        "cmd_org_delete:org_delete_scratch",
        target="late",
        allow_inactive_target=True,
    ),
    Command(
        ("data", "query"),
        "DataSoqlQueryCommand",
        (
            TARGET_ORG,
            Flag("query", "q"),
            Flag("file", "f"),
            Flag("use-tooling-api", "t", kind="bool"),
            Flag("all-rows", kind="bool"),
            Flag("result-format", "r", options=("human", "json", "csv")),
            API_VERSION,
        ),
        "cmd_data_query:data_query",
        target=None,
    ),
    Command(
        ("org", "logout"),
        "Logout",
        (TARGET_ORG, Flag("all", "a", kind="bool"), Flag("no-prompt", "p", kind="bool")),
        "cmd_org_logout:org_logout",
        target="optional",
        allow_inactive_target=True,
    ),
    Command(
        ("project", "deploy", "start"),
        "DeployMetadata",
        (
            TARGET_ORG,
            Flag("source-dir", "d", multiple=True),
            Flag("wait", "w", kind="int", minimum=1, default=33),
            Flag("async", kind="bool"),
            Flag("test-level", "l", options=("NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg")),
            Flag("tests", "t", multiple=True),
            Flag("dry-run", kind="bool"),
            Flag("ignore-conflicts", "c", kind="bool"),
            Flag("ignore-errors", "r", kind="bool"),
            Flag("ignore-warnings", "g", kind="bool"),
            Flag("concise", kind="bool"),
            Flag("verbose", kind="bool"),
            API_VERSION,
        ),
        "cmd_deploy:project_deploy_start",
        scenarios=frozenset({"fail-array", "fail-object", "fail-files", "partial"}),
        own_generic=frozenset({"hang", "garbage"}),
    ),
    Command(
        ("project", "deploy", "report"),
        "DeployMetadataReport",
        (
            TARGET_ORG,
            Flag("job-id", "i"),
            Flag("use-most-recent", "r", kind="bool"),
            Flag("wait", "w", kind="int", minimum=1),
            API_VERSION,
        ),
        "cmd_deploy:project_deploy_report",
        target="optional",
    ),
    Command(
        ("data", "import", "tree"),
        "Import",
        (TARGET_ORG, Flag("plan", "p", exists="file"), Flag("files", "f", multiple=True, exists="file"), API_VERSION),
        "cmd_data:data_import_tree",
        scenarios=frozenset({"fail"}),
    ),
    Command(
        ("org", "create", "user"),
        "CreateUserCommand",
        (
            TARGET_ORG,
            Flag("set-alias", "a"),
            Flag("definition-file", "f", exists="file"),
            Flag("set-unique-username", "s", kind="bool"),
            API_VERSION,
        ),
        "cmd_user:org_create_user",
        scenarios=frozenset({"duplicate-username", "partial", "license-limit"}),
        varargs=True,
    ),
    Command(
        ("org", "assign", "permset"),
        "AssignPermSetCommand",
        (
            TARGET_ORG,
            Flag("name", "n", multiple=True, required=True),
            Flag("on-behalf-of", "b", multiple=True),
            API_VERSION,
        ),
        "cmd_user:org_assign_permset",
    ),
    Command(
        ("org", "open"),
        "OrgOpenCommand",
        (
            TARGET_ORG,
            Flag("url-only", "r", kind="bool"),
            Flag("path", "p"),
            Flag("browser", "b"),
            Flag("private", kind="bool"),
            Flag("source-file", "f"),
            API_VERSION,
        ),
        "cmd_org_open:org_open",
    ),
)

_BY_WORDS = {command.words: command for command in COMMANDS}

GENERIC_SCENARIOS = frozenset({"hang", "garbage", "empty-stdout", "error"})


def match(argv: Sequence[str]) -> tuple[Command | None, list[str], list[str]]:
    """Split argv into (command, its remaining tokens, the command words typed) by the longest known prefix."""
    words: list[str] = []
    for token in argv:
        if token.startswith("-"):
            break
        words.append(token)
    for length in range(len(words), 0, -1):
        command = _BY_WORDS.get(tuple(words[:length]))
        if command is not None:
            return command, list(argv[length:]), words[:length]
    return None, [], words
