"""Reading YAML documents (training configurations, model registrations) into pydantic models,
with one-line ConfigErrors that name the file, the field and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sitewatch.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: Path, model: type[M], what: str) -> M:
    """The document at `path` validated as `model`.

    Raises:
        ConfigError: unreadable file, invalid YAML, or a field that does not validate.
    """
    try:
        doc = yaml.safe_load(path.read_text())
        return model.model_validate(doc)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
