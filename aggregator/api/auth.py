"""API keys and rate limits, as FastAPI dependencies.

A key comes in ``X-API-Key`` (or ``Authorization: Bearer``). Where the operator turns
keys on, every data endpoint needs one; otherwise anonymous clients are limited per
address. Admin endpoints always need a key marked ``admin``.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from aggregator.api.config import ApiKeyConfig
from aggregator.api.context import ApiContext, Ctx, key_digest

KEY_HEADER = "X-API-Key"


def presented_key(request: Request) -> str | None:
    key = request.headers.get(KEY_HEADER)
    if key:
        return key
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "ApiKey"})


def _lookup(context: ApiContext, request: Request) -> ApiKeyConfig | None:
    secret = presented_key(request)
    if secret is None:
        return None
    entry = context.keys.get(key_digest(secret))
    if entry is None:
        raise _unauthorized(f"{KEY_HEADER}: unknown API key")
    return entry


def _limit(context: ApiContext, client: str, rate: float, burst: int) -> None:
    wait = context.limiter.take(client, rate, burst)
    if wait > 0:
        context.metrics.refused(client)
        raise HTTPException(
            status_code=429,
            detail=f"rate limit of {rate:g} requests/s (burst {burst}) exceeded for {client}",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )


def researcher(request: Request, context: Ctx) -> str:
    """The caller's name (key name or ``anon:<address>``) once its limit allows the call."""
    entry = _lookup(context, request)
    if entry is not None:
        _limit(context, f"key:{entry.name}", entry.rate_per_s, entry.burst)
        return entry.name
    if context.config.require_keys:
        raise _unauthorized(f"{KEY_HEADER}: an API key is required")
    client = f"anon:{request.client.host if request.client else 'unknown'}"
    _limit(context, client, context.config.anonymous_rate_per_s, context.config.anonymous_burst)
    return client


def admin(request: Request, context: Ctx) -> str:
    """An admin key's name; anything else is refused, whatever ``require_keys`` says."""
    entry = _lookup(context, request)
    if entry is None:
        raise _unauthorized(f"{KEY_HEADER}: admin endpoints need an admin API key")
    if not entry.admin:
        raise HTTPException(
            status_code=403, detail=f"{KEY_HEADER}: key {entry.name!r} is not an admin key"
        )
    _limit(context, f"key:{entry.name}", entry.rate_per_s, entry.burst)
    return entry.name
