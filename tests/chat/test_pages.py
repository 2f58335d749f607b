"""The chat pages as served (the browser test drives them; these check the markup): one
Jinja2 template for /pay and the demo, autoescaped, with the page's security headers."""

from __future__ import annotations

from tests.conftest import Api


async def test_pay_page_carries_the_session_and_no_key_form(api: Api) -> None:
    response = await api.client.get("/pay/chat_abc123")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'data-session-id="chat_abc123"' in page and 'data-mode="pay"' in page
    assert "<title>Pay by chat</title>" in page
    assert 'id="publishable-key"' not in page
    assert '<label for="message"' in page  # the input has an accessible label
    assert 'name="viewport"' in page  # mobile width
    assert "{" not in page.replace("{%", "")  # nothing left unrendered
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_a_session_id_cannot_inject_markup(api: Api) -> None:
    response = await api.client.get('/pay/chat_x"><img src=x onerror=alert(1)>')
    assert response.status_code == 200
    assert "<img" not in response.text
    assert 'data-session-id="chat_x&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in response.text


async def test_demo_page_asks_for_a_publishable_key(api: Api) -> None:
    page = (await api.client.get("/chat/demo")).text
    assert 'data-session-id=""' in page and 'data-mode="demo"' in page
    assert '<label for="publishable-key">Publishable key</label>' in page
    assert "<title>Payment chat demo</title>" in page


async def test_static_assets_and_nothing_else(api: Api) -> None:
    script = await api.client.get("/static/chat/chat.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    style = await api.client.get("/static/chat/chat.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert (await api.client.get("/static/chat/chat.html")).status_code == 404
    assert (await api.client.get("/static/chat/..%2Ftemplates%2Fchat.html")).status_code == 404
