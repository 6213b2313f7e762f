"""Config base: errors name the key path, value and reason; secrets are substituted."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from fieldproof.config import ConfigModel, load_config
from fieldproof.errors import ConfigError


class Camera(ConfigModel):
    url: str = Field(description="capture URL")
    fps: float = Field(10.0, gt=0, description="frames per second")


class Service(ConfigModel):
    name: str = Field(description="service name")
    password: str = Field("", description="broker password")
    cameras: dict[str, Camera] = Field(default_factory=dict, description="cameras by name")


def test_valid_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: edge\ncameras:\n  door: {url: rtsp://cam/1}\n")
    config = load_config(Service, path)
    assert config.cameras["door"].fps == 10.0


def test_error_names_key_path_value_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: edge\ncameras:\n  door: {url: rtsp://cam/1, fps: -3}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(Service, path)
    message = str(caught.value)
    assert "cameras -> door -> fps" in message
    assert "-3" in message
    assert "greater than 0" in message


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: edge\ncameras:\n  door: {url: x, colour: red}\n")
    with pytest.raises(ConfigError, match="cameras -> door -> colour"):
        load_config(Service, path)


def test_env_and_secret_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "mqtt_password").write_text("s3cret\n")
    monkeypatch.setenv("FIELDPROOF_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("SITE", "north")
    path = tmp_path / "c.yaml"
    path.write_text("name: edge-${env:SITE}\npassword: ${secret:mqtt_password}\n")
    config = load_config(Service, path)
    assert (config.name, config.password) == ("edge-north", "s3cret")


def test_missing_env_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text("name: ${env:NOPE_NOT_SET}\n")
    with pytest.raises(ConfigError, match="name: environment variable NOPE_NOT_SET is unset"):
        load_config(Service, path)


def test_bad_yaml_and_non_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Service, path)
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(Service, path)
