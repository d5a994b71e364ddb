"""Secrets out of everything a person or a file sees: session ids, one-time tokens, access tokens, auth URLs.

The CLI prints credentials in several places (a frontdoor URL carries `otp=` or `sid=`, `org display --verbose` an
access token `00D...!...` and a `force://` auth URL, `org create scratch --json` an `accessToken` and an
`AuthCode`). Everything streamed to the terminal pane, written to the log or stored goes through `mask`.
Streams are masked a whole line at a time (`LineMasker`), so a token split across two chunks is still caught; a
line too long to hold whole is cut only where no secret (complete or still arriving) spans the cut.
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


# The same shapes, open-ended: each matches a secret's prefix and whatever of its value has arrived so far, and
# names the characters its value continues with. `LineMasker` never cuts a long line inside one of these spans.
_OPEN: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (re.compile(pattern), re.compile(value + "*"))
    for pattern, value in (
        (r"frontdoor\.jsp\?[^\s\"'<>]*", r"[^\s\"'<>]"),
        (r"(?i)\b(?:sid|otp|access_token|refresh_token|oauth_token|session_id)=[^&\s\"'<>]*", r"[^&\s\"'<>]"),
        (r"\b00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?![A-Za-z0-9._\-]*", r"[A-Za-z0-9._\-]"),
        (r"force://[^\s\"'<>]*", r"[^\s\"'<>]"),
        (r"(?i)\bBearer\s+[A-Za-z0-9._!\-]*", r"[A-Za-z0-9._!\-]"),
        (
            r"(?i)\"(?:accessToken|refreshToken|authCode|password|clientSecret|sfdxAuthUrl|access_token|sid)\"\s*:\s*\"[^\"]*",
            r"[^\"]",
        ),
        (r"(?im)^[\s│|]*(?:Access Token|Password|Sfdx Auth Url)[\s│|]+\S*", r"\S"),
    )
]
TOO_LONG = "[masked: a token longer than 64 KiB]"


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

    A line longer than MAX_PENDING is let through in pieces, masked, so memory stays bounded. A piece ends only at
    a safe cut: HOLD characters before the end at least (every secret's prefix is shorter, so a token that has
    begun is seen), and never inside a secret's span, complete or still arriving (`...si` + `d=SECRET`,
    `...00D000000000001` + `!AQSECRET`); whitespace is preferred. A single token longer than MAX_HOLD is replaced
    whole and the rest of its value dropped as it arrives.
    """

    MAX_PENDING = 8192
    HOLD = 1024
    MAX_HOLD = 64 * 1024

    def __init__(self) -> None:
        self._pending = ""
        self._swallow: re.Pattern[str] | None = None  # the value class of an over-long token still arriving

    def feed(self, text: str) -> str:
        if self._swallow is not None:
            end = self._swallow.match(text).end()  # type: ignore[union-attr]
            if end == len(text):
                return ""
            text, self._swallow = text[end:], None
        text = self._pending + text
        cut = max(text.rfind("\n"), text.rfind("\r")) + 1
        done, rest = text[:cut], text[cut:]
        if len(rest) < self.MAX_PENDING:
            self._pending = rest
            return mask(done)
        piece = self._safe_cut(rest)
        if piece > 0:
            self._pending = rest[piece:]
            return mask(done + rest[:piece])
        if len(rest) < self.MAX_HOLD:
            self._pending = rest
            return mask(done)
        # One token longer than MAX_HOLD: show what precedes it, hide it whole, drop the rest of its value.
        start, value = self._open_token(rest)
        self._pending = ""
        self._swallow = value
        return mask(done + rest[:start]) + TOO_LONG

    def _spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for pattern, _ in _OPEN for m in pattern.finditer(text) if m.end() > m.start()]

    def _safe_cut(self, text: str) -> int:
        """The largest safe cut at most len - HOLD (0 when there is none).

        The cut falls inside no secret span, and after whitespace where it can.
        """
        spans = self._spans(text)
        limit = len(text) - self.HOLD

        def inside(p: int) -> tuple[int, int] | None:
            return next(((a, b) for a, b in spans if a < p < b), None)

        p = limit
        while p > 0:  # whitespace first: a cut there cannot split a word into two that mask differently
            ws = max(text.rfind(" ", 0, p), text.rfind("\t", 0, p)) + 1
            if ws <= 0:
                break
            span = inside(ws)
            if span is None:
                return ws
            p = span[0]
        p = limit
        while p > 0:
            span = inside(p)
            if span is None:
                return p
            p = span[0]
        return 0

    def _open_token(self, text: str) -> tuple[int, re.Pattern[str]]:
        """The secret that spans the whole cut region: where it starts and what its value continues with."""
        limit = len(text) - self.HOLD
        best: tuple[int, re.Pattern[str]] | None = None
        for pattern, value in _OPEN:
            for m in pattern.finditer(text):
                if m.start() < limit < m.end() and (best is None or m.start() < best[0]):
                    best = (m.start(), value)
        assert best is not None, "no safe cut means a span covers the cut region"
        return best

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        self._swallow = None
        return mask(text)
