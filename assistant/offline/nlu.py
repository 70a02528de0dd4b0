"""Understanding a question: entities first, then a learned intent model on the delexicalized text.

The intent model is character n-gram TF-IDF (char_wb 1–4, which suits Chinese and English alike) and a
logistic regression, trained once per process on the paraphrases in data/train.yaml with a fixed seed.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml

from assistant.offline.dates import extract_dates
from assistant.offline.entities import (
    PLACEHOLDERS,
    EntityIndex,
    Extraction,
    Resolution,
    phrase_script,
    prepare,
)
from assistant.offline.numbers import extract_quantities

DATA_DIR = Path(__file__).parent / "data"
TRAIN_FILE = DATA_DIR / "train.yaml"
# Below this probability the question is not understood (a list of what can be answered is shown instead).
CONFIDENCE_THRESHOLD = 0.3
# Leftover words that resolve to an item this well are read as an item mention when classifying.
LOOSE_ITEM_SCORE = {"zh": 0.45, "en": 0.6}
RANDOM_STATE = 0
TEMPLATE_TODAY = date(2026, 1, 5)  # any day will do: only where the templates' dates are matters

Language = Literal["zh", "en"]
# Template slots and the placeholders the extractor writes for them.
TEMPLATE_SLOTS = {
    "{item}": "_item_",
    "{qty}": "_qty_",
    "{date}": "_date_",
    "{so}": "_so_",
    "{mo}": "_mo_",
    "{po}": "_po_",
    "{customer}": "_cust_",
    "{proposal}": "_proposal_",
}
# Words for the word features: English words, single Chinese characters, placeholder symbols.
WORD_PATTERN = r"(?u)[a-z]+|[\u3400-\u9fff]|[\u2460-\u246f]"
# Each placeholder is one rare symbol for the features, so "_item_" shares no n-gram with the word "item".
_FEATURE_SYMBOL = {p: chr(0x2460 + n) for n, p in enumerate(PLACEHOLDERS)}
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))
_CJK_RE = re.compile(r"[\u3400-\u9fff]+")
_LATIN_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’]*")
# Function words that never name an item.
STOP_CHARS = set("的了吗呢吧啊呀么嘛啥个把给要和与及在是有这那就都也还再帮我你他她它们请下一")
STOP_WORDS = {
    "a", "an", "the", "of", "for", "to", "in", "on", "at", "by", "we", "i", "you", "me", "us", "our", "is",
    "are", "do", "does", "did", "can", "could", "would", "will", "please", "pls", "and", "or", "it", "its",
    "this", "that", "these", "those", "any", "some", "with", "from", "how", "what", "which", "when", "many",
    "much", "ok", "hey", "hi", "s", "x", "qty", "pcs", "item", "items", "order", "orders",
}  # fmt: skip


@dataclass(frozen=True)
class Parse:
    """The understood question: intent with its probability, the entities, and leftover words."""

    intent: str
    confidence: float
    ranked: tuple[tuple[str, float], ...]
    extraction: Extraction
    residual: str
    language: Language
    item_guess: Resolution | None = None


def load_training(path: Path = TRAIN_FILE) -> list[tuple[str, str, str]]:
    """(delexicalized text, intent, language) for every paraphrase in the training file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows: list[tuple[str, str, str]] = []
    for intent, by_lang in data.items():
        for lang, texts in by_lang.items():
            rows.extend((delexicalize_template(t), intent, lang) for t in texts)
    return rows


def delexicalize_template(template: str) -> str:
    """A template as the extractor would leave it: its slots, and any literal date or number, as placeholders.

    Literal dates and numbers ("今天天气", "tell me 3 jokes") are replaced as they are in real questions,
    so the model never learns from words it will not see.
    """
    text = prepare(template)
    for slot, placeholder in TEMPLATE_SLOTS.items():
        text = text.replace(slot, f" {placeholder} ")
    spans = [(d.start, d.end, "_date_") for d in extract_dates(text, TEMPLATE_TODAY)]
    masked = EntityIndex._mask(text, spans)
    spans += [(q.start, q.end, "_qty_") for q in extract_quantities(masked)]
    return EntityIndex._delex(text, spans)


def feature_text(delex: str) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: f" {_FEATURE_SYMBOL[m.group(0)]} ", delex.casefold())


class IntentModel:
    """TF-IDF of character n-grams and a linear classifier; plus the vocabulary of the templates."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import SGDClassifier
        from sklearn.pipeline import make_pipeline, make_union

        # character n-grams carry both languages; words and word pairs (each Chinese character a word) add
        # the order of English phrases. Logistic loss (so probabilities exist for the confidence threshold)
        # fitted by SGD: well under a second, against several for lbfgs; a fixed seed keeps it repeatable.
        self.pipeline = make_pipeline(
            make_union(
                TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
                TfidfVectorizer(
                    analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_PATTERN
                ),
            ),
            SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=50, tol=None, random_state=RANDOM_STATE),
        )
        self.pipeline.fit([feature_text(t) for t, _, _ in rows], [i for _, i, _ in rows])
        self.intents: tuple[str, ...] = tuple(self.pipeline.classes_)
        self.cjk_vocab, self.latin_vocab = template_vocabulary(t for t, _, _ in rows)

    def predict(self, delex: str) -> tuple[tuple[str, float], ...]:
        """Intents with their probabilities, most likely first."""
        probs = self.pipeline.predict_proba([feature_text(delex)])[0]
        order = sorted(range(len(probs)), key=lambda i: -probs[i])
        return tuple((self.intents[i], float(probs[i])) for i in order)

    def residual(self, delex: str) -> tuple[str, list[str]]:
        """Words of the question that neither the templates nor an entity account for (maybe an item):
        the longest such phrase and its pieces as they appear in ``delex``."""
        pieces: list[str] = []
        for chunk in re.split(r"\s+", _PLACEHOLDER_RE.sub(" | ", delex)):
            if chunk == "|":
                pieces.append("|")
                continue
            for part in re.findall(r"[\u3400-\u9fff]+|[A-Za-z0-9][A-Za-z0-9'’.\-]*|\S", chunk):
                if _CJK_RE.fullmatch(part):
                    pieces.extend(self._cjk_residual(part))
                elif part[0].isalnum() and part.casefold() not in self.latin_vocab | STOP_WORDS:
                    pieces.append(part)
                else:
                    pieces.append("|")
        phrases: list[list[str]] = []
        current: list[str] = []
        for piece in pieces:
            if piece == "|":
                if current:
                    phrases.append(current)
                current = []
            else:
                current.append(piece)
        if current:
            phrases.append(current)
        if not phrases:
            return "", []
        longest = max(phrases, key=lambda p: len("".join(p)))
        joined = "".join(longest) if all(_CJK_RE.fullmatch(x) for x in longest) else " ".join(longest)
        return joined, longest

    def _cjk_residual(self, run: str) -> list[str]:
        """Cut template words (longest first) and function characters out of a Chinese run."""
        out: list[str] = []
        i, keep = 0, ""
        while i < len(run):
            for n in range(min(6, len(run) - i), 1, -1):
                if run[i : i + n] in self.cjk_vocab:
                    break
            else:
                n = 1 if run[i] in STOP_CHARS else 0
            if n:
                if keep:
                    out.append(keep)
                    keep = ""
                out.append("|")
                i += n
            else:
                keep += run[i]
                i += 1
        if keep:
            out.append(keep)
        return out


def template_vocabulary(texts: Any) -> tuple[set[str], set[str]]:
    """Chinese substrings (2–6 characters) and English words that the templates use."""
    cjk: set[str] = set()
    latin: set[str] = set()
    for text in texts:
        for run in _CJK_RE.findall(text):
            for n in range(2, 7):
                cjk.update(run[i : i + n] for i in range(len(run) - n + 1))
        latin.update(w.casefold() for w in _LATIN_WORD_RE.findall(_PLACEHOLDER_RE.sub(" ", text)))
    return cjk, latin


def detect_language(text: str) -> Language:
    """The dominant script: Chinese characters count as 2/3 of a word each, English words as one."""
    plain = _PLACEHOLDER_RE.sub(" ", text)
    # codes and ids (PB-25, M8, SO-1020) and lone letters are neither language
    plain = re.sub(r"[A-Za-z]*\d[\w-]*|\b[A-Z]{1,5}-[\w-]+|\b[A-Za-z]\b", " ", plain)
    cjk = sum(len(r) for r in _CJK_RE.findall(plain))
    words = len(_LATIN_WORD_RE.findall(plain))
    if cjk == 0 and words == 0:
        return "zh" if _CJK_RE.search(text) else "en"
    return "zh" if cjk / 1.5 >= words else "en"


_MODEL: IntentModel | None = None
_MODEL_LOCK = threading.Lock()


def intent_model() -> IntentModel:
    """The process's intent model, trained on first use."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            _MODEL = IntentModel(load_training())
        return _MODEL


def parse(question: str, index: EntityIndex, today: date) -> Parse:
    """Entities, intent and language of one question.

    Words that name no record exactly but resolve to items ("桌子", "三聚氰胺板") are classified as an item
    mention, as they would be had the exact name been used.
    """
    extraction = index.extract(question, today)
    model = intent_model()
    residual, pieces = model.residual(extraction.delex)
    delex, guess = extraction.delex, None
    if residual and not extraction.items:
        guess = index.resolve(residual)
        threshold = LOOSE_ITEM_SCORE[phrase_script(residual)]
        if guess.code is not None or (guess.candidates and guess.candidates[0].score >= threshold):
            delex = _as_item(delex, pieces)
    ranked = model.predict(delex)
    intent, confidence = ranked[0]
    return Parse(
        intent=intent,
        confidence=confidence,
        ranked=ranked[:3],
        extraction=extraction,
        residual=residual,
        language=detect_language(extraction.delex),
        item_guess=guess,
    )


def _as_item(delex: str, pieces: list[str]) -> str:
    """``delex`` with the first piece of a loose item phrase as the item placeholder and the rest removed."""
    text = delex
    for n, piece in enumerate(pieces):
        text = text.replace(piece, " _item_ " if n == 0 else " ", 1)
    return re.sub(r"\s+", " ", text).strip()
