"""The OpenAPI 3.1 document of the whole HTTP API, served at /api/openapi.json.

Built from the table of operations (signaling/api/ops/operations.py), which names the pydantic
models that validate request bodies, so the document and the validation cannot drift.
tests/signaling/test_openapi.py fails when a route is missing from that table, and the
schemathesis run (tests/signaling/test_fuzz.py) checks the server against the document.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from signaling.api.ops.operations import OPERATIONS, QUERY, Op
from signaling.api.ops.schemas import COMPONENTS, Schema, ref

# Routes that are not part of the JSON/WebRTC API: pages, static files, the WebSocket, metrics,
# and the internal endpoints between nodes of a cluster (behind the node credential).
# Pages are told apart by their route name (signaling/web/routes.py); these are the other
# routes that are not part of the public HTTP API.
NOT_API = re.compile(r"^/(static|ws/|metrics$|internal/)")
PAGE_ROUTE_PREFIX = "page."


def _parameters(path: str, op: Op) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", **({"format": "uuid"} if name.endswith("_id") else {})},
        }
        for name in re.findall(r"{(\w+)}", path)
    ]
    params += [{"name": n, "in": "query", "required": False, "schema": QUERY[n]} for n in op.query]
    params += [
        {"name": h, "in": "header", "required": False, "schema": {"type": "string"}}
        for h in op.headers
    ]
    return params


def _request_body(op: Op, components: dict[str, Schema]) -> dict[str, Any] | None:
    if op.body is not None:
        schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))  # nested models, referenced by name
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    if op.content is not None:
        return {"required": True, "content": {op.content: {"schema": {"type": "string"}}}}
    return None


def _responses(op: Op) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in op.ok:
        if not op.schema and status in (204,):
            responses[str(status)] = {"description": "done"}
        elif status == 503:
            responses["503"] = {
                "description": "a dependency is down",
                "content": {"application/json": {"schema": op.schema}},
            }
        else:
            content = {op.produces: {"schema": op.schema or {"type": "string"}}}
            responses[str(status)] = {"description": "success", "content": content}
    error = {"content": {"application/json": {"schema": ref("Error")}}}
    responses["4XX"] = {"description": "the request cannot be served as sent", **error}
    if op.unavailable:
        responses["503"] = {"description": "no chain connected to this server", **error}
    return responses


SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "session": [{"session": []}, {"session_cookie": []}],
    "optional": [{"session": []}, {"session_cookie": []}, {}],
    "stream_key": [{"stream_key": []}],
}


def operation(method: str, path: str, op: Op, components: dict[str, Schema]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "parameters": _parameters(path, op),
        "responses": _responses(op),
    }
    if (body := _request_body(op, components)) is not None:
        doc["requestBody"] = body
    if op.auth:
        doc["security"] = SECURITY[op.auth]
    return doc


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route that belongs in the document."""
    found = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD":
            continue
        path = re.sub(r"{(\w+):[^}]+}", r"{\1}", resource.canonical)
        if not NOT_API.match(path) and not (resource.name or "").startswith(PAGE_ROUTE_PREFIX):
            found.add((route.method, path))
    return found


def document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components = dict(COMPONENTS)
    for method, path in sorted(api_routes(app)):
        op = OPERATIONS.get((method, path))
        if op is not None:
            paths.setdefault(path, {})[method.lower()] = operation(method, path, op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vilokanam",
            "version": "0.1.0",
            "description": "Live streaming with pay-per-second billing. Money is planck "
            "as decimal strings; ids are UUIDs; times RFC 3339 UTC.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "session token from /api/auth/verify",
                },
                "session_cookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "vk_session",
                    "description": "the pages' HttpOnly session cookie, set on sign-in; a "
                    "POST/PUT/PATCH/DELETE by cookie also needs X-CSRF-Token = the vk_csrf cookie",
                },
                "stream_key": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the stream key (WHIP)",
                },
            },
        },
    }
