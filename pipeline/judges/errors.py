"""Why a judge cannot be added or removed: one class per reason, one wording per message."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .labels_file import ParsedLabels


class JudgeError(ValueError):
    """A judge cannot be added or removed as asked; the message says why."""


class LabelsRefused(JudgeError):
    """A labels file has bad entries; nothing was written."""

    def __init__(self, parsed: "ParsedLabels"):
        self.parsed = parsed
        super().__init__(parsed.error_message())


class JudgeExists(JudgeError):
    """A judge of that name is there and --replace was not given (add-judge and judge-llm alike)."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"judge {name!r} already exists: use --replace to overwrite it (its labels and fits)")


class UnknownJudge(JudgeError):
    pass
