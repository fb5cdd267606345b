"""An integration team's first hour: generate a Python client from the running portal's
/openapi.json with openapi-python-client, then sign in as the demo agency system (client
credentials), list the published services and read one of its agency's requests with it.

The token itself comes from plain OAuth (an integrator's OAuth library): identity's token
endpoint reads its form by hand, so the document gives it no typed body yet.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from portal_testing.oidc import sign_in_with_pkce, valid_iin
from portal_testing.portal import Portal
from tests.e2e.test_journey import SERVICE_CODE, bearer, form, upload_required

BIN = Path(sys.executable).parent


def generate(document: dict[str, Any], folder: Path) -> None:
    source = folder / "openapi.json"
    source.write_text(json.dumps(document))
    output = folder / "portal_client"
    generator = [str(BIN / "openapi-python-client"), "generate", "--meta", "none"]
    done = subprocess.run(
        [*generator, "--path", str(source), "--output-path", str(output)],
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(folder)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in (done.stdout + done.stderr).lower(), done.stdout + done.stderr


async def a_submitted_request(gateway: str) -> str:
    """A resident applies for the demo service (which the demo agency system's agency
    provides), so the agency system has a request to read."""
    iin = valid_iin(4100)
    password = "Baikonur-Autumn-2026"
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as web:
        registered = await web.post(
            "/api/v1/residents",
            json={
                "iin": iin,
                "given_name": "Dana",
                "family_name": "Omarova",
                "email": f"dana.{iin}@mail.kz",
                "phone": "+77017654321",
                "password": password,
            },
        )
        assert registered.status_code == 201, registered.text
        resident = (await sign_in_with_pkce(web, iin, password)).access_token
        services = (await web.get("/api/v1/services", params={"q": "residence"})).json()
        service = next(s for s in services["items"] if s["code"] == SERVICE_CODE)
        # The service's standard requires documents: a scan of each is uploaded and attached.
        documents = await upload_required(web, resident, service)
        submitted = await web.post(
            "/api/v1/requests",
            json={"service_id": service["id"], "form_data": form(iin), "documents": documents},
            headers={**bearer(resident), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert submitted.status_code == 201, submitted.text
        request_id: str = submitted.json()["id"]
        return request_id


async def test_an_agency_system_works_with_the_generated_client(
    portal: Portal, tmp_path: Path
) -> None:
    gateway = portal.url("gateway")
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        document = (await http.get("/openapi.json")).json()
        assert "x-unavailable-services" not in document
        token = await http.post(
            "/auth/token",
            data={"grant_type": "client_credentials", "scope": "requests:read"},
            auth=("agency-demo", "agency-demo-secret"),
        )
        assert token.status_code == 200, token.text
    await asyncio.to_thread(generate, document, tmp_path)
    request_id = await a_submitted_request(gateway)

    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("portal_client")
        list_services = importlib.import_module("portal_client.api.services.list_services")
        get_request = importlib.import_module("portal_client.api.requests.get_request")
        models = importlib.import_module("portal_client.models")
        client = client_module.AuthenticatedClient(
            base_url=gateway, token=token.json()["access_token"], raise_on_unexpected_status=True
        )
        async with client:
            services = await list_services.asyncio(client=client)
            read = await get_request.asyncio(uuid.UUID(request_id), client=client)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == "portal_client"]:
            del sys.modules[name]

    assert isinstance(services, models.StateServicePage)
    assert SERVICE_CODE in [s.code for s in services.items]
    assert isinstance(read, models.RequestRead)
    assert str(read.id) == request_id
    assert read.status == "submitted" or read.status.value == "submitted"
