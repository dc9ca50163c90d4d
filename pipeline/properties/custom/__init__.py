"""Your own LLM-rated properties, from a TOML file, fitted as the `custom` property set.

- definition.py: the file's `[[property]]` tables, checked before any call;
- prompt.py: one request per pair and chunk of properties, reading the answer, undoing the A/B swap;
- store.py: definitions, ratings and features in the database;
- job.py: plan (calls, cost) and run through the shared LLM layer (journal, retries, Batch API).
"""

from .definition import SCALES, CustomProperty, PropertyFile, PropertyFileError, parse_text, read_file
from .job import RateError, RatePlan, RateReport, plan_rate, run_rate
from .store import list_properties

__all__ = ["SCALES", "CustomProperty", "PropertyFile", "PropertyFileError", "parse_text", "read_file",
           "RateError", "RatePlan", "RateReport", "plan_rate", "run_rate", "list_properties"]
