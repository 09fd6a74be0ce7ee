"""The model files are built from the packaged weights and match the reference model."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastembed import TextEmbedding

from companies.search import model_files
from companies.search.embedding import embed_documents, embed_query

REFERENCE = Path(__file__).parent / "fixtures" / "minilm_reference.json"


@pytest.fixture(scope="module")
def built_folder(tmp_path_factory):
    return model_files.ensure_model_files(tmp_path_factory.mktemp("model") / "minilm")


def test_built_model_agrees_with_sentence_transformers(built_folder):
    """Reference vectors were computed with sentence-transformers on the original weights."""
    reference = json.loads(REFERENCE.read_text())
    model = TextEmbedding(
        model_files.MODEL_NAME, specific_model_path=str(built_folder), local_files_only=True
    )
    vectors = np.array(list(model.embed(reference["texts"])))
    expected = np.array(reference["vectors"])
    cosines = (vectors * expected).sum(axis=1) / (
        np.linalg.norm(vectors, axis=1) * np.linalg.norm(expected, axis=1)
    )
    assert cosines.min() >= 0.99999
    # One text is longer than 256 tokens: it only matches if truncation matches.
    assert max(len(text) for text in reference["texts"]) > 2000


def test_building_again_reuses_the_folder(built_folder):
    stamp = (built_folder / "model.onnx").stat().st_mtime_ns
    assert model_files.ensure_model_files(built_folder) == built_folder
    assert (built_folder / "model.onnx").stat().st_mtime_ns == stamp
    assert not [p for p in built_folder.parent.iterdir() if p.name.startswith(".")]


def test_the_built_model_is_readable_by_other_users(built_folder):
    # The container image builds it as root and runs the site as an unprivileged user.
    assert built_folder.stat().st_mode & 0o777 == 0o755
    assert all(path.stat().st_mode & 0o004 for path in built_folder.iterdir())


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    copy = tmp_path / "source"
    shutil.copytree(model_files.source_folder(), copy)
    with open(copy / "model.safetensors", "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\0\0\0\0")
    monkeypatch.setattr(model_files, "source_folder", lambda: copy)
    with pytest.raises(model_files.ModelFilesError, match="sha256"):
        model_files.ensure_model_files(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_query_and_document_vectors_are_normalised_and_related():
    [doc] = embed_documents(["SpotHero lets drivers reserve parking spots from their phone."])
    query = np.array(embed_query("reserve parking from my phone"))
    unrelated = np.array(embed_query("a chocolate cake recipe"))
    assert len(doc) == 384 and abs(np.linalg.norm(doc) - 1) < 1e-5
    assert query @ doc > 0.6 > unrelated @ doc + 0.4


def test_documents_reach_the_model_by_token_count_and_come_back_in_order(monkeypatch):
    """Sorted by tokens, not characters: a batch is padded to its longest text in tokens."""
    from companies.search import embedding

    texts = [
        "Xq7zvb Kj9wpl Rtz4mn",  # few characters, many word pieces
        "We sell shoes and hats to all of you in a big shop",  # more characters, fewer pieces
        "A",
        "Fintech",
    ]
    model = embedding.get_model()
    counts = dict(zip(texts, embedding.token_counts(model, texts)))
    assert counts[texts[0]] > counts[texts[1]] and len(texts[0]) < len(texts[1])
    seen = []
    real_embed = model.embed
    monkeypatch.setattr(
        model, "embed", lambda batch, **kw: seen.extend(batch) or real_embed(batch, **kw)
    )
    vectors = embed_documents(texts)
    assert [counts[text] for text in seen] == sorted(counts.values())
    for text, vector in zip(texts, vectors):
        [alone] = [v.tolist() for v in real_embed([text])]
        assert np.allclose(vector, alone, atol=1e-5)
