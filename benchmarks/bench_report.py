"""What a review report costs to write, and how fast its page opens, in one run.

On ``--n`` training-folder X-rays (drawn with seed 0), with the shipped
model in a given form (``--runtime``: ``onnx``, ``onnx-int8`` or ``keras``),
timed in turn ``--repeat`` times (medians reported):

- ``predict_files``: the CSV alone, X-rays per second;
- ``review_report`` without heatmaps and with them: X-rays per second, and
  its rate as a share of ``predict_files``'.

Then each written page is opened ``--repeat`` times in headless Chromium
(Debian's ``chromium`` and ``chromium-driver``): the seconds from asking for
the page until its rows are drawn, and until a sort by a probability column
has redrawn them. ``--page-n`` also writes, without heatmaps, a report of
that many X-rays and opens it the same way (the page's size alone).

    python benchmarks/bench_report.py \\
        --train-dir ../shared/data/chest_xray_224/train --n 1024 --page-n 5000
"""

import argparse
import json
import shutil
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from _harness import timed

from sklearn_pneumo import load_pretrained, predict_files, review_report
from sklearn_pneumo.datasets import load_image_folder


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1280,900"):
        options.add_argument(argument)
    return webdriver.Chrome(
        options=options, service=Service(shutil.which("chromedriver"))
    )


def page_seconds(browser, index, repeat):
    """Median seconds to draw the rows, and to sort them by P(PNEUMONIA)."""
    from selenium.webdriver.common.by import By

    drawn, sorted_ = [], []
    for _ in range(repeat):
        browser.get("about:blank")
        start = time.perf_counter()
        browser.get(index.as_uri())
        while not browser.find_element(By.ID, "count").text:
            time.sleep(0.01)
        drawn.append(time.perf_counter() - start)
        start = time.perf_counter()
        browser.find_element(By.CSS_SELECTOR, "th button[data-key='proba1']").click()
        browser.find_element(By.CSS_SELECTOR, "#body tr")
        sorted_.append(time.perf_counter() - start)
    return round(statistics.median(drawn), 3), round(statistics.median(sorted_), 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--page-n", type=int)
    parser.add_argument("--runtime", default="onnx")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    all_paths, _ = load_image_folder(args.train_dir)
    rng = np.random.default_rng(0)
    paths = list(rng.choice(all_paths, args.n, replace=False))
    model = load_pretrained(runtime=args.runtime)
    result = {"runtime": args.runtime, "n": args.n, "repeat": args.repeat}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        csv_s = timed(
            lambda: predict_files(model, paths, folder / "p.csv", overwrite=True),
            args.repeat,
        )
        result["predict_files_xrays_per_s"] = round(args.n / csv_s, 1)
        for heatmaps in (False, True):
            out = folder / f"report_{heatmaps}"
            write = partial(
                review_report, model, paths, out, heatmaps=heatmaps, overwrite=True
            )
            seconds = timed(write, args.repeat)
            key = "with_heatmaps" if heatmaps else "without_heatmaps"
            result[f"report_{key}_xrays_per_s"] = round(args.n / seconds, 1)
            result[f"report_{key}_share_of_predict_files"] = round(csv_s / seconds, 3)
            result[f"report_{key}_mb"] = round(
                sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6, 1
            )
            print(json.dumps(result), flush=True)
        pages = {args.n: folder / "report_True" / "index.html"}
        if args.page_n:
            big = list(
                rng.choice(all_paths, args.page_n, replace=args.page_n > len(all_paths))
            )
            start = time.perf_counter()
            review_report(model, big, folder / "big", heatmaps=False)
            result[f"report_{args.page_n}_seconds"] = round(
                time.perf_counter() - start, 1
            )
            pages[args.page_n] = folder / "big" / "index.html"
        if shutil.which("chromium") and shutil.which("chromedriver"):
            browser = chromium()
            try:
                for n, index in pages.items():
                    drawn, sort = page_seconds(browser, index, args.repeat)
                    result[f"page_{n}_rows_drawn_s"] = drawn
                    result[f"page_{n}_sorted_s"] = sort
            finally:
                browser.quit()
        else:
            result["page"] = "not measured: chromium and chromedriver are not installed"
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
