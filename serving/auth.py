"""Bearer-token authentication, shared by the gRPC and HTTP front ends."""

from __future__ import annotations

import hmac


def token_matches(authorization: str | bytes, token: str) -> bool:
    """Constant-time check of an ``authorization`` value against ``Bearer <token>``."""
    value = authorization.encode() if isinstance(authorization, str) else authorization
    return hmac.compare_digest(value, f"Bearer {token}".encode())
