"""Config base: one YAML file → one pydantic model tree, validated at start-up.

Every model forbids unknown keys, and every error names the key path, the value
found there and why it was refused (``cameras -> door -> url: ...``). Secrets are
never literal in a shipped YAML: ``${env:NAME}`` and ``${secret:NAME}`` (a file in
``/run/secrets`` or ``$FIELDPROOF_SECRETS_DIR``) are substituted before validation.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from fieldproof.errors import ConfigError

SECRETS_DIR_ENV = "FIELDPROOF_SECRETS_DIR"
_DEFAULT_SECRETS_DIR = Path("/run/secrets")
_REFERENCE = re.compile(r"\$\{(env|secret):([A-Za-z_][A-Za-z0-9_.-]*)\}")


class ConfigModel(BaseModel):
    """Base of every config model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


ModelT = TypeVar("ModelT", bound=BaseModel)


def _key_path(location: tuple[int | str, ...]) -> str:
    return " -> ".join(str(part) for part in location) or "(top level)"


def _lookup(location: tuple[int | str, ...], data: Any) -> tuple[bool, Any]:
    node = data
    for part in location:
        if isinstance(node, dict) and part in node:
            node = node[part]
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            continue
        return False, None
    return True, node


def format_validation_error(error: ValidationError, data: Any, source: str) -> str:
    """One line per problem: ``source: key -> path: value ...: reason``."""
    lines = []
    for item in error.errors():
        # Drop pydantic's union-branch tags so the path reads as the YAML keys.
        location = tuple(
            part for part in item["loc"] if not (isinstance(part, str) and "[" in part)
        )
        found, value = _lookup(location, data)
        shown = f" (value: {value!r})" if found and not isinstance(value, dict | list) else ""
        lines.append(f"{source}: {_key_path(location)}{shown}: {item['msg']}")
    return "\n".join(lines)


def _substitute(node: Any, path: tuple[int | str, ...], source: str) -> Any:
    if isinstance(node, dict):
        return {key: _substitute(value, (*path, key), source) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(value, (*path, i), source) for i, value in enumerate(node)]
    if isinstance(node, str):
        return _REFERENCE.sub(lambda match: _resolve(match, path, source), node)
    return node


def _resolve(match: re.Match[str], path: tuple[int | str, ...], source: str) -> str:
    kind, name = match.group(1), match.group(2)
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise ConfigError(f"{source}: {_key_path(path)}: environment variable {name} is unset")
        return value
    secrets_dir = Path(os.environ.get(SECRETS_DIR_ENV, _DEFAULT_SECRETS_DIR))
    secret = secrets_dir / name
    try:
        return secret.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{source}: {_key_path(path)}: secret {secret}: {exc.strerror}") from exc


def parse_config(model: type[ModelT], data: Any, source: str = "config") -> ModelT:
    """Validate already-parsed YAML/JSON data against ``model``."""
    if data is None:
        data = {}
    data = _substitute(data, (), source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, data, source)) from exc


def load_config(model: type[ModelT], path: Path) -> ModelT:
    """Read ``path`` as YAML and validate it; a :class:`ConfigError` names each bad key."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return parse_config(model, data, str(path))


def _resolve_path_value(value: Any, base: Path) -> Any:
    if isinstance(value, Path):
        return value if value.is_absolute() else base / value
    if isinstance(value, BaseModel):
        return resolve_paths(value, base)
    if isinstance(value, tuple | list):
        return type(value)(_resolve_path_value(item, base) for item in value)
    return value


def resolve_paths(model: ModelT, base: Path) -> ModelT:
    """``model`` with every relative file path in it made relative to ``base``."""
    update = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        resolved = _resolve_path_value(value, base)
        if resolved is not value:
            update[name] = resolved
    return model.model_copy(update=update) if update else model
