"""Text for the synthetic tasks, from the standard library alone (``pydoc_data.topics``, the
Python reference's prose), plus a word-list generator when more distinct lines are needed."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _topics_text() -> str:
    from pydoc_data.topics import topics

    return " ".join(topics[k] for k in sorted(topics))


def corpus_sentences() -> list[str]:
    """Clean English sentences: letters, spaces and light punctuation only, 20–120
    characters, deduplicated, sorted."""
    out = set()
    for s in re.split(r"(?<=[.!?;:])\s+", _topics_text()):
        s = " ".join(s.split()).rstrip(";:")
        if 20 <= len(s) <= 120 and re.fullmatch(r"[A-Z][A-Za-z ,'\-]+[.?!]?", s):
            out.add(s if s[-1] in ".?!" else s + ".")
    return sorted(out)


def vocabulary() -> list[str]:
    """Lower-case words of 2–12 letters from the topics, sorted."""
    return sorted(set(re.findall(r"\b[a-z]{2,12}\b", _topics_text())))


def corpus_lines(alphabet: str, min_len: int = 20, max_len: int = 60) -> list[str]:
    """The topics' prose cut into lines of whole words (``min_len``–``max_len`` characters)
    that use only ``alphabet`` and are ≥ 90 % letters and spaces; deduplicated, sorted."""
    allowed = set(alphabet)
    words = [w for w in _topics_text().split() if set(w) <= allowed and len(w) <= 20]
    lines, cur, target = set(), [], min_len
    for i, w in enumerate(words):
        cur.append(w)
        if len(" ".join(cur)) >= target:
            line = " ".join(cur)
            letters = sum(c.isalpha() or c == " " for c in line)
            if len(line) <= max_len and letters >= 0.9 * len(line):
                lines.add(line)
            cur, target = [], min_len + (i * 7919) % (max_len - min_len)
    return sorted(lines)


def generated_line(rng: np.random.Generator, words: list[str], max_len: int | None = None) -> str:
    """A pseudo-sentence of 5–12 random words (fewer, down to 2, where more would make it
    longer than ``max_len`` characters), capitalised, sometimes with a comma."""
    ws = [words[i] for i in rng.integers(len(words), size=int(rng.integers(5, 13)))]
    while max_len is not None and len(ws) > 2 and len(" ".join(ws)) + 2 > max_len:
        ws.pop()
    if rng.random() < 0.3:
        ws[int(rng.integers(1, len(ws) - 1)) if len(ws) > 2 else 0] += ","
    return " ".join(ws).capitalize() + "."


def pool(n: int, seed: int, source: Callable[[], list[str]],
         max_len: int | None = None) -> list[str]:
    """``n`` distinct lines: ``source()`` in a seeded order, then generated lines (of at most
    ``max_len`` characters where they fit)."""
    rng = np.random.default_rng([seed, 7919])
    real = source()
    out = [real[i] for i in rng.permutation(len(real))][:n]
    seen, words = set(out), vocabulary()
    while len(out) < n:
        s = generated_line(rng, words, max_len)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out
