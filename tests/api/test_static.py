"""The built front end as a product serves it: gzip, cache policy, 404s, and the home page's
first-load budget.

Two kinds of build: a small one written here (every header and negotiation, exactly), and the
real Vite build in sockscope/static (a real hashed asset, and the bytes of the first load).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from sockscope.api.static import IMMUTABLE, accepts_gzip
from sockscope.settings import STATIC_DIR, Settings

from live import LiveServer, serve

FIRST_LOAD_BUDGET = 100 * 1000  # bytes, compressed: index.html and everything it loads eagerly
SCRIPT = "console.log('sockscope');\n" * 200  # compresses well
SHELL = (
    """<!doctype html><html><head>
<script type="module" crossorigin src="/assets/index-AbC123.js"></script>
</head><body><div id="app"></div></body></html>
"""
    + "<!-- padding so the shell is worth compressing -->\n" * 10
)
GZIP = {"accept-encoding": "gzip, deflate"}
PLAIN = {"accept-encoding": "identity"}


@pytest.fixture
def built(tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(SHELL)
    (tmp_path / "assets" / "index-AbC123.js").write_text(SCRIPT)
    (tmp_path / "assets" / "tiny-Zz9.css").write_text("a{b:c}")
    (tmp_path / "secret.txt").write_text("outside assets/")
    for live in serve(Settings(static_dir=tmp_path)):
        yield live, tmp_path


@pytest.fixture
def unbuilt(tmp_path: Path) -> Iterator[LiveServer]:
    yield from serve(Settings(static_dir=tmp_path / "nothing-here"))


def get(live: LiveServer, path: str, headers: dict[str, str]) -> httpx.Response:
    return live.client.get(path, headers=headers)


def test_assets_are_gzipped_for_browsers_that_accept_it(built: tuple[LiveServer, Path]) -> None:
    live, _ = built
    response = get(live, "/assets/index-AbC123.js", GZIP)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"].startswith(
        ("application/javascript", "text/javascript")
    )
    assert response.text == SCRIPT  # httpx decoded it: a valid gzip of the file
    sent = int(response.headers["content-length"])
    assert sent == response.num_bytes_downloaded
    assert sent < len(SCRIPT) / 10


@pytest.mark.parametrize("header", ["identity", "gzip;q=0", "br", ""])
def test_assets_are_plain_when_gzip_is_not_accepted(
    built: tuple[LiveServer, Path], header: str
) -> None:
    live, _ = built
    response = get(live, "/assets/index-AbC123.js", {"accept-encoding": header})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.num_bytes_downloaded == len(SCRIPT) == int(response.headers["content-length"])
    assert response.text == SCRIPT


def test_accept_encoding_parsing() -> None:
    assert accepts_gzip("gzip, deflate, br, zstd")
    assert accepts_gzip("GZIP;q=0.5")
    assert accepts_gzip("*")
    assert accepts_gzip("x-gzip")
    assert not accepts_gzip("*;q=0")
    assert not accepts_gzip("gzip;q=0, *")
    assert not accepts_gzip("deflate, br")
    assert not accepts_gzip("")


def test_hashed_assets_are_immutable_for_a_year(built: tuple[LiveServer, Path]) -> None:
    live, _ = built
    for headers in (GZIP, PLAIN):
        response = get(live, "/assets/index-AbC123.js", headers)
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_a_tiny_asset_is_sent_plain_with_the_same_policy(built: tuple[LiveServer, Path]) -> None:
    live, _ = built
    response = get(live, "/assets/tiny-Zz9.css", GZIP)
    assert response.status_code == 200
    assert "content-encoding" not in response.headers  # gzip would make 6 bytes bigger
    assert "vary" not in response.headers  # one representation only
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("route", ["/", "/labs/abc123", "/lessons"])
def test_the_shell_is_revalidated_on_every_load(built: tuple[LiveServer, Path], route: str) -> None:
    live, _ = built
    response = get(live, route, GZIP)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == SHELL
    etag = response.headers["etag"]
    assert response.headers["last-modified"]
    again = get(live, route, GZIP | {"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "no-cache"
    plain = get(live, route, PLAIN | {"if-none-match": etag})
    assert plain.status_code == 200, "the plain body has an ETag of its own"
    assert plain.headers["etag"] != etag
    assert plain.text == SHELL


def test_a_rebuilt_shell_gets_a_new_etag(built: tuple[LiveServer, Path]) -> None:
    live, root = built
    before = get(live, "/", GZIP)
    (root / "index.html").write_text(SHELL.replace("AbC123", "NeW456"))
    after = get(live, "/", GZIP | {"if-none-match": before.headers["etag"]})
    assert after.status_code == 200
    assert "NeW456" in after.text
    assert after.headers["etag"] != before.headers["etag"]


def test_an_asset_removed_by_a_rebuild_is_404(built: tuple[LiveServer, Path]) -> None:
    live, root = built
    assert get(live, "/assets/index-AbC123.js", GZIP).status_code == 200  # now in memory
    (root / "assets" / "index-AbC123.js").unlink()
    assert get(live, "/assets/index-AbC123.js", GZIP).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/assets/index-Missing.js",
        "/assets/",
        "/assets/nested/none.css",
        "/assets/..%2Fsecret.txt",
        "/assets/%2e%2e/secret.txt",
        "/assets/..%2Findex.html",
    ],
)
def test_unknown_assets_are_404_not_the_shell(built: tuple[LiveServer, Path], path: str) -> None:
    live, _ = built
    response = get(live, path, GZIP)
    assert response.status_code == 404, response.text
    assert '<div id="app">' not in response.text
    assert "outside assets/" not in response.text
    assert "immutable" not in response.headers.get("cache-control", "")


def test_head_of_an_asset_has_the_headers_and_no_body(built: tuple[LiveServer, Path]) -> None:
    live, _ = built
    response = live.client.head("/assets/index-AbC123.js", headers=GZIP)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.content == b""


def test_api_json_is_not_gzipped(built: tuple[LiveServer, Path]) -> None:
    live, _ = built
    response = get(live, "/api/lessons", GZIP)
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert isinstance(response.json(), list)


def test_without_a_build_the_page_says_how_to_build_it(unbuilt: LiveServer) -> None:
    for route in ("/", "/labs/abc", "/lessons"):
        response = get(unbuilt, route, GZIP)
        assert response.status_code == 200
        assert "has not been built" in response.text
        assert "make run" in response.text
        assert response.headers["cache-control"] == "no-cache"
    assert get(unbuilt, "/assets/index-AbC123.js", GZIP).status_code == 404


# The real build ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> Iterator[LiveServer]:
    if not (STATIC_DIR / "index.html").is_file():
        pytest.fail("the front end is not built: run `make ui` (make test does it)")
    yield from serve(Settings())


SCRIPT_SRC = re.compile(r"<script\b[^>]*\btype=\"module\"[^>]*\bsrc=\"([^\"]+)\"")
LINK = re.compile(r"<link\b([^>]*)>")
ATTR = re.compile(r"\b(rel|href)=\"([^\"]*)\"")
# Static imports of a minified ES module: import{a as b}from"./x.js" / import"./x.js".
# A dynamic import("./x.js") is not one (it is loaded when the code runs, not before).
STATIC_IMPORT = re.compile(
    r"""\bimport\s*(?:[\w$]+\s*,?\s*)?(?:\{[^}]*\}|\*\s*as\s+[\w$]+)?\s*(?:from\s*)?["'`]([^"'`]+\.js)["'`]"""
)


def eager_files(client: httpx.Client) -> dict[str, httpx.Response]:
    """index.html and every file the browser fetches for it before any code runs on demand:
    the entry script and its static imports (recursively), stylesheets, modulepreloads."""
    shell = client.get("/", headers=GZIP)
    assert shell.status_code == 200
    found: dict[str, httpx.Response] = {"/": shell}
    todo = SCRIPT_SRC.findall(shell.text)
    for attrs in LINK.findall(shell.text):
        fields = dict(ATTR.findall(attrs))
        if fields.get("rel") in ("stylesheet", "modulepreload") and "href" in fields:
            todo.append(fields["href"])
    while todo:
        url = todo.pop()
        if url in found:
            continue
        response = client.get(url, headers=GZIP)
        assert response.status_code == 200, url
        found[url] = response
        if url.endswith(".js"):
            todo += [urljoin(url, spec) for spec in STATIC_IMPORT.findall(response.text)]
    return found


def test_the_static_import_pattern_tells_eager_from_lazy() -> None:
    code = (
        'import{a as b,c}from"./index-A1.js";import"./side-B2.js";const L=()=>import(`./Lab-C3.js`)'
    )
    assert STATIC_IMPORT.findall(code) == ["./index-A1.js", "./side-B2.js"]


def test_a_real_hashed_asset_is_gzipped_and_immutable(real: LiveServer) -> None:
    files = eager_files(real.client)
    assets = [url for url in files if url.startswith("/assets/")]
    assert any(url.endswith(".js") for url in assets) and any(
        url.endswith(".css") for url in assets
    )
    for url in assets:
        assert re.search(r"-[A-Za-z0-9_-]{6,}\.(js|css)$", url), f"{url} has no content hash"
        response = files[url]
        assert response.headers["cache-control"] == IMMUTABLE, url
        assert response.headers["content-encoding"] == "gzip", url
        assert response.headers["vary"] == "Accept-Encoding", url
        assert response.content == (STATIC_DIR / url.removeprefix("/")).read_bytes()
    assert files["/"].headers["cache-control"] == "no-cache"
    assert real.client.get("/assets/index-NoSuchHash.js").status_code == 404


def test_the_home_page_first_load_is_within_budget(real: LiveServer) -> None:
    files = eager_files(real.client)
    sent = {url: r.num_bytes_downloaded for url, r in files.items()}
    total = sum(sent.values())
    listing = ", ".join(f"{url} {n:,} B" for url, n in sorted(sent.items()))
    assert total <= FIRST_LOAD_BUDGET, f"first load is {total:,} B compressed: {listing}"
    # What only the lab needs stays out of it: uPlot comes with the lab view.
    eager_js = "".join(r.text for url, r in files.items() if url.endswith(".js"))
    assert "uplot" not in eager_js.lower(), f"uPlot is loaded by the home page: {listing}"
    plain = [
        url
        for url, r in files.items()
        if len(r.content) > 1024 and not r.headers.get("content-encoding")
    ]
    assert not plain, f"sent uncompressed: {plain}"
