"""Secrets out of everything a person or a file sees: session ids, one-time tokens, access tokens, auth URLs.

The CLI prints credentials in several places (a frontdoor URL carries `otp=` or `sid=`, `org display --verbose` an
access token `00D...!...` and a `force://` auth URL, `org create scratch --json` an `accessToken` and an
`AuthCode`). Everything streamed to the terminal pane, written to the log or stored goes through `mask`.
Streams are masked a whole line at a time (`LineMasker`), so a token split across two chunks is still caught.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "****"
# A parsed document's keys (lower-cased) whose values are credentials whatever they look like.
_SECRET_KEYS = frozenset({"accesstoken", "refreshtoken", "authcode", "password", "clientsecret", "sfdxauthurl"})

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # A frontdoor URL's whole query string is a credential, whatever its parameter is called.
    (re.compile(r"(frontdoor\.jsp\?)[^\s\"'<>]*"), r"\1" + MASK),
    (re.compile(r"(?i)\b(sid|otp|access_token|refresh_token|oauth_token|session_id)=[^&\s\"'<>]+"), r"\1=" + MASK),
    # An access token / session id: the 15- or 18-character org id, '!', then the secret part.
    (re.compile(r"\b(00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)![A-Za-z0-9._\-]+"), r"\1!" + MASK),
    (re.compile(r"force://[^\s\"'<>]+"), "force://" + MASK),
    (re.compile(r"(?i)\b(Bearer)\s+[A-Za-z0-9._!\-]{8,}"), r"\1 " + MASK),
    (
        re.compile(
            r"(?i)(\"(?:accessToken|refreshToken|authCode|password|clientSecret|sfdxAuthUrl|access_token|sid)\"\s*:\s*\")"
            r"[^\"]*(\")"
        ),
        r"\1" + MASK + r"\2",
    ),
    # Human tables (`org display`, `org display user`): "Access Token  <value>", "Password  <value>".
    (re.compile(r"(?im)^([\s│|]*(?:Access Token|Password|Sfdx Auth Url)[\s│|]+)\S+"), r"\1" + MASK),
]


def mask(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_value(value: Any) -> Any:
    """Mask every string inside a parsed JSON document (keys kept), e.g. `sf:run`'s `result`."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if isinstance(value, dict):
        masked = {k: mask_value(v) for k, v in value.items()}
        for key in list(masked):
            if key.lower() in _SECRET_KEYS and masked[key] is not None:
                masked[key] = MASK
        return masked
    return value


class LineMasker:
    """Masks a stream a line at a time: an unfinished line waits for its end (or `flush`) before it is shown.

    A line longer than MAX_PENDING is masked and let through as it is, so memory stays bounded.
    """

    MAX_PENDING = 8192

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> str:
        text = self._pending + text
        cut = max(text.rfind("\n"), text.rfind("\r")) + 1
        if cut == 0 and len(text) < self.MAX_PENDING:
            self._pending = text
            return ""
        if cut == 0:
            cut = len(text)
        self._pending = text[cut:]
        return mask(text[:cut])

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return mask(text)
