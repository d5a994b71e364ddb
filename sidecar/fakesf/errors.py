"""The errors the fake CLI raises, named and coded like the real CLI's.

Callers of the real CLI must decide on `name` and `code`, never on message text, so every factory here fixes both
the way `@salesforce/sf-plugins-core` derives them: an `SfError` has `code == name`; an oclif flag-parsing error
is a plain `Error` whose code is its exit code as a string ("2").
"""

from __future__ import annotations

from typing import Any

HELP_HINT = "See more help with --help"

# The actions the real CLI prints for an org whose domain no longer resolves (see deploy_human_stderr.txt).
DOMAIN_NOT_FOUND_ACTIONS = [
    "Verify that the org still exists,",
    "If your org is newly created, wait a minute and run your command again,",
    "If you deployed or updated the org's My Domain, logout from the CLI and authenticate again,",
    (
        "If you are running in a CI environment with a DNS that blocks external IPs, try setting "
        "SFDX_DISABLE_DNS_CHECK=true"
    ),
]


class FakeSfError(Exception):
    """An error the CLI reports as an error envelope (`--json`) or as `Error (name): message` on stderr."""

    def __init__(
        self,
        name: str,
        message: str,
        exit_code: int = 1,
        *,
        code: str | None = None,
        actions: list[str] | None = None,
        data: Any = None,
        cause: str | None = None,
        stack_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.exit_code = exit_code
        self.code = code if code is not None else name
        self.actions = actions
        self.data = data
        self.cause = cause
        self.stack_name = stack_name or name


class StateFileError(Exception):
    """The state file cannot be read: a broken test set-up, reported loudly instead of faked."""


def _oclif_cause(message: str, frame: str) -> str:
    """The `cause` text the real CLI prints for an oclif parse error (see import.json)."""
    return (
        f"Error: {message}\n    at {frame}\n"
        "    at async parseFlagOrThrowError (<sf-install>/node_modules/@oclif/core/lib/parser/parse.js:335:24)\n"
        "    at async Parser._flags (<sf-install>/node_modules/@oclif/core/lib/parser/parse.js:468:33)\n"
        "    at async Parser.parse (<sf-install>/node_modules/@oclif/core/lib/parser/parse.js:186:55)\n"
        " {\n  oclif: { exit: 2 }\n}"
    )


def flag_value_error(flag: str, detail: str) -> FakeSfError:
    """A flag whose value is invalid (`Parsing --plan \\n\\tNo file found at X`), exit 2 like oclif."""
    message = f"Parsing --{flag} \n\t{detail}\n{HELP_HINT}"
    frame = "fileExists (<sf-install>/node_modules/@oclif/core/lib/util/fs.js:42:15)"
    return FakeSfError("Error", message, 2, code="2", cause=_oclif_cause(message, frame))


def parse_error(message: str) -> FakeSfError:
    """A line the CLI's parser refused (unknown flag, missing value, stray argument, exclusive flags), exit 2 like
    oclif; `message` is the parser's whole text, hint included (sidecar.sf.grammar)."""
    frame = "validate (<sf-install>/node_modules/@oclif/core/lib/parser/validate.js:10:19)"
    return FakeSfError("Error", message, 2, code="2", cause=_oclif_cause(message, frame))


def failed_validation(problems: list[str]) -> FakeSfError:
    """oclif's aggregated validation failure (a relation only the command class checks), exit 2."""
    lines = "\n  ".join(problems)
    return parse_error(f"The following error{'s' if len(problems) > 1 else ''} occurred:\n  {lines}\n{HELP_HINT}")


def named_org_not_found(ident: str, flag: str | None = "target-org") -> FakeSfError:
    """An alias or username with no local authorization.

    Commands that resolve the org while parsing flags report it as a flag error (exit 2, "Parsing --target-org");
    `org delete scratch` resolves it later and reports exit 1 with the bare message (see delete.json).
    """
    base = f"No authorization information found for {ident}."
    if flag is None:
        return FakeSfError("NamedOrgNotFoundError", base, 1)
    return FakeSfError("NamedOrgNotFoundError", f"Parsing --{flag} \n\t{base}\n{HELP_HINT}", 2)


def domain_not_found(flag: str = "target-org") -> FakeSfError:
    """An authorized org that is expired or deleted: its domain no longer resolves (deploy_human_stderr.txt)."""
    message = f"Parsing --{flag} \n\tThe org cannot be found\n{HELP_HINT}"
    return FakeSfError("DomainNotFoundError", message, 2, actions=list(DOMAIN_NOT_FOUND_ACTIONS))


def no_default_env() -> FakeSfError:
    """No --target-org and no default org configured."""
    return FakeSfError(
        "NoDefaultEnvError", "No default environment found. Use -o or --target-org to specify an environment.", 2
    )


def no_default_dev_hub() -> FakeSfError:
    """No Dev Hub authorized (create_scratch.json)."""
    return FakeSfError(
        "NoDefaultDevHubError", "No default dev hub found. Use -v or --target-dev-hub to specify an environment.", 1
    )
