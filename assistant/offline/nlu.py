"""Understanding a question: entities first, then a learned intent model on the delexicalized text.

The intent model is character n-gram TF-IDF (char_wb 1–4, which suits Chinese and English alike) and a
logistic regression, trained once per process on the paraphrases in data/train.yaml with a fixed seed.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import sys
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
# A subcontract order is asked about like a production order (the templates only write {mo}).
_FEATURE_SYMBOL["_sc_"] = _FEATURE_SYMBOL["_mo_"]
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
    """TF-IDF of character n-grams and words, scored by a linear classifier; plus the templates' vocabulary.

    Training uses scikit-learn (see :func:`train_intent_model`); answering needs only numpy and the
    exported parameters, so a process that answers one question does not import scikit-learn. The
    parameters are cached on disk under a digest of the training data and of the code that shapes the
    features (``make install`` builds the cache; a changed digest retrains on first use).
    """

    def __init__(self, params: dict[str, Any], rows: list[tuple[str, str, str]]) -> None:
        self.intents: tuple[str, ...] = tuple(str(c) for c in params["classes"])
        self.char_vocab = {str(t): i for i, t in enumerate(params["char_terms"])}
        self.char_idf = params["char_idf"]
        self.word_vocab = {str(t): i for i, t in enumerate(params["word_terms"])}
        self.word_idf = params["word_idf"]
        self.coef = params["coef"]
        self.intercept = params["intercept"]
        self.cjk_vocab, self.latin_vocab = template_vocabulary(t for t, _, _ in rows)

    def _tfidf(self, terms: list[str], vocab: dict[str, int], idf: Any) -> Any:
        import numpy as np

        counts: dict[int, int] = {}
        for term in terms:
            col = vocab.get(term)
            if col is not None:
                counts[col] = counts.get(col, 0) + 1
        vec = np.zeros(len(vocab))
        for col, tf in counts.items():
            vec[col] = (1.0 + math.log(tf)) * idf[col]  # sublinear tf
        norm = float(np.sqrt(vec @ vec))
        return vec / norm if norm > 0 else vec

    def probabilities(self, text: str) -> Any:
        """Per-intent probabilities, exactly as the scikit-learn pipeline computes them."""
        import numpy as np

        features = np.concatenate(
            [
                self._tfidf(char_wb_ngrams(text.lower()), self.char_vocab, self.char_idf),
                self._tfidf(word_ngrams(text.lower()), self.word_vocab, self.word_idf),
            ]
        )
        scores = self.coef @ features + self.intercept
        prob = 1.0 / (1.0 + np.exp(-scores))  # one-vs-rest logistic, normalized over the intents
        total = prob.sum()
        return prob / total if total > 0 else np.full(len(prob), 1.0 / len(prob))

    def predict(self, delex: str) -> tuple[tuple[str, float], ...]:
        """Intents with their probabilities, most likely first."""
        probs = self.probabilities(feature_text(delex))
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


_WHITE_SPACES = re.compile(r"\s\s+")
_WORD_RE = re.compile(WORD_PATTERN)
# The modules whose code shapes the training features: a change to any of them retrains the model.
FEATURE_SOURCES = ("nlu.py", "entities.py", "dates.py", "numbers.py", "embedding.py")


def char_wb_ngrams(text: str, min_n: int = 1, max_n: int = 4) -> list[str]:
    """Character n-grams inside word boundaries, padded with a space (scikit-learn's ``char_wb``)."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        w = f" {word} "
        for n in range(min_n, max_n + 1):
            offset = 0
            grams.append(w[offset : offset + n])
            while offset + n < len(w):
                offset += 1
                grams.append(w[offset : offset + n])
            if offset == 0:  # a word shorter than n counts once
                break
    return grams


def word_ngrams(text: str) -> list[str]:
    """Words (each Chinese character a word) and word pairs (scikit-learn's ``word`` analyzer, 1–2)."""
    tokens = _WORD_RE.findall(text)
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def training_digest() -> str:
    """Digest of the paraphrases and of the code that turns them into features."""
    h = hashlib.sha256(TRAIN_FILE.read_bytes())
    here = Path(__file__).parent
    for name in FEATURE_SOURCES:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:20]


def model_cache_path(digest: str) -> Path:
    from tools.cache import cache_dir

    return cache_dir() / f"intent-model-{digest}.npz"


def train_intent_model(rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Fit the TF-IDF + logistic (SGD) pipeline and export its parameters as arrays."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline, make_union

    # character n-grams carry both languages; words and word pairs (each Chinese character a word) add
    # the order of English phrases. Logistic loss (so probabilities exist for the confidence threshold)
    # fitted by SGD: well under a second, against several for lbfgs; a fixed seed keeps it repeatable.
    char_vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)
    word_vec = TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_PATTERN
    )
    classifier = SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=50, tol=None, random_state=RANDOM_STATE)
    pipeline = make_pipeline(make_union(char_vec, word_vec), classifier)
    pipeline.fit([feature_text(t) for t, _, _ in rows], [i for _, i, _ in rows])

    def terms(vec: Any) -> list[str]:
        return [t for t, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]

    return {
        "classes": [str(c) for c in classifier.classes_],
        "char_terms": terms(char_vec),
        "char_idf": char_vec.idf_,
        "word_terms": terms(word_vec),
        "word_idf": word_vec.idf_,
        "coef": classifier.coef_,
        "intercept": classifier.intercept_,
    }


def load_or_train(rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The cached parameters for the current digest, or freshly trained ones (then cached)."""
    import numpy as np

    path = model_cache_path(training_digest())
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    params = train_intent_model(rows)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in params.items()})
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    except OSError:
        pass  # a read-only home: train again next time
    return params


_MODEL: IntentModel | None = None
_MODEL_LOCK = threading.Lock()


def intent_model() -> IntentModel:
    """The process's intent model (trained once per digest and cached on disk)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            rows = load_training()
            _MODEL = IntentModel(load_or_train(rows), rows)
        return _MODEL


def main() -> None:
    """``python -m assistant.offline.nlu``: train (if needed) and cache the intent model."""
    model = intent_model()
    sys.stdout.write(
        f"intent model ready: {len(model.intents)} intents, {model_cache_path(training_digest())}\n"
    )


if __name__ == "__main__":
    main()


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
