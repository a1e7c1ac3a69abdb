"""Near-duplicates on real photographs: every Telegram-like copy finds its own picture
only, and nothing else finds anything.

The corpus (tests/near_corpus.py, fetched by scripts/near-corpus from Debian and PyPI
into .cache/near-corpus) is every distinct picture the packages ship; each is stored as
the bot stores a Telegram photo, then copied the ways people copy pictures. Every
fingerprint is made on the path the bot ships (`images.prepare(printed=True)`).
"""

from __future__ import annotations

import itertools

import pytest

from bot.photo.fingerprint import CANDIDATE_BITS, same_picture
from tests import near_corpus
from tests.near_corpus import COPIES, NEGATIVES, Prints

# Synthetic patterns in OpenCV's sample data, not photographs: a chessboard is the same
# picture turned 180 degrees (so "rotated" finds it, rightly), and at 320 px its squares
# alias into another pattern (so its small copies are missed). Counted, not hidden.
PATTERNS = frozenset({"chessboard.png"})
# Known misses, by kind of copy: two pictures whose copy re-encoded twice moves a few
# thumbnail pixels by 0.91-0.96 standard deviations (a deep-field photo of small stars
# on black, where the deviation is small). The closest different pictures sit at 0.651,
# so the threshold (0.6) stays where it is: a miss costs a call, a false match an answer.
MISSED = frozenset(
    {
        ("re-encoded twice", "hubble_deep_field.jpg"),
        ("re-encoded twice", "stanford.png"),
    }
)
# Photographs the corpus must hold at least (the packages ship 284 files, 240 distinct
# pictures the bot accepts; 179 pass the information gate).
AT_LEAST = 100


@pytest.fixture(scope="module")
def corpus() -> list[Prints]:
    return near_corpus.all_prints(near_corpus.fetch())


def _name(prints: Prints) -> str:
    return prints.name.rsplit("/", 1)[-1]


def test_the_corpus_is_big_enough(corpus: list[Prints]) -> None:
    informative = [p for p in corpus if p.entry.informative]
    assert len(informative) >= AT_LEAST, (len(corpus), len(informative))


def test_every_copy_finds_its_own_picture(corpus: list[Prints]) -> None:
    missed = {
        (kind, _name(p))
        for p in corpus
        if p.entry.informative and _name(p) not in PATTERNS
        for kind, copy in p.copies.items()
        if copy is None or not same_picture(p.entry, copy)
    }
    assert missed <= MISSED
    assert set(COPIES) >= {"jpeg q70", "320 px short side", "png screenshot", "greyscale"}


def test_no_variant_of_a_picture_finds_it(corpus: list[Prints]) -> None:
    """Flips, rotations without EXIF, other text, a pasted object, a border, a crop."""
    accepted = {
        (kind, _name(p))
        for p in corpus
        if _name(p) not in PATTERNS
        for kind, variant in p.variants.items()
        if variant is not None and same_picture(p.entry, variant)
    }
    memes = {
        _name(p)
        for p in corpus
        if p.captioned is not None
        and (other := p.variants["other caption"]) is not None
        and same_picture(p.captioned, other)
    }
    assert accepted == set()
    assert memes == set()
    assert set(NEGATIVES) == {
        "flip",
        "rotated, no exif",
        "rotated 180, no exif",
        "other caption",
        "pasted object",
        "border",
        "crop",
    }


def test_no_two_different_pictures_share_an_answer(corpus: list[Prints]) -> None:
    """Every picture's entry and copies against every other picture's entry."""
    accepted = []
    candidates = 0
    for a, b in itertools.permutations(corpus, 2):
        for print_ in (a.entry, *(c for c in a.copies.values() if c is not None)):
            if (print_.phash ^ b.entry.phash).bit_count() <= CANDIDATE_BITS:
                candidates += 1
                if same_picture(b.entry, print_):
                    accepted.append((_name(a), _name(b)))
    assert accepted == []
    # The pHash stage lets through a few per thousand pairs; the thumbnail decides.
    assert candidates > 0


def test_near_blank_pictures_never_match(corpus: list[Prints]) -> None:
    blanks = [print_ for _, print_ in near_corpus.blanks()]
    assert all(b is not None and not b.informative for b in blanks)
    for first, second in itertools.combinations(blanks, 2):
        assert first is not None
        assert second is not None
        assert not same_picture(first, second)
    gated = [p for p in corpus if not p.entry.informative]
    assert all(not same_picture(p.entry, p.entry) for p in gated)
