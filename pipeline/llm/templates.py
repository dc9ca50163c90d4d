"""Prompt templates: one text file per step under prompts/, versioned.

A file starts with `# key: value` header lines (at least `version`), then sections
`[system]`, `[user]` and any named extras (`[item.constraints]`, ...). Placeholders are
`$name` (string.Template), so JSON braces in the text need no escaping. The version,
as `<file stem>@<version>`, is recorded on every answer; changing a prompt means
bumping it, and the changed prompt's calls are asked anew.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
_SECTION = re.compile(r"^\[([A-Za-z0-9_.-]+)\]\s*$")
_HEADER = re.compile(r"^#\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    meta: dict[str, str]
    sections: dict[str, str]

    @property
    def version(self) -> str:
        return f"{self.name}@{self.meta['version']}"

    def int_meta(self, key: str, default: int | None = None) -> int | None:
        value = self.meta.get(key)
        return int(value) if value else default

    def render(self, section: str, **values: object) -> str:
        try:
            return Template(self.sections[section]).substitute({k: str(v) for k, v in values.items()})
        except KeyError as exc:
            raise TemplateError(f"{self.name}: section [{section}] needs a value for {exc}") from None

    def messages(self, **values: object) -> list[dict[str, str]]:
        out = []
        for role in ("system", "user"):
            if role in self.sections:
                out.append({"role": role, "content": self.render(role, **values)})
        return out


def parse_template(name: str, text: str) -> PromptTemplate:
    meta: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            current = sections.setdefault(m.group(1), [])
        elif current is not None:
            current.append(line)
        else:
            h = _HEADER.match(line)
            if h:
                meta[h.group(1).lower()] = h.group(2)
    if "version" not in meta:
        raise TemplateError(f"prompt {name}: the header needs a '# version: ...' line")
    if "user" not in sections:
        raise TemplateError(f"prompt {name}: no [user] section")
    return PromptTemplate(name, meta, {k: "\n".join(v).strip("\n") for k, v in sections.items()})


@lru_cache(maxsize=None)
def load_template(name: str, directory: Path = PROMPTS_DIR) -> PromptTemplate:
    path = directory / f"{name}.txt"
    if not path.is_file():
        raise TemplateError(f"prompt template {path} is missing")
    return parse_template(name, path.read_text(encoding="utf-8"))
