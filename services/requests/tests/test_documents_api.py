"""Documents over HTTP: a resident uploads, attaches them to an application, the agency's
officers download them byte-identical, and nobody else sees them; an officer hands back a
result the applicant downloads; mismatched files are refused as a browser would send them."""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import text

from portal_testing.documents_corpus import JPEG, PDF, PNG, Sample, jpegs, pdfs, pngs, refused
from service_requests.documents.settings import MIB

if TYPE_CHECKING:
    from tests.conftest import Parties, World

KINDS: list[dict[str, Any]] = [
    {"code": "passport-scan", "name": {"kk": "-", "ru": "-", "en": "Passport"}},
    {
        "code": "photo",
        "name": {"kk": "-", "ru": "-", "en": "Photo"},
        "content_types": [JPEG, PNG],
        "max_size_bytes": 2 * MIB,
    },
    {"code": "extra", "name": {"kk": "-", "ru": "-", "en": "Extra"}, "optional": True,
     "max_count": 2},
]  # fmt: skip


@pytest.fixture
async def with_documents(world: World, parties: Parties) -> Parties:
    """The parties around a service that requires a passport scan and a photo."""
    parties.service_id = await world.service(parties.agency_id, required_documents=KINDS)
    return parties


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    *,
    name: str = "scan.pdf",
    declared: str | None = PDF,
) -> httpx.Response:
    files = {"file": (name, data, declared)} if declared else {"file": (name, data)}
    return await client.post("/api/v1/documents", files=files, headers=headers)


async def uploaded(client: httpx.AsyncClient, headers: dict[str, str], sample: Sample) -> str:
    response = await upload(client, headers, sample.data, name=sample.name,
                            declared=sample.declared)  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def apply(
    parties: Parties, documents: list[dict[str, str]], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await parties.client.post(
        "/api/v1/requests",
        json={"service_id": str(parties.service_id), "form_data": parties.good_form,
              "documents": documents},
        headers=headers or parties.resident(),
    )  # fmt: skip


# "паспорт.pdf", spelled out for the linter's sake (Cyrillic letters look like Latin ones).
PASSPORT = "\u043f\u0430\u0441\u043f\u043e\u0440\u0442.pdf"


def a_pdf() -> Sample:
    return Sample("passport.pdf", pdfs()[0].data, PDF)


def a_jpeg() -> Sample:
    return Sample("photo.jpg", jpegs()[0].data, JPEG)


async def test_the_agency_downloads_what_the_resident_attached_and_nobody_else_sees_it(
    with_documents: Parties,
) -> None:
    p = with_documents
    pdf, jpeg = a_pdf(), a_jpeg()
    pdf_id = await uploaded(p.client, p.resident(), pdf)
    jpeg_id = await uploaded(p.client, p.resident(), jpeg)

    response = await apply(p, [{"code": "passport-scan", "document_id": pdf_id},
                               {"code": "photo", "document_id": jpeg_id}])  # fmt: skip
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]

    listed = await p.client.get(f"/api/v1/requests/{request_id}/documents", headers=p.officer())
    assert listed.status_code == 200
    assert {(d["code"], d["id"]) for d in listed.json()["items"]} == {
        ("passport-scan", pdf_id), ("photo", jpeg_id)}  # fmt: skip
    for document_id, sample in ((pdf_id, pdf), (jpeg_id, jpeg)):
        got = await p.client.get(f"/api/v1/documents/{document_id}/content", headers=p.officer())
        assert got.status_code == 200
        assert got.content == sample.data
        assert got.headers["content-type"] == sample.declared
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["etag"] == f'"{hashlib.sha256(sample.data).hexdigest()}"'
        assert got.headers["content-disposition"].startswith("attachment;")
        for stranger in (p.other_resident(), p.other_officer()):
            for path in (f"/api/v1/documents/{document_id}",
                         f"/api/v1/documents/{document_id}/content"):  # fmt: skip
                denied = await p.client.get(path, headers=stranger)
                assert denied.status_code == 404, path
                assert denied.json()["type"].endswith("document-not-found")
        assert (await p.client.get(f"/api/v1/requests/{request_id}/documents",
                                   headers=p.other_officer())).status_code == 404  # fmt: skip


async def test_an_upload_answers_what_was_stored(parties: Parties) -> None:
    pdf = a_pdf()
    name = "../../etc/\u202e" + PASSPORT
    response = await upload(parties.client, parties.resident(), pdf.data, name=name, declared=PDF)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == PASSPORT
    assert body["content_type"] == PDF
    assert body["size"] == len(pdf.data)
    assert body["sha256"] == hashlib.sha256(pdf.data).hexdigest()
    assert body["status"] == "clean"
    assert response.headers["location"] == f"/api/v1/documents/{body['id']}"
    # Before it is attached, only its uploader sees it.
    mine = await parties.client.get(f"/api/v1/documents/{body['id']}", headers=parties.resident())
    assert mine.status_code == 200
    assert (await parties.client.get(f"/api/v1/documents/{body['id']}",
                                     headers=parties.officer())).status_code == 404  # fmt: skip


@pytest.mark.parametrize(
    "name",
    ["png-declared-pdf", "html-declared-pdf", "svg-with-script", "pdf-truncated",
     "polyglot-png-then-html", "windows-executable"],
)  # fmt: skip
async def test_mismatched_files_are_refused_with_415(parties: Parties, name: str) -> None:
    sample = next(s for s in refused() if s.name == name)
    response = await upload(parties.client, parties.resident(), sample.data,
                            name=f"{name}.pdf", declared=sample.declared)  # fmt: skip
    assert response.status_code == 415, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("unsupported-document-type")


async def test_an_empty_file_and_no_file_are_refused(parties: Parties) -> None:
    empty = await upload(parties.client, parties.resident(), b"")
    assert empty.status_code == 422
    assert empty.json()["type"].endswith("empty-document")
    no_file = await parties.client.post(
        "/api/v1/documents", files={"other": ("a.pdf", a_pdf().data)}, headers=parties.resident()
    )
    assert no_file.status_code == 422
    assert no_file.json()["type"].endswith("upload-file-missing")
    not_multipart = await parties.client.post(
        "/api/v1/documents", content=a_pdf().data, headers=parties.resident()
    )
    assert not_multipart.status_code == 400


async def test_a_file_past_the_limit_is_413(parties: Parties) -> None:
    png = pngs()[0].data
    big = png + b"\0" * (10 * MIB + 1 - len(png))
    response = await upload(parties.client, parties.resident(), big, name="a.png", declared=PNG)
    assert response.status_code == 413
    assert response.json()["type"].endswith("document-too-large")


async def test_agency_systems_and_admins_upload_nothing(parties: Parties) -> None:
    for headers in (parties.agency_system(), parties.admin()):
        response = await upload(parties.client, headers, a_pdf().data)
        assert response.status_code == 403


async def test_range_requests(parties: Parties) -> None:
    pdf = a_pdf()
    document_id = await uploaded(parties.client, parties.resident(), pdf)
    url = f"/api/v1/documents/{document_id}/content"
    part = await parties.client.get(url, headers={**parties.resident(), "Range": "bytes=5-14"})
    assert part.status_code == 206
    assert part.content == pdf.data[5:15]
    assert part.headers["content-range"] == f"bytes 5-14/{len(pdf.data)}"
    tail = await parties.client.get(url, headers={**parties.resident(), "Range": "bytes=-7"})
    assert tail.status_code == 206
    assert tail.content == pdf.data[-7:]
    outside = await parties.client.get(
        url, headers={**parties.resident(), "Range": f"bytes={len(pdf.data)}-"}
    )
    assert outside.status_code == 416
    assert outside.headers["content-range"] == f"bytes */{len(pdf.data)}"
    same = await parties.client.get(
        url, headers={**parties.resident(), "If-None-Match": part.headers["etag"]}
    )
    assert same.status_code == 304


async def test_missing_and_unfit_documents_are_refused_with_every_reason(
    with_documents: Parties,
) -> None:
    p = with_documents
    missing = await apply(p, [])
    assert missing.status_code == 422
    problem = missing.json()
    assert problem["type"].endswith("documents-invalid")
    assert problem["missing"] == ["passport-scan", "photo"]

    theirs = await uploaded(p.client, p.other_resident(), a_pdf())
    pdf_as_photo = await uploaded(p.client, p.resident(), a_pdf())
    unfit = await apply(p, [
        {"code": "passport-scan", "document_id": theirs},
        {"code": "photo", "document_id": pdf_as_photo},
        {"code": "visa", "document_id": str(uuid.uuid4())},
    ])  # fmt: skip
    assert unfit.status_code == 422
    locations = {e["location"]: e["message"] for e in unfit.json()["errors"]}
    assert "documents[0].document_id" in locations  # not the caller's
    assert "application/pdf" in locations["documents[1].document_id"]  # type not allowed
    assert "documents[2].code" in locations
    # Nothing was submitted.
    listed = await p.client.get("/api/v1/requests", headers=p.resident())
    assert listed.json()["items"] == []


async def test_a_document_is_attached_once_and_a_replay_answers_the_same(
    with_documents: Parties,
) -> None:
    p = with_documents
    scan = await uploaded(p.client, p.resident(), a_pdf())
    photo = await uploaded(p.client, p.resident(), a_jpeg())
    documents = [{"code": "passport-scan", "document_id": scan},
                 {"code": "photo", "document_id": photo}]  # fmt: skip
    key = {**p.resident(), "Idempotency-Key": "with-documents-1"}
    first = await apply(p, documents, key)
    assert first.status_code == 201, first.text
    replay = await apply(p, documents, key)
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    again = await apply(p, documents)
    assert again.status_code == 422
    assert "already attached" in again.text


async def test_resubmit_replaces_a_document_and_complete_hands_back_a_result(
    with_documents: Parties,
) -> None:
    p = with_documents
    scan = await uploaded(p.client, p.resident(), a_pdf())
    photo = await uploaded(p.client, p.resident(), a_jpeg())
    created = await apply(p, [{"code": "passport-scan", "document_id": scan},
                              {"code": "photo", "document_id": photo}])  # fmt: skip
    request_id = created.json()["id"]
    assert (await p.act(request_id, p.officer(), "accept")).status_code == 200
    asked = await p.act(request_id, p.officer(), "request_info", comment="A sharper photo")
    assert asked.status_code == 200
    sharper = await uploaded(p.client, p.resident(), Sample("p.png", pngs()[0].data, PNG))
    resubmitted = await p.act(request_id, p.resident(), "resubmit", form_data=p.good_form,
                              documents=[{"code": "photo", "document_id": sharper}])  # fmt: skip
    assert resubmitted.status_code == 200, resubmitted.text
    assert await attached(p, request_id) == {("passport-scan", scan), ("photo", sharper)}

    officer_id = uuid.uuid4()
    officer = p.issuer.headers(sub=officer_id, roles=["officer"], agency_id=p.agency_id)
    certificate = Sample("certificate.pdf", pdfs()[-1].data, PDF)
    result_id = await uploaded(p.client, officer, certificate)
    assert (await p.act(request_id, officer, "approve")).status_code == 200
    # The applicant's own upload is not the officer's to hand back.
    not_theirs = await p.act(request_id, officer, "complete", result="Done",
                             result_document_id=scan)  # fmt: skip
    assert not_theirs.status_code == 422
    done = await p.act(request_id, officer, "complete", result="Certificate issued",
                       result_document_id=result_id)  # fmt: skip
    assert done.status_code == 200, done.text
    assert ("result", result_id) in await attached(p, request_id)
    got = await p.client.get(f"/api/v1/documents/{result_id}/content", headers=p.resident())
    assert got.status_code == 200
    assert got.content == certificate.data
    stranger = await p.client.get(
        f"/api/v1/documents/{result_id}/content", headers=p.other_resident()
    )
    assert stranger.status_code == 404


async def attached(p: Parties, request_id: str) -> set[tuple[str, str]]:
    listed = await p.client.get(f"/api/v1/requests/{request_id}/documents", headers=p.resident())
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return {(d["code"], d["id"]) for d in items}


async def test_events_carry_no_filenames(world: World, with_documents: Parties) -> None:
    p = with_documents
    scan = await uploaded(p.client, p.resident(), Sample("secret-name.pdf", a_pdf().data, PDF))
    photo = await uploaded(p.client, p.resident(), a_jpeg())
    created = await apply(p, [{"code": "passport-scan", "document_id": scan},
                              {"code": "photo", "document_id": photo}])  # fmt: skip
    assert created.status_code == 201
    async with world.app.state.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT data::text FROM outbox"))).scalars().all()
    assert rows
    assert not any("secret-name" in r for r in rows)
    assert any(created.json()["id"] in r for r in rows)
