"""The LLM layer's small parts: JSON extraction, prices, templates, token counts, backoff."""

from __future__ import annotations

import httpx
import openai
import pytest

from pipeline.llm import InvalidAnswer, LLMRequest, LLMSettings, extract_json, extract_object, price_for
from pipeline.llm.config import read_dotenv, settings_from_env
from pipeline.llm.errors import ErrorKind
from pipeline.llm.retry import error_kind, retry_delay


def classify(exc):
    """What the runner does about a failure, read from its kind: abort, retry, or fail the call."""
    kind = error_kind(exc)
    if kind.fatal:
        return "fatal"
    if kind is ErrorKind.UNREACHABLE:
        return "connect"
    return "retry" if kind.transient else "reject"


RETRY, CONNECT, REJECT, FATAL = "retry", "connect", "reject", "fatal"
from pipeline.llm.templates import TemplateError, parse_template
from pipeline.llm.tokens import APPROXIMATE


@pytest.mark.parametrize("text, expected", [
    ('{"a": 1}', {"a": 1}),
    ('```json\n{"a": 1}\n```', {"a": 1}),
    ('Sure! Here it is:\n```\n{"a": [1, 2]}\n```\nAnything else?', {"a": [1, 2]}),
    ('The answer is {"a": {"b": "x"}} as requested.', {"a": {"b": "x"}}),
    ('{"a": [1, 2,], "b": 3,}', {"a": [1, 2], "b": 3}),
    ("{'a': 'x', 'b': True}", {"a": "x", "b": True}),
])
def test_extract_json_forgives_wrapping(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "no json here", '{"a": 1', "[1, 2"])
def test_extract_json_refuses_non_json(text):
    with pytest.raises(InvalidAnswer):
        extract_json(text)


def test_extract_object_unwraps_single_item_list_and_refuses_scalars():
    assert extract_object('[{"a": 1}]') == {"a": 1}
    with pytest.raises(InvalidAnswer, match="expected a JSON object"):
        extract_object("[1, 2]")


def test_prices_exact_prefix_unknown_and_batch(tmp_path):
    assert price_for("gpt-4-turbo").input == 10.0
    dated = price_for("gpt-4o-mini-2024-07-18")
    assert dated.model == "gpt-4o-mini"  # the longest matching name, not gpt-4o
    assert price_for("my-local-llama") is None
    p = price_for("gpt-4-turbo")
    assert p.cost(1_000_000, 1_000_000) == pytest.approx(40.0)
    assert p.cost(1_000_000, 0, batch=True) == pytest.approx(5.0)
    table = tmp_path / "p.toml"
    table.write_text('batch_discount = 0.25\n[models."local"]\ninput = 1\noutput = 2\n')
    assert price_for("local-7b", table).cost(0, 1_000_000, batch=True) == pytest.approx(0.5)


def test_template_parsing_and_versions():
    tpl = parse_template("t", "# version: 3\n# max_tokens: 10\n# a comment\n[system]\nsys $x\n[user]\n"
                              'say {"json": $x}\n[item.extra]\nmore $y\n')
    assert tpl.version == "t@3" and tpl.int_meta("max_tokens") == 10
    assert tpl.messages(x="X") == [{"role": "system", "content": "sys X"},
                                   {"role": "user", "content": 'say {"json": X}'}]
    assert tpl.render("item.extra", y="Y") == "more Y"
    with pytest.raises(TemplateError, match="needs a value"):
        tpl.render("user")
    with pytest.raises(TemplateError, match="version"):
        parse_template("t", "[user]\nhi\n")


def test_every_shipped_prompt_has_a_version():
    from pipeline.annotation.steps import TEMPLATES
    from pipeline.llm import load_template

    versions = {load_template(name).version for name in TEMPLATES.values()}
    assert len(versions) == 6 and all("@" in v for v in versions)


def test_request_hash_ignores_who_asks_but_not_what():
    base = dict(model="m", messages=[{"role": "user", "content": "q"}], prompt_version="p@1", seed=1)
    a = LLMRequest(job="annotate", step="s", item_key="k1", **base)
    b = LLMRequest(job="annotate", step="s", item_key="k2", **base)
    c = LLMRequest(job="annotate", step="s", item_key="k1", **{**base, "prompt_version": "p@2"})
    assert a.hash == b.hash != c.hash
    assert a.body(0)["seed"] == 1 and a.body(2)["seed"] == 3
    assert a.body()["response_format"] == {"type": "json_object"}


def test_approximate_token_count():
    assert APPROXIMATE.count("abcd" * 10) == 10
    assert not APPROXIMATE.exact and "4 characters" in APPROXIMATE.method


def test_settings_from_env_and_dotenv_keep_the_key_out_of_repr(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nexport OPENAI_API_KEY='sk-secret'\nOPENAI_BASE_URL=http://x/v1\n")
    assert read_dotenv(env_file)["OPENAI_API_KEY"] == "sk-secret"
    s = settings_from_env(env={}, dotenv=env_file, model="gpt-4o")
    assert s.api_key == "sk-secret" and s.base_url == "http://x/v1" and s.model == "gpt-4o"
    assert "sk-secret" not in repr(s)
    s2 = settings_from_env(env={"OPENAI_API_KEY": "sk-env"}, dotenv=env_file)
    assert s2.api_key == "sk-env"  # the environment wins over .env


def _status_error(cls, status, headers=None, body=None):
    req = httpx.Request("POST", "http://x/v1/chat/completions")
    resp = httpx.Response(status, headers=headers or {}, request=req)
    return cls("boom", response=resp, body=body)


def test_classify_and_retry_after():
    s = LLMSettings(backoff_base=1.0, backoff_cap=30)
    rate = _status_error(openai.RateLimitError, 429, {"retry-after": "7"})
    assert classify(rate) == RETRY and retry_delay(rate, 0, s) == 7
    ms = _status_error(openai.RateLimitError, 429, {"retry-after-ms": "250"})
    assert retry_delay(ms, 3, s) == pytest.approx(0.25)
    capped = _status_error(openai.RateLimitError, 429, {"retry-after": "3600"})
    assert retry_delay(capped, 0, s) == 30
    quota = _status_error(openai.RateLimitError, 429, body={"error": {"code": "insufficient_quota"}})
    assert classify(quota) == FATAL
    assert classify(_status_error(openai.InternalServerError, 503)) == RETRY
    assert classify(_status_error(openai.AuthenticationError, 401)) == FATAL
    assert classify(_status_error(openai.BadRequestError, 400)) == REJECT
    assert classify(openai.APIConnectionError(request=httpx.Request("POST", "http://x"))) == CONNECT
    assert classify(openai.APITimeoutError(request=httpx.Request("POST", "http://x"))) == RETRY
    plain = _status_error(openai.InternalServerError, 500)
    delays = [retry_delay(plain, n, s) for n in range(8)]
    assert all(0.5 * min(2 ** n, 60) <= d <= 30 for n, d in enumerate(delays))


def test_progress_line_names_pairs_only_when_the_job_counts_them():
    """`rate` runs through run_calls, which counts calls only: its bar said "pairs 0/0"."""
    from pipeline.llm.progress import JobProgress

    assert JobProgress(pairs_total=0, calls_total=192).info().startswith("0 in flight, 0 failed")
    assert JobProgress(pairs_total=2, pairs_done=1).info().startswith("pairs 1/2, 0 in flight")
