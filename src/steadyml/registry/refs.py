"""Model references: `name:version`, `name@alias`, or a bare `name` (its latest version)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from steadyml.core.errors import InvalidModelRefError
from steadyml.core.ids import check_name

_REF = re.compile(r"^(?P<name>[^:@\s]+)(?::(?P<version>\d+)|@(?P<alias>[^:@\s]+))?$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Parse `churn:3`, `churn@champion` or `churn`."""
        match = _REF.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise InvalidModelRefError(str(text))
        name = check_name(match["name"], "model")
        if match["version"] is not None:
            version = int(match["version"])
            if version < 1:
                raise InvalidModelRefError(text)
            return cls(name, version=version)
        if match["alias"] is not None:
            return cls(name, alias=check_name(match["alias"], "alias"))
        return cls(name)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name
