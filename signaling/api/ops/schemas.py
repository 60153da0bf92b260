"""JSON Schemas of responses in the OpenAPI document (OpenAPI 3.1 = JSON Schema 2020-12)."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

UUID: Schema = {"type": "string", "format": "uuid"}
PLANCK: Schema = {"type": "string", "pattern": "^[0-9]+$", "description": "planck, decimal"}
TIME: Schema = {"type": "string", "format": "date-time"}
OBJECT: Schema = {"type": "object"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def page_of(item: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next_cursor": nullable({"type": "string"}),
        },
    }


COMPONENTS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "price": {
                        "type": "string",
                        "description": "412 from WHEP: the stream's current price, planck/s",
                    },
                },
            }
        },
    },
    "User": {
        "type": "object",
        "required": ["id", "account_id", "is_creator", "created_at"],
        "properties": {
            "id": UUID,
            "account_id": {"type": "string"},
            "username": nullable({"type": "string"}),
            "bio": nullable({"type": "string"}),
            "profile_image_url": nullable({"type": "string"}),
            "is_creator": {"type": "boolean"},
            "created_at": TIME,
        },
    },
    "Me": {
        "allOf": [
            ref("User"),
            {
                "type": "object",
                "required": ["email", "updated_at"],
                "properties": {"email": nullable({"type": "string"}), "updated_at": TIME},
            },
        ],
    },
    "Session": {
        "type": "object",
        "description": "token is left out when the request had Vilokanam-Session: cookie",
        "required": ["expires_at", "user"],
        "properties": {"token": {"type": "string"}, "expires_at": TIME, "user": ref("User")},
    },
    "CurrentSession": {
        "type": "object",
        "required": ["expires_at", "user"],
        "properties": {
            "expires_at": {"anyOf": [TIME, {"type": "null"}]},
            "user": {"anyOf": [ref("Me"), {"type": "null"}]},
        },
    },
    "SessionsEnded": {
        "type": "object",
        "required": ["sessions_ended"],
        "properties": {"sessions_ended": {"type": "integer", "minimum": 0}},
    },
    "Nonce": {
        "type": "object",
        "required": ["message", "nonce", "expires_at"],
        "properties": {
            "message": {"type": "string"},
            "nonce": {"type": "string"},
            "expires_at": TIME,
        },
    },
    "Stream": {
        "type": "object",
        "required": ["id", "title", "status", "price_per_second", "viewer_count", "creator"],
        "properties": {
            "id": UUID,
            "title": {"type": "string"},
            "status": {"enum": ["pending", "live", "ended", "archived"]},
            "price_per_second": PLANCK,
            "viewer_count": {"type": "integer", "minimum": 0},
            "total_ticks": {"type": "integer", "minimum": 0},
            "category_id": nullable(UUID),
            "start_time": nullable(TIME),
            "end_time": nullable(TIME),
            "creator": OBJECT,
            "stream_key": {"type": "string", "description": "only when created or rotated"},
        },
    },
    "Balance": {
        "type": "object",
        "required": ["available", "reserved"],
        "properties": {"available": PLANCK, "reserved": PLANCK},
    },
    "WithdrawalQuote": {
        "type": "object",
        "required": ["amount", "fee", "total", "to", "available"],
        "properties": {
            "amount": PLANCK,
            "fee": PLANCK,
            "total": PLANCK,
            "to": {"type": "string"},
            "available": PLANCK,
        },
    },
    "BillingInfo": {
        "type": "object",
        "required": [
            "escrow_address",
            "ss58_format",
            "existential_deposit",
            "fee_bps",
            "token_symbol",
            "token_decimals",
        ],
        "properties": {
            "escrow_address": {"type": "string"},
            "ss58_format": {"type": "integer"},
            "chain_url": nullable({"type": "string"}),
            "existential_deposit": PLANCK,
            "fee_bps": {"type": "integer"},
            "token_symbol": {"type": "string"},
            "token_decimals": {"type": "integer"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "postgres", "redis"],
        "properties": {
            "status": {"enum": ["ok", "degraded"]},
            "postgres": {"type": "string"},
            "redis": {"type": "string"},
            "node_id": {"type": "string", "format": "uuid"},
        },
    },
}
