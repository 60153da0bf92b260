"""The HTTP API, one package per feature: routes, named queries, request models, JSON views."""
