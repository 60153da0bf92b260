"""Test AppConfigs: change settings by field name, whatever section of AppConfig holds them."""

from __future__ import annotations

import dataclasses

from signaling.config import AppConfig, Section


def configured(config: AppConfig, **changes: object) -> AppConfig:
    """`config` with `changes`: AppConfig's own fields, or any field of one of its sections."""
    own = {f.name for f in dataclasses.fields(AppConfig)}
    sections = {
        name: getattr(config, name) for name in own if isinstance(getattr(config, name), Section)
    }
    top = {name: value for name, value in changes.items() if name in own}
    updates: dict[str, dict[str, object]] = {}
    for name, value in changes.items():
        if name in own:
            continue
        holder = [key for key, section in sections.items() if name in type(section).model_fields]
        if not holder:
            raise TypeError(f"AppConfig has no setting {name!r}")
        updates.setdefault(holder[0], {})[name] = value
    for key, update in updates.items():
        top[key] = sections[key].model_copy(update=update)
    return dataclasses.replace(config, **top)  # type: ignore[arg-type]
