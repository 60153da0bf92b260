"""Sign-In with Substrate messages: build, parse, and bind to a nonce.

The wording follows the Sign-In-with-Ethereum (EIP-4361) layout that SIWS adopted, so wallets
display it sensibly: a header naming the domain, the address, a statement, then fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

STATEMENT = "Sign in to vilokanam. This request does not move any funds."
_FIELD = re.compile(r"^(URI|Version|Chain ID|Nonce|Issued At|Expiration Time): (.+)$")


@dataclass(frozen=True)
class SignInMessage:
    domain: str
    address: str
    uri: str
    nonce: str
    issued_at: datetime
    expires_at: datetime

    def text(self) -> str:
        return "\n".join(
            [
                f"{self.domain} wants you to sign in with your Substrate account:",
                self.address,
                "",
                STATEMENT,
                "",
                f"URI: {self.uri}",
                "Version: 1",
                f"Nonce: {self.nonce}",
                f"Issued At: {rfc3339(self.issued_at)}",
                f"Expiration Time: {rfc3339(self.expires_at)}",
            ]
        )


def nonce_of(message: str) -> str | None:
    """The nonce field of a message, or None if the text has no such field."""
    for line in message.splitlines():
        match = _FIELD.match(line)
        if match and match[1] == "Nonce":
            return match[2].strip()
    return None


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
