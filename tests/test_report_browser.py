"""The review report in a real browser: headless Chromium, driven by Selenium.

Debian's ``chromium`` and ``chromium-driver`` packages (``.ci/run``
installs them where it can); without them these tests skip, saying so.
"""

import base64
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sklearn_pneumo import load_pretrained, review_report
from sklearn_pneumo.datasets import make_outlier_corpus

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="headless Chromium is not installed (Debian packages chromium and "
    "chromium-driver; .ci/run installs them where it can)",
)
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402


def start_chromium():
    """Headless Chromium with its console and network logged."""
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    options.set_capability(
        "goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"}
    )
    return webdriver.Chrome(options=options, service=Service(DRIVER))


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def report(xray_paths, tmp_path_factory):
    """The shipped model's report on the samples, a broken file and a photograph."""
    folder = tmp_path_factory.mktemp("site")
    broken = folder / "broken.jpeg"
    broken.write_bytes(b"\xff\xd8 cut short")
    images, kinds = make_outlier_corpus([])
    photograph = folder / "photograph.png"
    Image.fromarray(images[list(kinds).index("photograph")]).save(photograph)
    paths = [*xray_paths[0], str(broken), str(photograph)]
    out = tmp_path_factory.mktemp("report") / "review"
    review_report(load_pretrained(runtime="onnx"), paths, out, review_uncertainty=0.08)
    return out, paths


def opened(browser, report, fragment=""):
    """The page loaded, its rows drawn; the browser's logs read so far dropped."""
    browser.get_log("browser"), browser.get_log("performance")
    browser.get((report[0] / "index.html").as_uri() + fragment)
    deadline = time.monotonic() + 20
    while not browser.find_element(By.ID, "count").text:
        assert time.monotonic() < deadline, "the page drew no rows in 20 s"
        time.sleep(0.05)
    return browser


def shown(browser):
    """The input indices of the rows shown, in order."""
    rows = browser.find_elements(By.CSS_SELECTOR, "#body tr")
    return [int(row.get_attribute("data-index")) for row in rows]


def page_rows(report):
    text = (report[0] / "index.html").read_text()
    start = text.index('<script id="data" type="application/json">')
    payload = text[text.index(">", start) + 1 : text.index("</script>", start)]
    return json.loads(payload)["rows"]


def test_the_page_opens_offline_with_no_error_and_no_request_out(browser, report):
    opened(browser, report)
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    requests = [
        json.loads(entry["message"])["message"]["params"]["request"]["url"]
        for entry in browser.get_log("performance")
        if json.loads(entry["message"])["message"]["method"]
        == "Network.requestWillBeSent"
    ]
    assert requests and all(url.startswith("file://") for url in requests), requests
    assert shown(browser) == list(range(len(report[1])))
    names = [
        cell.text
        for cell in browser.find_elements(By.CSS_SELECTOR, "#body td:nth-child(3)")
    ]
    assert names == [Path(path).name for path in report[1]]


def test_the_broken_file_has_its_reason_and_the_photograph_is_flagged(browser, report):
    opened(browser, report)
    rows = browser.find_elements(By.CSS_SELECTOR, "#body tr")
    broken, photograph = rows[-2].text, rows[-1].text
    assert "broken.jpeg" in broken
    assert page_rows(report)[-2]["error"] in broken
    assert "photograph.png" in photograph and "FLAGGED" in photograph
    # The reason spans the cells a read file fills, beside the file's name,
    # and reads as lines even in a narrow window.
    cells = rows[-2].find_elements(By.TAG_NAME, "td")
    assert (
        cells[2].text == "broken.jpeg"
        and cells[3].text == page_rows(report)[-2]["error"]
    )
    browser.set_window_size(800, 900)
    try:
        assert cells[3].size["width"] >= 200, cells[3].size
    finally:
        browser.set_window_size(1280, 900)


def test_sorting_by_click_and_by_keyboard(browser, report):
    opened(browser, report)
    rows = page_rows(report)
    header = browser.find_element(By.CSS_SELECTOR, "th button[data-key='proba1']")
    header.click()
    scored = [r for r in rows if r["proba"]]
    ascending = sorted(scored, key=lambda r: (r["proba"][1], r["index"]))
    unread = [r["index"] for r in rows if not r["proba"]]
    assert shown(browser) == [r["index"] for r in ascending] + unread
    header = browser.find_element(By.CSS_SELECTOR, "th button[data-key='proba1']")
    header.click()
    descending = sorted(scored, key=lambda r: (-r["proba"][1], r["index"]))
    assert shown(browser) == [r["index"] for r in descending] + unread
    by_name = browser.find_element(By.CSS_SELECTOR, "th button[data-key='name']")
    by_name.send_keys(Keys.ENTER)
    column = browser.find_element(By.XPATH, "//th[button[@data-key='name']]")
    assert column.get_attribute("aria-sort") == "ascending"
    expected = sorted(rows, key=lambda r: (r["name"].lower(), r["index"]))
    assert shown(browser) == [r["index"] for r in expected]


def test_the_review_filter_and_the_search(browser, report):
    opened(browser, report)
    rows = page_rows(report)
    browser.find_element(By.ID, "review").click()
    review = [r["index"] for r in rows if r["review"]]
    assert 2 <= len(review) < len(rows)  # the broken file and the photograph
    assert shown(browser) == review
    browser.find_element(By.ID, "review").click()
    browser.find_element(By.ID, "search").send_keys("person")
    assert shown(browser) == [r["index"] for r in rows if "person" in r["path"].lower()]
    # The page's state is in its address: a reload keeps it.
    assert "q=person" in browser.current_url


def test_the_detail_view_and_a_screenshot_that_is_not_blank(browser, report):
    opened(browser, report)
    browser.find_element(By.CSS_SELECTOR, "#body button.thumb").click()
    dialog = browser.find_element(By.ID, "detail")
    assert dialog.get_attribute("open") is not None
    full = browser.find_element(By.ID, "detail-full")
    assert full.get_attribute("src").endswith("images/000001.jpg")
    assert browser.execute_script("return arguments[0].naturalWidth", full) > 0
    slider = browser.find_element(By.ID, "detail-opacity")
    browser.execute_script(
        "arguments[0].value = '0.9';arguments[0].dispatchEvent(new Event('input'))",
        slider,
    )
    heat = browser.find_element(By.ID, "detail-heat")
    assert float(heat.value_of_css_property("opacity")) == pytest.approx(0.9)
    pixels = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())))
    assert pixels[..., :3].std() > 20
    browser.find_element(By.ID, "close").click()
    assert dialog.get_attribute("open") is None


def test_dark_mode_and_printing(browser, report):
    opened(browser, report)

    def colours():
        return browser.execute_script(
            "const s = getComputedStyle(document.body);"
            "return [s.backgroundColor, s.color];"
        )

    light = colours()
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    try:
        dark = colours()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert light == ["rgb(255, 255, 255)", "rgb(27, 27, 27)"]
    assert dark == ["rgb(18, 18, 18)", "rgb(236, 236, 236)"]
    from selenium.webdriver.common.print_page_options import PrintOptions

    pdf = base64.b64decode(browser.print_page(PrintOptions()))
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
