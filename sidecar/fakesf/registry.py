"""The commands the fake implements, by the canonical command id of the real CLI (2.146.3).

Which flags exist and how they are spelled comes from the real CLI's grammar (sidecar/sf/grammar.json); each entry
here adds only what the manifests cannot say (integer bounds, files that must exist, defaults) and the handler. A
real command the fake does not implement is a loud fake failure, and a command the real CLI does not have exits 127
like the real one.
"""

from __future__ import annotations

from .context import Command
from .values import Value

DAYS = Value("int", minimum=1, maximum=30, default=7)

COMMANDS: tuple[Command, ...] = (
    Command("org:list", "OrgListCommand", {}, "cmd_org_list:org_list", target=None),
    Command("org:list:limits", "LimitsApiDisplayCommand", {}, "cmd_org_list:org_list_limits"),
    Command(
        "org:create:scratch",
        "OrgCreateScratch",
        {"definition-file": Value("file"), "duration-days": DAYS, "wait": Value("int", minimum=2, default=5)},
        "cmd_org_create:org_create_scratch",
        target=None,
        scenarios=frozenset({"limit", "daily-limit", "signup-failed", "no-devhub"}),
    ),
    Command(
        "org:delete:scratch",
        "DeleteScratch",
        {},
        "cmd_org_delete:org_delete_scratch",
        target="late",
        allow_inactive_target=True,
    ),
    Command(
        "data:query",
        "DataSoqlQueryCommand",
        {},
        "cmd_data_query:data_query",
        target=None,
    ),
    Command(
        "org:logout",
        "Logout",
        {},
        "cmd_org_logout:org_logout",
        target="optional",
        allow_inactive_target=True,
    ),
    Command(
        "project:deploy:start",
        "DeployMetadata",
        {"wait": Value("int", minimum=1, default=33)},
        "cmd_deploy:project_deploy_start",
        scenarios=frozenset({"fail-array", "fail-object", "fail-files", "partial"}),
        own_generic=frozenset({"hang", "garbage"}),
    ),
    Command(
        "project:deploy:report",
        "DeployMetadataReport",
        {"wait": Value("int", minimum=1)},
        "cmd_deploy:project_deploy_report",
        target="optional",
    ),
    Command(
        "data:import:tree",
        "Import",
        {"plan": Value("file"), "files": Value("file")},
        "cmd_data:data_import_tree",
        scenarios=frozenset({"fail"}),
    ),
    Command(
        "org:create:user",
        "CreateUserCommand",
        {"definition-file": Value("file")},
        "cmd_user:org_create_user",
        scenarios=frozenset({"duplicate-username", "partial", "license-limit"}),
    ),
    Command("org:assign:permset", "AssignPermSetCommand", {}, "cmd_user:org_assign_permset"),
    Command("org:open", "OrgOpenCommand", {}, "cmd_org_open:org_open"),
)

BY_ID = {command.command_id: command for command in COMMANDS}

GENERIC_SCENARIOS = frozenset({"hang", "garbage", "empty-stdout", "error"})
