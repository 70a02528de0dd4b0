"""Understanding of the offline assistant: held-out accuracy, entity resolution through the chromadb index
(with the offline embedding only), the training data, and the help pages."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import chromadb
import numpy as np
import pytest
import yaml

from assistant.offline.catalog import Catalog, CatalogItem, catalog_from_dataset
from assistant.offline.chroma import HashingEmbedding
from assistant.offline.entities import EntityIndex, chroma_client, entity_index
from assistant.offline.evaluation import DEMO_FILE, HELDOUT_FILE, TARGET_ACCURACY, evaluate_heldout
from assistant.offline.knowledge import load_pages
from assistant.offline.nlu import (
    RANDOM_STATE,
    WORD_PATTERN,
    IntentModel,
    delexicalize_template,
    feature_text,
    intent_model,
    load_training,
    model_cache_path,
    train_intent_model,
    training_digest,
)

TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def index() -> EntityIndex:
    return entity_index(catalog_from_dataset(yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))))


def test_heldout_accuracy_meets_the_target() -> None:
    report = evaluate_heldout()
    assert report.questions >= 60
    assert all(n >= 25 for _, n in report.by_language.values()), report.by_language
    assert report.intent_accuracy >= TARGET_ACCURACY, report.format()
    assert report.slot_accuracy >= TARGET_ACCURACY, report.format()


def test_training_data_has_enough_paraphrases_per_intent_and_language() -> None:
    counts = Counter((intent, lang) for _, intent, lang in load_training())
    intents = {intent for intent, _ in counts}
    for intent in intents:
        for lang in ("zh", "en"):
            assert counts[(intent, lang)] >= 15, (intent, lang)


def test_heldout_questions_are_not_training_templates(index: EntityIndex) -> None:
    training = {text for text, _, _ in load_training()}
    cases = yaml.safe_load(HELDOUT_FILE.read_text(encoding="utf-8"))
    copied = [c["q"] for c in cases if index.extract(c["q"], TODAY).delex in training]
    assert copied == []


def test_training_is_deterministic() -> None:
    questions = ["_item_ 现在能做多少", "what is short for _mo_", "你好", "what about _qty_"]
    rows = load_training()
    again = IntentModel(train_intent_model(rows), rows)
    for text in questions:
        first, second = intent_model().predict(text), again.predict(text)
        assert [i for i, _ in first] == [i for i, _ in second]
        assert np.allclose([p for _, p in first], [p for _, p in second])


def test_the_numpy_scorer_matches_scikit_learn_on_every_phrasing(index: EntityIndex) -> None:
    # the cached parameters are scored without scikit-learn; they must give the pipeline's probabilities
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline, make_union

    rows = load_training()
    texts = [feature_text(t) for t, _, _ in rows]
    pipeline = make_pipeline(
        make_union(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
            TfidfVectorizer(
                analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_PATTERN
            ),
        ),
        SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=50, tol=None, random_state=RANDOM_STATE),
    ).fit(texts, [i for _, i, _ in rows])
    cases = yaml.safe_load(HELDOUT_FILE.read_text(encoding="utf-8"))
    probe = texts + [feature_text(index.extract(c["q"], TODAY).delex) for c in cases]
    expected = pipeline.predict_proba(probe)
    model = intent_model()
    assert list(model.intents) == [str(c) for c in pipeline.classes_]
    for text, want in zip(probe, expected, strict=True):
        assert np.allclose(model.probabilities(text), want, atol=1e-9)


def test_the_trained_parameters_are_cached_under_the_training_digest() -> None:
    intent_model()
    assert model_cache_path(training_digest()).exists()


def test_template_literals_are_delexicalized_like_questions() -> None:
    assert delexicalize_template("今天天气怎么样") == "_date_ 天气怎么样"
    assert delexicalize_template("能接 {qty} {item} {date} 交货吗") == "能接 _qty_ _item_ _date_ 交货吗"


# ------------------------------------------------------------------------------------------------ entities


@pytest.mark.parametrize(
    ("question", "code"),
    [
        ("办公桌1200 还有多少", "DSK-1200"),  # name
        ("1.2米办公桌的库存", "DSK-1200"),  # alias with a number inside
        ("standing desks in stock", "DSK-1400E"),  # English alias, plural
        ("dsk1200 stock", "DSK-1200"),  # code without separator
        ("DSK 1200 stock", "DSK-1200"),
        ("DKS-1200 stock", "DSK-1200"),  # a typo in the code
        ("网椅能做多少", "CHR-ERG"),
        ("气杆库存", "GASLIFT"),
    ],
)
def test_items_by_code_name_alias_and_fuzzy_code(index: EntityIndex, question: str, code: str) -> None:
    found = index.extract(question, TODAY)
    assert [m.code for m in found.items] == [code]


@pytest.mark.parametrize(
    ("phrase", "code"),
    [("气压棒", "GASLIFT"), ("oak desk", "DSK-1200"), ("人体工学椅子", "CHR-ERG"), ("升降桌子", "DSK-1400E")],
)
def test_loose_words_resolve_through_the_vector_index(index: EntityIndex, phrase: str, code: str) -> None:
    assert index.resolve(phrase).code == code


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("桌子", {"DSK-1200", "DSK-1400E"}),
        ("椅子", {"CHR-ERG", "CHR-STF"}),
        ("螺丝", {"SCREW-M6", "SCREW-M8"}),
    ],
)
def test_a_kind_of_item_is_ambiguous_with_its_candidates(
    index: EntityIndex, phrase: str, expected: set[str]
) -> None:
    resolved = index.resolve(phrase)
    assert resolved.code is None
    assert expected <= {c.code for c in resolved.candidates[:3]}


def test_nonsense_resolves_to_nothing(index: EntityIndex) -> None:
    assert index.resolve("capital").code is None
    assert index.resolve("新闻").candidates == ()


@pytest.mark.parametrize(
    ("question", "orders"),
    [
        ("so1020 status", ["SO-1020"]),
        ("mo 2612-05 进度", ["MO-2612-05"]),
        ("PO-2611-02 和 SC-2612-01", ["PO-2611-02", "SC-2612-01"]),
        ("SO-1006/2 发了吗", ["SO-1006"]),
    ],
)
def test_order_ids(index: EntityIndex, question: str, orders: list[str]) -> None:
    assert [o.code for o in index.extract(question, TODAY).orders] == orders


@pytest.mark.parametrize(
    ("question", "customer"),
    [("致远科技有哪些订单", "C-ZHIYUAN"), ("orders of Galaxy Cowork", "C-XINGHE"), ("网店的单", "C-ONLINE")],
)
def test_customers(index: EntityIndex, question: str, customer: str) -> None:
    assert [c.code for c in index.extract(question, TODAY).customers] == [customer]


def test_quantities_inside_names_are_not_quantities(index: EntityIndex) -> None:
    found = index.extract("做 20 个办公桌1200", TODAY)
    assert [q.value for q in found.quantities] == [20]
    assert [m.code for m in found.items] == ["DSK-1200"]


def test_the_index_never_uses_chromadbs_default_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    from chromadb.utils import embedding_functions

    def refuse(self: object, input: object) -> None:
        raise AssertionError("chromadb's default embedding function downloads a model")

    monkeypatch.setattr(embedding_functions.DefaultEmbeddingFunction, "__call__", refuse)
    catalog = Catalog(
        items=(CatalogItem("BOLT-X9", "特制螺栓", ("special bolt",)), CatalogItem("NUT-X9", "特制螺母")),
        customers=(),
    )
    index = EntityIndex(catalog, chroma_client)
    assert index.resolve("螺栓").code == "BOLT-X9"
    assert index.collection.configuration["embedding_function"].name() == HashingEmbedding.name()


def test_a_persisted_index_reopens_with_the_offline_embedding(tmp_path: Path) -> None:
    catalog = Catalog(items=(CatalogItem("PIPE-7", "不锈钢管", ("steel pipe",)),), customers=())
    path = str(tmp_path / "chroma")
    index = EntityIndex(catalog, lambda: chromadb.PersistentClient(path=path))
    reopened = chromadb.PersistentClient(path=path).get_collection(index.collection.name)
    metadatas = reopened.query(query_texts=["steel pipes"], n_results=1)["metadatas"]
    assert metadatas is not None and metadatas[0][0]["code"] == "PIPE-7"


# ------------------------------------------------------------------------------------------------ help pages


def test_every_help_topic_exists_in_both_languages() -> None:
    pages = load_pages()
    topics = {p.topic for p in pages}
    assert {"kitting", "backflush", "mrp_exceptions", "phantom", "substitutes", "proposals", "promising",
            "costing"} <= topics  # fmt: skip
    for topic in topics:
        langs = {p.language for p in pages if p.topic == topic}
        assert langs == {"zh", "en"}, topic
    assert all(p.title and p.keywords and p.body for p in pages)
