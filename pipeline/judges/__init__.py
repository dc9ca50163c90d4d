"""Judges of one's own: labels files (labels_file), storing judges (store), LLM judges (llm_judge).

The names here are the ones the CLI and the Add judge page use. `llm_judge` is imported
on its own (`from pipeline.judges.llm_judge import ...`): it needs the LLM layer, which a
labels file does not.
"""

from .errors import JudgeError, JudgeExists, LabelsRefused, UnknownJudge
from .labels_file import Label, LabelIssue, ParsedLabels, dataset_order, parse_choice, parse_labels_file
from .store import KINDS, MAX_NAME, AddJudgeReport, add_judge, check_kind, check_name, judge_exists, list_judges, refuse_existing, remove_judge

__all__ = ["AddJudgeReport", "JudgeError", "JudgeExists", "KINDS", "Label", "LabelIssue", "LabelsRefused",
           "MAX_NAME", "ParsedLabels", "UnknownJudge", "add_judge", "check_kind", "check_name", "dataset_order",
           "judge_exists", "list_judges", "parse_choice", "parse_labels_file", "refuse_existing", "remove_judge"]
