"""The page of `rnnkit serve` in a real headless Chromium (Selenium driving the Debian
`chromium` and `chromium-driver` packages; `make browser-deps` installs them): classify a
review, tag a sentence, stream a generated text, translate, compose a piece (its piano roll,
the Web Audio play button and the MIDI download), transcribe an uploaded WAV, and save a
screenshot of the page.

Skipped, with the reason, where Selenium, chromium or chromedriver is missing. The screenshot
goes to $RNNKIT_TEST_ARTIFACTS when set, else to the test's temporary folder; its path is
printed (pytest -s shows it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra) is missing")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from serve_data import Checkpoints, train_tiny_models  # noqa: E402
from speech_data import write_recordings  # noqa: E402

from rnnkit.serve import ServeConfig, load_models  # noqa: E402
from rnnkit.serve.app import build_app  # noqa: E402
from rnnkit.serve.runner import serve_in_thread  # noqa: E402
from rnnkit.tasks import text  # noqa: E402
from rnnkit.tasks.speech.inference import Transcriber  # noqa: E402
from rnnkit.tasks.translate.inference import Translator  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless browser: chromium or chromedriver is not installed (`make browser-deps`"
    " installs the Debian chromium and chromium-driver packages)",
)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Checkpoints:
    return train_tiny_models(tmp_path_factory.mktemp("serve-browser"))


@pytest.fixture(scope="module")
def browser(checkpoints: Checkpoints) -> Iterator[Any]:
    """Chromium showing the page of a server of the three tiny models."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1100,2400")
    options.add_argument("--autoplay-policy=no-user-gesture-required")
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    models = load_models([str(c) for c in checkpoints])
    with serve_in_thread(build_app(models, ServeConfig())) as url:
        driver = webdriver.Chrome(options=options, service=service)
        try:
            driver.get(url + "/")
            wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".panel"))
            yield driver
        finally:
            driver.quit()


def wait(driver: Any) -> WebDriverWait:
    return WebDriverWait(driver, 20)


def ask(driver: Any, model: str, text: str, done: str) -> Any:
    """Type `text` into the model's panel, press its button, and wait until the CSS
    selector `done` matches inside the panel's answer; returns the answer element."""
    panel = driver.find_element(By.ID, f"model-{model}")
    box = panel.find_element(By.TAG_NAME, "textarea")
    box.clear()
    box.send_keys(text)
    answer = panel.find_element(By.CLASS_NAME, "answer")
    driver.execute_script("arguments[0].replaceChildren()", answer)  # no stale answer
    panel.find_element(By.TAG_NAME, "button").click()
    wait(driver).until(lambda d: answer.find_elements(By.CSS_SELECTOR, done))
    return answer


def test_a_review_gets_its_label(browser: Any) -> None:
    answer = ask(browser, "imdb", "The acting was really good.", ".label")
    assert answer.find_element(By.CLASS_NAME, "label").text == "pos"
    answer = ask(browser, "imdb", "A bad story and a bad plot.", ".label")
    assert answer.find_element(By.CLASS_NAME, "label").text == "neg"


def test_a_sentence_shows_its_entities_highlighted_in_place(browser: Any) -> None:
    sentence = "Yesterday, Harry Potter met Hermione Granger."
    answer = ask(browser, "people", sentence, "mark.entity")
    marks = answer.find_elements(By.CSS_SELECTOR, "mark.entity")
    assert [m.get_attribute("data-type") for m in marks] == ["PER", "PER"]
    assert [m.text.split("\n")[0].removesuffix("PER").strip() for m in marks] == [
        "Harry Potter",
        "Hermione Granger",
    ]
    # the text around the entities is kept as it was written
    assert answer.get_attribute("textContent") == sentence.replace("Potter", "PotterPER").replace(
        "Granger", "GrangerPER"
    )


def test_generated_text_streams_into_the_page(browser: Any, checkpoints: Checkpoints) -> None:
    panel = browser.find_element(By.ID, "model-chars")
    length = panel.find_element(By.CLASS_NAME, "length")
    length.clear()
    length.send_keys("80")
    answer = ask(browser, "chars", "the ", ".sampled:not(:empty)")
    wait(browser).until(lambda d: answer.get_attribute("data-done") == "true")
    sampled = answer.find_element(By.CLASS_NAME, "sampled").get_attribute("textContent")
    assert sampled == text.generate(checkpoints[2], "the ", 80, temperature=0.8, seed=0)


def test_a_sentence_gets_its_translation(browser: Any, checkpoints: Checkpoints) -> None:
    answer = ask(browser, "fr-en", "Je chante.", "q")
    expected = Translator(checkpoints[3]).translate(["Je chante."])[0]
    assert answer.find_element(By.TAG_NAME, "q").get_attribute("textContent") == expected


def test_a_piece_shows_its_piano_roll_plays_and_downloads(browser: Any) -> None:
    panel = browser.find_element(By.ID, "model-chorales")
    panel.find_element(By.TAG_NAME, "button").click()
    answer = panel.find_element(By.CLASS_NAME, "answer")
    wait(browser).until(lambda d: answer.find_elements(By.TAG_NAME, "img"))
    roll = answer.find_element(By.TAG_NAME, "img")
    wait(browser).until(lambda d: int(roll.get_attribute("naturalWidth") or 0) > 0)
    link = answer.find_element(By.CLASS_NAME, "download")
    assert link.get_attribute("href").startswith("data:audio/midi;base64,TVRoZA")  # "MThd"
    assert link.get_attribute("download") == "chorales-seed0.mid"
    play = answer.find_element(By.CLASS_NAME, "play")
    play.click()  # Web Audio in the page: the click schedules the notes without an error
    assert play.get_attribute("data-played") == "true"
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_an_uploaded_wav_gets_its_transcript(
    browser: Any, checkpoints: Checkpoints, tmp_path: Path
) -> None:
    wav = write_recordings(tmp_path / "recordings", takes=range(1)) / "7_bob_0.wav"
    panel = browser.find_element(By.ID, "model-digits")
    panel.find_element(By.CLASS_NAME, "wav").send_keys(str(wav))
    panel.find_element(By.TAG_NAME, "button").click()
    answer = panel.find_element(By.CLASS_NAME, "answer")
    wait(browser).until(lambda d: answer.find_elements(By.TAG_NAME, "q"))
    expected = Transcriber(checkpoints.speech).transcribe([wav])[0].text
    assert answer.find_element(By.TAG_NAME, "q").get_attribute("textContent") == expected


def test_screenshot_of_the_page(browser: Any, tmp_path: Path) -> None:
    ask(browser, "imdb", "The acting was really good.", ".label")
    ask(browser, "people", "Yesterday, Harry Potter met Hermione Granger in London.", "mark")
    folder = Path(os.environ.get("RNNKIT_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "serve-page.png"
    assert browser.save_screenshot(str(path))
    assert path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {path}")
