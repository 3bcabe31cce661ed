"""Phone sets: TIMIT's 61 phones, the standard 61→39 folding (Lee & Hon 1989) and the folding
of espeak-ng's en-us IPA phone names onto the same 39 classes."""

from __future__ import annotations

TIMIT61 = (
    "aa", "ae", "ah", "ao", "aw", "ax", "ax-h", "axr", "ay", "b", "bcl", "ch", "d", "dcl", "dh",
    "dx", "eh", "el", "em", "en", "eng", "epi", "er", "ey", "f", "g", "gcl", "h#", "hh", "hv",
    "ih", "ix", "iy", "jh", "k", "kcl", "l", "m", "n", "ng", "nx", "ow", "oy", "p", "pau",
    "pcl", "q", "r", "s", "sh", "t", "tcl", "th", "uh", "uw", "ux", "v", "w", "y", "z", "zh",
)

FOLD39 = {
    "ao": "aa", "ax": "ah", "ax-h": "ah", "axr": "er", "hv": "hh", "ix": "ih", "el": "l",
    "em": "m", "en": "n", "nx": "n", "eng": "ng", "zh": "sh", "ux": "uw",
    "pcl": "sil", "tcl": "sil", "kcl": "sil", "bcl": "sil", "dcl": "sil", "gcl": "sil",
    "h#": "sil", "pau": "sil", "epi": "sil", "q": "sil",
}
"""TIMIT-61 → 39 (Lee & Hon). The glottal stop ``q`` is folded into ``sil`` here rather than
deleted, so every frame keeps a label."""

PHONES39 = tuple(sorted({FOLD39.get(p, p) for p in TIMIT61}))

IPA39 = {
    "": "sil", "_": "sil", "ʔ": "sil",
    "iː": "iy", "i": "iy", "iə": "iy", "ɪ": "ih", "ᵻ": "ih", "ɪɹ": "ih", "ɛ": "eh",
    "ɛɹ": "eh", "e": "eh", "æ": "ae", "a": "ae", "ʌ": "ah", "ə": "ah", "ɐ": "ah", "uː": "uw",
    "u": "uw", "ʊ": "uh", "ʊɹ": "uh", "ɑː": "aa", "ɑ": "aa", "ɒ": "aa", "ɑːɹ": "aa",
    "ɔː": "aa", "ɔ": "aa", "ɔːɹ": "aa", "eɪ": "ey", "aɪ": "ay", "aɪɚ": "ay", "aɪə": "ay",
    "ɔɪ": "oy", "aʊ": "aw", "aʊɚ": "aw", "oʊ": "ow", "əʊ": "ow", "o": "ow", "oː": "ow",
    "ɜː": "er", "ɜ": "er", "ɚ": "er", "ɝ": "er",
    "p": "p", "b": "b", "t": "t", "d": "d", "k": "k", "ɡ": "g", "g": "g", "ɾ": "dx",
    "tʃ": "ch", "dʒ": "jh", "f": "f", "v": "v", "θ": "th", "ð": "dh", "s": "s", "z": "z",
    "ʃ": "sh", "ʒ": "sh", "h": "hh", "m": "m", "n": "n", "n̩": "n", "ŋ": "ng", "l": "l",
    "əl": "l", "l̩": "l", "ɹ": "r", "r": "r", "j": "y", "w": "w", "x": "hh",
}
"""espeak-ng IPA phone name (stress marks removed) → TIMIT-39 class. r-coloured vowels that
espeak emits as one phone (``ɔːɹ``, ``ɛɹ``) are labelled with their vowel: espeak does not
time the /r/ part separately, so no exact split exists."""


def fold_ipa(name: str) -> str:
    """The 39-class label of an espeak-ng IPA phone name; unknown names raise KeyError."""
    return IPA39[name.replace("ˈ", "").replace("ˌ", "").strip()]
