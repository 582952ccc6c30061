"""openapi.yaml loaded once, with validators that read it as OpenAPI 3.0 (strict types, no rewriting)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30StrictValidator, oas30_strict_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
SERVER_URL: str = SPEC["servers"][0]["url"]
_SPEC_URI = "urn:firstaid-chat:openapi"
_REGISTRY: Registry[Any] = Registry().with_resource(_SPEC_URI, Resource.from_contents(SPEC, DRAFT4))


def schema_validator(name: str) -> OAS30StrictValidator:
    """A strict OAS 3.0 schema validator for one component schema, $refs resolved in the document."""
    return OAS30StrictValidator(
        {"$ref": f"{_SPEC_URI}#/components/schemas/{name}"},
        registry=_REGISTRY,
        format_checker=oas30_strict_format_checker,
    )
