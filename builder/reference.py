"""The authoring reference, generated from the field declarations (`python build.py fields`)."""

from __future__ import annotations

import json

from .schema import ALL_SCHEMAS, Field


def _default(field: Field) -> str:
    if field.required:
        return "required"
    if field.default in (None, "", {}):
        return "—"
    return f"`{json.dumps(field.default)}`"


def markdown_tables() -> str:
    """Return one Markdown table per kind of file, listing every field."""
    parts: list[str] = []
    for schema in ALL_SCHEMAS:
        parts.append(f"#### `{schema.name}`: {schema.where}\n")
        parts.append("| field | type | default | meaning |")
        parts.append("|---|---|---|---|")
        for field in schema.fields:
            parts.append(
                f"| `{field.name}` | {field.type_name()} | {_default(field)} | {field.help} |"
            )
        parts.append("")
    return "\n".join(parts)
