"""An offline text embedding: signed hashing of character 1–3-grams (no model, no download, no chromadb)."""

from __future__ import annotations

import re
import unicodedata
import zlib

import numpy as np

DEFAULT_DIMS = 1024
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC (full-width to half-width), case-folded, whitespace collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def char_ngrams(text: str, max_n: int = 3) -> list[str]:
    """Character 1..max_n-grams of the normalized text.

    A Latin word at either end is padded with a space so word edges count (desk vs desktop); Chinese is
    not, since an edge gram of a two-character word would weigh as much as its characters.
    """
    norm = normalize_text(text)
    if not norm:
        return []
    padded = (" " if norm[0].isascii() else "") + norm + (" " if norm[-1].isascii() else "")
    grams: list[str] = []
    for n in range(1, max_n + 1):
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    # a lone space carries no meaning and would pull every text together
    return [g for g in grams if g.strip()]


def embed_text(text: str, dims: int = DEFAULT_DIMS) -> np.ndarray:
    """One L2-normalized vector: each n-gram adds ±1 at its CRC32 bucket (signed feature hashing)."""
    vec = np.zeros(dims, dtype=np.float32)
    for gram in char_ngrams(text):
        # crc32 is stable across processes (Python's hash() is salted), so a persisted index stays valid
        h = zlib.crc32(gram.encode("utf-8"))
        sign = 1.0 if (h >> 31) & 1 else -1.0
        vec[h % dims] += sign
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec
