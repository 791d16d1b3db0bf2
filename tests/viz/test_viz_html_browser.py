"""ts.viz.html in a real headless browser (Debian's chromium + chromedriver, driven by selenium).

Skips, saying why, when the browser, its driver or selenium cannot be found. Screenshots of
each state are saved in the test's tmp folder (printed with -s; kept by pytest's tmp_path).
"""

import shutil
import time
from pathlib import Path

import pytest

import tinyseq as ts

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()),
                shutil.which("chromium"))  # fmt: skip
DRIVER = "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("no chromium/chromedriver found (apt-get install chromium chromium-driver)")
    import tempfile

    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tinyseq-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,900"):  # fmt: skip
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    except Exception as e:  # both are installed but do not work together: a failure, not a skip
        shutil.rmtree(profile, ignore_errors=True)
        pytest.fail(f"{DRIVER} could not start {CHROMIUM}: {e}")
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ts.manual_seed(0)
    lstm = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    out, _ = lstm(ts.randn(5, 2, 3))
    loss = (out[-1] ** 2).sum()
    folder = tmp_path_factory.mktemp("viz_html")
    path = ts.viz.html(loss).save(folder / "bilstm.html")
    return Path(path)


def open_page(driver, path):
    driver.get(path.resolve().as_uri())
    for _ in range(100):
        if driver.execute_script("var v = window.tinyseqViewers; return !!v && Object.keys(v).length > 0"):
            break
        time.sleep(0.05)
    return "var v = window.tinyseqViewers; v = v[Object.keys(v)[0]];"


def shot(driver, path, name):
    out = path.parent / f"{name}.png"
    driver.save_screenshot(str(out))
    print("screenshot:", out)
    return out


def errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_loads_without_console_errors(browser, page):
    open_page(browser, page)
    assert errors(browser) == []
    assert browser.execute_script("return document.querySelectorAll('.layout:not([hidden]) g.node').length") > 10
    shot(browser, page, "loaded")
    # a graph without time steps: no slider, no errors
    ts.manual_seed(0)
    mlp = ts.nn.Sequential(ts.nn.Linear(3, 5), ts.nn.Tanh(), ts.nn.Linear(5, 1))
    plain = Path(ts.viz.html(mlp(ts.randn(4, 3)).sum()).save(page.parent / "mlp.html"))
    open_page(browser, plain)
    assert errors(browser) == []
    assert not browser.find_element("css selector", ".slider").is_displayed()
    shot(browser, plain, "mlp")


def test_hover_shows_shape(browser, page):
    from selenium.webdriver.common.action_chains import ActionChains

    api = open_page(browser, page)
    # the first LSTM cell of layer 0, t=0: it hands on h and c, each (batch 2, hidden 4)
    node = browser.execute_script(
        api + "return Array.from(document.querySelectorAll('.layout:not([hidden]) g.node'))"
        ".find(g => g.dataset.t === '0' && g.textContent.includes('LSTMCell'));"
    )
    assert node is not None
    ActionChains(browser).move_to_element(node).perform()
    tip = browser.find_element("css selector", ".tip")
    assert tip.is_displayed()
    text = tip.text
    assert "LSTMCell" in text and "(2, 4)" in text and "layer 0 · direction 0 (forward) · t=0" in text, text
    assert "float32" in text and "grad norm" in text and "min" in text, text
    assert "h_0" in text and "c_0" in text, text
    shot(browser, page, "hover")


def test_slider_highlights_exactly_step_t(browser, page):
    from selenium.webdriver.common.keys import Keys

    api = open_page(browser, page)
    slider = browser.find_element("css selector", ".slider")
    slider.click()
    slider.send_keys(Keys.HOME)
    for _ in range(2):
        slider.send_keys(Keys.ARROW_RIGHT)
    assert browser.execute_script(api + "return v.t") == 2
    lit = browser.execute_script(
        "return Array.from(document.querySelectorAll('.layout:not([hidden]) g.node.hl')).map(g => g.dataset.name)"
    )
    tagged = browser.execute_script(
        "return Array.from(document.querySelectorAll('.layout:not([hidden]) g.node[data-t=\"2\"]'))"
        ".map(g => g.dataset.name)"
    )
    assert lit and sorted(lit) == sorted(tagged)
    # 2 layers x 2 directions: one cell per row at t=2
    cells = browser.execute_script("return document.querySelectorAll('.layout:not([hidden]) g.node.hl').length")
    assert cells >= 4
    # the step's forward path includes its input x_2 and output y_2 (drawn outside the steps)
    texts = browser.execute_script(
        "return Array.from(document.querySelectorAll('.layout:not([hidden]) g.node.hl')).map(g => g.textContent)"
    )
    assert any("x₂" in t for t in texts) and any("y₂" in t for t in texts), texts
    shot(browser, page, "slider_t2")


def test_play_backward_descends(browser, page):
    api = open_page(browser, page)
    browser.execute_script(api + "v.interval = 40; v.setMode('backward');")
    browser.find_element("css selector", ".play").click()
    for _ in range(100):
        if not browser.execute_script(api + "return v.playing()"):
            break
        time.sleep(0.05)
    visited = browser.execute_script(api + "return v.visited")
    assert visited == [4, 3, 2, 1, 0]
    # every step is now coloured by its gradient norm
    fills = browser.execute_script(
        "return Array.from(document.querySelectorAll('.layout:not([hidden]) g.cluster[data-step] > path'))"
        ".map(p => p.getAttribute('fill'))"
    )
    assert fills and all(f not in ("#f2f6fc", "#fcf2f4") for f in fills)
    assert errors(browser) == []
    shot(browser, page, "backward_done")


def test_detail_toggle_switches_layouts(browser, page):
    open_page(browser, page)
    shown = "return Array.from(document.querySelectorAll('.layout')).filter(d => !d.hidden).map(d => d.dataset.detail)"
    assert browser.execute_script(shown) == ["cell"]
    for detail in ("op", "module", "cell"):
        browser.find_element("css selector", f"button.detail[data-detail='{detail}']").click()
        assert browser.execute_script(shown) == [detail]
        box = browser.execute_script(
            "return document.querySelector('.layout:not([hidden]) svg').getBoundingClientRect().height"
        )
        assert box > 0
        shot(browser, page, f"detail_{detail}")
    # at natural size (fit width off) the op layout is wider than the window: it scrolls
    browser.find_element("css selector", "button.detail[data-detail='op']").click()
    browser.find_element("css selector", "input.fit").click()
    scrolls = "var d = document.querySelector('.layout:not([hidden])'); return d.scrollWidth > d.clientWidth"
    assert browser.execute_script(scrolls)
    shot(browser, page, "detail_op_natural_size")
    browser.find_element("css selector", "input.fit").click()
    assert not browser.execute_script(scrolls)


def test_search_highlights_the_steps_that_read_a_parameter(browser, page):
    api = open_page(browser, page)
    search = browser.find_element("css selector", ".search")
    search.send_keys("weight_hh_l1_reverse")
    hits = browser.execute_script(
        "return Array.from(document.querySelectorAll('.layout:not([hidden]) g.node.found'))"
        ".map(g => g.dataset.t).filter(t => t !== undefined)"
    )
    assert sorted(set(hits)) == ["0", "1", "2", "3", "4"]
    assert browser.execute_script(api + "return v.found") >= 5
    shot(browser, page, "search")


def test_long_bilstm_page_opens_within_a_second(browser, tmp_path):
    ts.manual_seed(0)
    lstm = ts.nn.LSTM(8, 32, num_layers=2, bidirectional=True)
    out, _ = lstm(ts.randn(200, 4, 8))
    path = Path(ts.viz.html((out[-1] ** 2).sum()).save(tmp_path / "bilstm200.html"))
    assert path.stat().st_size < 2_000_000
    api = open_page(browser, path)
    assert browser.execute_script(api + "return v.ready")
    assert browser.execute_script(api + "return v.readyAt") < 1000
    assert errors(browser) == []
    browser.execute_script(api + "v.setT(100)")  # an elided step: its row's "… n steps …" node stands for it
    assert browser.execute_script("return document.querySelectorAll('.layout:not([hidden]) g.node.cover').length") == 4
    shot(browser, path, "bilstm200_t100")


def test_example_page_rnn_against_lstm(browser, tmp_path):
    """examples/draw_unrolled.py --html: the screenshots in docs/html/ are these."""
    import argparse
    import importlib.util

    from selenium.webdriver.common.action_chains import ActionChains

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("draw_unrolled", root / "examples" / "draw_unrolled.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    ts.manual_seed(0)
    args = argparse.Namespace(smoke=False, html_steps=50, device="cpu")
    path = Path(example.vanishing_page(args, tmp_path))
    assert path.stat().st_size < 2_000_000
    api = open_page(browser, path)
    assert errors(browser) == []
    assert browser.execute_script("return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)") == [
        "RNN, loss on h at t=49",
        "LSTM, loss on h at t=49",
    ]
    node = browser.execute_script(
        "return Array.from(document.querySelectorAll('.panel[data-panel=\"1\"] .layout:not([hidden]) g.node'))"
        ".find(g => g.dataset.t === '40');"
    )
    ActionChains(browser).move_to_element(node).perform()
    assert "(2, 8)" in browser.find_element("css selector", ".tip").text
    shot(browser, path, "example_hover")
    browser.execute_script(api + "v.setMode('backward'); v.setT(25);")  # the wave halfway back
    shot(browser, path, "example_backward_t25")
    browser.execute_script(api + "v.interval = 10; v.play();")
    for _ in range(200):
        if not browser.execute_script(api + "return v.playing()"):
            break
        time.sleep(0.05)
    assert browser.execute_script(api + "return v.visited") == list(range(49, -1, -1))
    browser.execute_script(api + "v.setT(0)")
    shot(browser, path, "example_backward_done")
    # the colours: the RNN's first step is far paler than the LSTM's (the gradient vanished)
    fills = browser.execute_script(
        "return [0, 1].map(p => document.querySelector('.panel[data-panel=\"' + p + '\"] .layout:not([hidden]) "
        "g.cluster[data-t=\"0\"] > path').getAttribute('fill'))"
    )
    brightness = [sum(int(f[i : i + 2], 16) for i in (1, 3, 5)) for f in fills]
    assert brightness[0] > brightness[1], fills
    assert errors(browser) == []


def test_jupyter_frame(browser, tmp_path):
    """_repr_html_ twice on one page, as a notebook shows two outputs: each frame runs its own viewer."""
    ts.manual_seed(0)
    out, _ = ts.nn.GRU(3, 4)(ts.randn(3, 2, 3))
    frame = ts.viz.html(out.sum(), details=("cell", "op"))._repr_html_()
    path = tmp_path / "notebook.html"
    path.write_text(f"<!DOCTYPE html><html><body><p>cell 1</p>{frame}<p>cell 2</p>{frame}</body></html>", "utf-8")
    browser.get(path.resolve().as_uri())
    frames = browser.find_elements("css selector", "iframe")
    assert len(frames) == 2
    for f in frames:
        browser.switch_to.frame(f)
        for _ in range(100):
            if browser.execute_script("return !!window.tinyseqViewers"):
                break
            time.sleep(0.05)
        api = "var v = window.tinyseqViewers; v = v[Object.keys(v)[0]];"
        assert browser.execute_script(api + "return v.ready")
        browser.execute_script(api + "v.setDetail('op')")
        assert browser.execute_script(api + "return v.detail") == "op"
        browser.switch_to.default_content()
    assert errors(browser) == []
    shot(browser, path, "notebook")
