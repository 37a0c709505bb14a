"""Text normalisation and the sentence length rule shared by Europarl and the embedded text.

The rule follows the DeepSC line of work (Xie et al., preprocess_text.py): Unicode is folded to
ASCII, the text is lowercased, every character that is not a letter a-z becomes a space (so
punctuation and digits go, and "don't" becomes "don t"), runs of spaces collapse, and a sentence
is kept when it has between :data:`MIN_WORDS` and :data:`MAX_WORDS` words inclusive.
"""

from __future__ import annotations

import re
import unicodedata

MIN_WORDS = 4
MAX_WORDS = 30

_NON_LETTERS = re.compile(r"[^a-z]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def normalise(text: str) -> str:
    """Lowercase ASCII words separated by single spaces (the DeepSC rule, see module doc)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NON_LETTERS.sub(" ", text.lower()).strip()


def words(text: str) -> list[str]:
    """The words of ``normalise(text)``."""
    return normalise(text).split()


def keep_sentence(sentence: str) -> bool:
    """True if the normalised sentence has MIN_WORDS..MAX_WORDS words."""
    return MIN_WORDS <= len(sentence.split()) <= MAX_WORDS


def split_sentences(paragraph: str) -> list[str]:
    """Split running text after ., ! or ? followed by space and a capital or quote."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(paragraph.split())) if s.strip()]


_NUMBER_WORDS = {
    w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())
}
_ARTICLES = {"a", "an", "the"}
_ANSWER_PUNCT = re.compile(r"[;/\[\]\"{}()=+\\_\-><@`,?!*#%^&$|~:]|(?<!\d)\.|\.(?!\d)")


def normalise_answer(answer: str) -> str:
    """A VQA answer in canonical form, a simplified form of the official VQA evaluation's rules.

    Lowercase; apostrophes removed; other punctuation -> space, except that a comma inside a
    number is dropped ("1,000" -> "1000") and a decimal point is kept ("1.5"); number words
    zero-ten -> digits; articles a/an/the dropped; single spaces.
    """
    s = re.sub(r"(?<=\d),(?=\d)", "", answer.lower().replace("'", ""))
    toks = [_NUMBER_WORDS.get(w, w) for w in _ANSWER_PUNCT.sub(" ", s).split()]
    return " ".join(w for w in toks if w not in _ARTICLES)
