"""Request bodies over settings.MAX_BODY_BYTES: 413 JSON on every URL, however they are sent."""

import io
import json

import pytest

URL = "/api/webhooks/deployments"
LIMIT = 1024 * 1024
PAYLOAD = {
    "deploymentId": "chunked-1",
    "commitSha": "a1b2c3d4e5f6",
    "environment": "production",
    "status": "success",
    "startedAt": "2024-01-15T10:30:00Z",
    "completedAt": "2024-01-15T10:35:00Z",
}


def padded(size: int) -> bytes:
    """A valid JSON payload of exactly `size` bytes."""
    body = json.dumps({**PAYLOAD, "rawPayload": {"pad": ""}})
    return json.dumps({**PAYLOAD, "rawPayload": {"pad": "x" * (size - len(body))}}).encode()


def chunked(body: bytes) -> dict:
    """WSGI environ of a chunked request as gunicorn passes it: no Content-Length."""
    return {
        "CONTENT_LENGTH": "",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
    }


def assert_413(response):
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": f"Request body exceeds {LIMIT} bytes"}


def test_exactly_the_limit_is_accepted(api, key):
    response = api.post(
        URL, data=padded(LIMIT), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 201


@pytest.mark.parametrize("url", [URL, "/admin/login/", "/readyz", "/api/anything-else"])
def test_over_the_limit_is_413_json_on_every_url(api, key, url):
    response = api.post(
        url,
        data=padded(LIMIT + 1),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert_413(response)


def test_a_form_post_to_the_admin_over_the_limit_is_413_json(api, db):
    """Without the middleware Django answers this with an HTML 400 (RequestDataTooBig)."""
    response = api.post("/admin/login/", data={"username": "x" * (LIMIT + 10), "password": "y"})
    assert_413(response)


def test_chunked_body_over_the_limit_is_413(api, key):
    response = api.generic(
        "POST",
        URL,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **chunked(padded(LIMIT + 1)),
    )
    assert_413(response)


def test_chunked_body_within_the_limit_is_read_and_recorded(api, key):
    response = api.generic(
        "POST",
        URL,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **chunked(json.dumps(PAYLOAD).encode()),
    )
    assert response.status_code == 201
    assert response.json()["action"] == "created"


def test_chunked_body_the_server_cannot_delimit_is_411(api, key):
    environ = chunked(json.dumps(PAYLOAD).encode())
    environ["wsgi.input_terminated"] = False
    response = api.generic(
        "POST", URL, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}", **environ
    )
    assert response.status_code == 411
    assert "Content-Length" in response.json()["error"]


def test_invalid_content_length_is_400_json(api, key):
    response = api.generic(
        "POST",
        URL,
        data=b"{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        CONTENT_LENGTH="-1",
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid Content-Length header"}


def test_the_limit_is_a_setting(api, key, settings):
    settings.MAX_BODY_BYTES = 100
    response = api.post(
        URL, data=padded(101), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 413
    assert response.json() == {"error": "Request body exceeds 100 bytes"}


@pytest.mark.postgres
def test_chunked_bodies_through_a_real_gunicorn():
    """gunicorn de-chunks bodies without Content-Length; the limit holds for them too."""
    import httpx
    from django.conf import settings

    from tests import live_servers

    url = live_servers.url_beside(settings.DATABASES["default"], "chunked")
    key = live_servers.prepare_database(url)

    def pieces(body: bytes, size: int = 64 * 1024):
        for start in range(0, len(body), size):
            yield body[start : start + size]

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        with live_servers.gunicorn(url, workers=1) as server:
            small = httpx.post(
                f"{server}{URL}", content=pieces(json.dumps(PAYLOAD).encode()), headers=headers
            )
            large = httpx.post(f"{server}{URL}", content=pieces(padded(LIMIT + 1)), headers=headers)
    finally:
        live_servers.drop_database(url)

    assert small.request.headers["Transfer-Encoding"] == "chunked"
    assert small.status_code == 201
    assert small.json()["action"] == "created"
    assert large.status_code == 413
    assert large.json() == {"error": f"Request body exceeds {LIMIT} bytes"}
