"""What a caller sees of the proxying itself: headers, streaming, and failing upstreams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from portal_testing.processes import Connect, Process

PROBLEM = "application/problem+json"


def _headers(echo: dict[str, object]) -> dict[str, str]:
    pairs = echo["headers"]
    assert isinstance(pairs, list)
    return {str(name): str(value) for name, value in pairs}


async def test_path_and_query_reach_the_service_unchanged(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        response = await client.get("/api/v1/agencies/a%2Fb/c", params={"q": "Байқоңыр", "n": 1})
    assert response.status_code == 200
    echo = response.json()
    assert echo["service"] == "agencies"
    assert echo["path"] == "/api/v1/agencies/a/b/c"  # the echo sees the decoded path
    assert echo["query"] == "q=%D0%91%D0%B0%D0%B9%D2%9B%D0%BE%D2%A3%D1%8B%D1%80&n=1"


async def test_forwarded_headers_are_the_gateways_and_hop_by_hop_headers_stop(
    edge: Process, connect: Connect
) -> None:
    async with connect(edge, "127.0.0.11") as client:
        response = await client.get(
            "/api/v1/services",
            headers={
                "Connection": "keep-alive, X-Internal-Hint",
                "X-Internal-Hint": "drop me",
                "Keep-Alive": "timeout=5",
                "TE": "trailers",
                "Proxy-Authorization": "Basic c2VjcmV0",
                "X-Forwarded-For": "203.0.113.9",
                "X-Forwarded-Host": "evil.example",
                "X-Custom": "kept",
            },
        )
    sent = _headers(response.json())
    assert sent["x-custom"] == "kept"
    for name in ("x-internal-hint", "keep-alive", "te", "proxy-authorization"):
        assert name not in sent
    # A caller cannot claim another address or host at the edge.
    assert sent["x-forwarded-for"] == "127.0.0.11"
    assert sent["x-forwarded-host"] == edge.url.removeprefix("http://")
    assert sent["x-forwarded-proto"] == "http"


async def test_request_id_is_passed_on_or_made(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        given = await client.get("/api/v1/services", headers={"X-Request-ID": "trace-42"})
        made = await client.get("/api/v1/services")
    assert given.headers["x-request-id"] == "trace-42"
    assert _headers(given.json())["x-request-id"] == "trace-42"
    assert len(made.headers["x-request-id"]) == 32
    assert _headers(made.json())["x-request-id"] == made.headers["x-request-id"]
    # The upstream's own copy is not repeated.
    assert len(given.headers.get_list("x-request-id")) == 1


async def test_security_headers_on_every_answer(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        proxied = await client.get("/api/v1/services")
        refused = await client.get("/api/v1/requests")
    for response in (proxied, refused):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_unknown_path_is_a_problem(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        response = await client.get("/api/v2/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "/api/v2/nothing" in response.json()["detail"]


async def test_upstream_down_is_503(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        response = await client.get("/test/down/anything")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"
    assert "down service is not reachable" in response.json()["detail"]


async def test_upstream_that_answers_nonsense_is_502(edge: Process, connect: Connect) -> None:
    async with connect(edge) as client:
        response = await client.post("/test/garbage/x", json={"a": 1})
    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM
    assert "garbage service gave no valid answer" in response.json()["detail"]


async def test_upstream_that_hangs_is_504_at_the_route_timeout(
    edge: Process, connect: Connect
) -> None:
    # The echo would answer after 60 s; the route allows 1 s.
    async with connect(edge) as client:
        response = await client.get("/test/slow", timeout=20)
    assert response.status_code == 504
    assert response.headers["content-type"] == PROBLEM
    assert "within 1 s" in response.json()["detail"]
    async with connect(edge) as client:
        assert (await client.get("/api/v1/services")).status_code == 200


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


UPLOAD = 256 * 1024 * 1024


async def _pieces(total: int, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    piece = b"\x00" * size
    sent = 0
    while sent < total:
        yield piece
        sent += size


async def test_large_upload_streams_through_without_being_held(
    edge: Process, connect: Connect
) -> None:
    before = _peak_rss(edge.popen.pid)
    async with connect(edge, "127.0.0.12") as client:
        chunked = await client.post("/test/upload", content=_pieces(UPLOAD))
        sized = await client.post(
            "/test/upload", content=_pieces(UPLOAD), headers={"Content-Length": str(UPLOAD)}
        )
    assert chunked.status_code == 200, chunked.text
    assert chunked.json()["body_bytes"] == UPLOAD
    assert sized.json()["body_bytes"] == UPLOAD
    # 512 MiB went through; the gateway's peak memory grew by far less than one body.
    assert _peak_rss(edge.popen.pid) - before < UPLOAD // 4


async def test_large_download_streams_through(edge: Process, connect: Connect) -> None:
    before = _peak_rss(edge.popen.pid)
    received = 0
    async with (
        connect(edge, "127.0.0.13") as client,
        client.stream("GET", "/api/v1/services/download", params={"size": UPLOAD}) as response,
    ):
        assert response.status_code == 200
        async for chunk in response.aiter_raw():
            received += len(chunk)
    assert received == UPLOAD
    assert _peak_rss(edge.popen.pid) - before < UPLOAD // 4


async def test_a_page_with_its_own_security_headers_gets_each_once(
    edge: Process, connect: Connect
) -> None:
    async with connect(edge) as client:
        response = await client.get("/test/flaky/page")
    assert response.status_code == 200
    for name in (
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "strict-transport-security",
        "content-security-policy",
    ):
        assert len(response.headers.get_list(name)) == 1, (name, response.headers.get_list(name))
    # The page keeps the policy it needs for its own resources.
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


async def test_a_500_that_closes_slowly_does_not_poison_the_next_caller(
    edge: Process, connect: Connect
) -> None:
    async with connect(edge, "127.0.0.14") as client:
        failed = await client.post("/test/flaky/boom", json={"a": 1})
        # At once, while the service is still closing the connection it answered on.
        submitted = await client.post("/test/flaky/submit", json={"form": "x" * 1000})
    assert failed.status_code == 500
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["method"] == "POST"
    assert submitted.json()["body_bytes"] == len(b'{"form":"' + b"x" * 1000 + b'"}')


async def test_a_request_meeting_a_dead_pooled_connection_is_resent_if_that_is_harmless(
    edge: Process, connect: Connect
) -> None:
    async with connect(edge, "127.0.0.15") as client:
        # Each time, the service answers and then closes the connection it offered for reuse.
        assert (await client.get("/test/flaky/then-close")).status_code == 200
        put = await client.put("/test/flaky/profile", json={"name": "Aigerim"})
        assert (await client.get("/test/flaky/then-close")).status_code == 200
        keyed = await client.post(
            "/test/flaky/submit", json={"form": 1}, headers={"Idempotency-Key": "k-1"}
        )
        assert (await client.get("/test/flaky/then-close")).status_code == 200
        unkeyed = await client.post("/test/flaky/submit", json={"form": 1})
    assert put.status_code == 200, put.text
    assert put.json()["body_bytes"] > 0
    assert keyed.status_code == 200, keyed.text
    # A POST without a key might have been started by the service: it is not sent twice.
    assert unkeyed.status_code == 502
    assert unkeyed.headers["content-type"] == PROBLEM
