"""Content checks of uploads: genuine PDF, JPEG and PNG files from several producers are
all accepted, and every file of the refused corpus (mismatched, truncated, empty,
scripted, polyglot) is refused, whether it arrives whole or in small pieces."""

from __future__ import annotations

import pytest

from portal_testing.documents_corpus import Sample, genuine, refused
from service_requests.documents.detect import ContentInspector, inspect_bytes
from service_requests.documents.errors import EmptyDocument, UnsupportedDocumentType
from service_requests.documents.names import display_filename
from service_requests.documents.settings import JPEG, PDF, PNG

ALLOWED = frozenset({PDF, JPEG, PNG})
GENUINE = genuine()
REFUSED = refused()


def _in_pieces(sample: Sample, size: int) -> str:
    inspector = ContentInspector(allowed=ALLOWED, declared=sample.declared)
    for offset in range(0, len(sample.data), size):
        inspector.feed(sample.data[offset : offset + size])
    return inspector.finish()


def _expected(sample: Sample) -> str:
    return {"pdf": PDF, "png": PNG, "jpeg": JPEG}[sample.name.split("-")[0]]


@pytest.mark.parametrize("sample", GENUINE, ids=lambda s: s.name)
def test_every_genuine_file_is_accepted_with_its_type(sample: Sample) -> None:
    assert inspect_bytes(sample.data, allowed=ALLOWED, declared=sample.declared) == _expected(
        sample
    )
    # Streamed in pieces small enough to cut every marker and the head.
    assert _in_pieces(sample, 997) == _expected(sample)


@pytest.mark.parametrize("sample", REFUSED, ids=lambda s: s.name)
def test_every_bad_file_is_refused(sample: Sample) -> None:
    with pytest.raises((UnsupportedDocumentType, EmptyDocument)):
        inspect_bytes(sample.data, allowed=ALLOWED, declared=sample.declared)
    with pytest.raises((UnsupportedDocumentType, EmptyDocument)):
        _in_pieces(sample, 7)


def test_the_whole_corpus_scores_one_hundred_percent() -> None:
    accepted = [s.name for s in GENUINE if _accepts(s)]
    refused_ = [s.name for s in REFUSED if not _accepts(s)]
    assert len(GENUINE) >= 25
    assert len(REFUSED) >= 25
    assert accepted == [s.name for s in GENUINE]
    assert refused_ == [s.name for s in REFUSED]


def _accepts(sample: Sample) -> bool:
    try:
        inspect_bytes(sample.data, allowed=ALLOWED, declared=sample.declared)
    except (UnsupportedDocumentType, EmptyDocument):
        return False
    return True


def test_a_wrong_type_is_refused_at_the_first_piece_before_the_rest_arrives() -> None:
    inspector = ContentInspector(allowed=ALLOWED)
    with pytest.raises(UnsupportedDocumentType) as caught:
        inspector.feed(b"<html>" + b" " * 8192)
    assert caught.value.status == 415


def test_a_type_left_off_the_allow_list_is_refused() -> None:
    png = next(s for s in GENUINE if s.name == "png-rgb")
    with pytest.raises(UnsupportedDocumentType):
        inspect_bytes(png.data, allowed={PDF})


def test_markup_cut_across_two_pieces_is_still_found() -> None:
    png = next(s for s in GENUINE if s.name == "png-rgb").data
    inspector = ContentInspector(allowed=ALLOWED)
    inspector.feed(png[:-12] + b"<scr")
    with pytest.raises(UnsupportedDocumentType):
        inspector.feed(b"ipt>" + png[-12:])


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("passport.pdf", "passport.pdf"),
        ("C:\\Users\\me\\Desktop\\passport.pdf", "passport.pdf"),
        ("../../etc/passwd", "passwd"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("tab\tand\nnewline.png", "tab and newline.png"),
        ("Cafe\u0301.jpg", "Caf\u00e9.jpg"),
        ("", "document"),
        (None, "document"),
        ("...", "document"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_the_file_name_is_kept_as_display_text_only(raw: str | None, shown: str) -> None:
    assert display_filename(raw) == shown
