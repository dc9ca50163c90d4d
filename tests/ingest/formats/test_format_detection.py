"""Detection from the content, and `--format` to force one."""

import json

import pytest

from formats_fixtures import FIXTURES
from pipeline.ingest import formats
from pipeline.ingest.formats import NoFormat, Options
from pipeline.ingest.sources import SourceError
from records_factory import make_record

EXPECTED = {
    "arena_conversations.jsonl": "arena",
    "lmarena_140k.json": "lmarena",
    "lmarena_100k.jsonl": "lmarena",
    "arena_55k.csv": "arena-55k",
    "hh_rlhf.jsonl": "hh-rlhf",
    "ultrafeedback_binarized.jsonl": "ultrafeedback",
    "openbmb_ultrafeedback.jsonl": "ultrafeedback",
    "annotated_pairs.json": "forensics",
    "alpaca_eval_annotations.json": "alpaca-eval",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_is_detected_as_its_format(name):
    assert formats.detect(FIXTURES / name) == EXPECTED[name]


def test_released_records_are_detected_as_the_release(tmp_path):
    path = tmp_path / "release.jsonl"
    path.write_text(json.dumps(make_record(0)) + "\n")
    assert formats.detect(path) == "release"


def test_generic_needs_its_columns_named_when_they_are_not_the_usual_ones():
    with pytest.raises(NoFormat):
        formats.detect(FIXTURES / "generic_pairs.csv")
    opts = Options(columns=(("prompt", "question"), ("response_1", "answer_left"), ("response_2", "answer_right"),
                            ("winner", "choice")))
    assert formats.detect(FIXTURES / "generic_pairs.csv", opts) == "generic"


def test_a_forced_format_is_checked_and_says_why_it_does_not_fit():
    table = formats.open_table(FIXTURES / "hh_rlhf.jsonl")
    assert formats.detect_table(table, forced="hh-rlhf").NAME == "hh-rlhf"
    with pytest.raises(NoFormat, match=r"not in format arena: missing column 'conversation_a'"):
        formats.detect_table(formats.open_table(FIXTURES / "hh_rlhf.jsonl"), forced="arena")
    with pytest.raises(SourceError, match="unknown format 'nope'"):
        formats.detect_table(formats.open_table(FIXTURES / "hh_rlhf.jsonl"), forced="nope")


def test_a_file_that_fits_two_formats_takes_the_first_unless_forced(tmp_path):
    path = tmp_path / "a.jsonl"
    conv = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}]
    path.write_text(json.dumps({"prompt": "q", "response_a": "x", "response_b": "y", "winner": "model_a",
                                "model_a": "m", "model_b": "n", "conversation_a": conv, "conversation_b": conv}) + "\n")
    assert formats.detect(path) == "arena"
    assert formats.detect_table(formats.open_table(path), forced="generic").NAME == "generic"
