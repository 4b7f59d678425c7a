"""How many models one multi-model container holds, and what a warm invoke costs, against a baseline.

The multi-model notebook's shape: one RandomForestRegressor(100 trees) of about 2.5 MB per
city, `--memory=8g`, 4 workers of our engine. Models are loaded with `POST /models` one
after another until one is refused (507) or all `--models` are in; then one model is
invoked warm over one connection. With --baseline TAG the same run on another image (where
every worker held every model) is printed side by side.

usage: python -m benchmarks.capacity [--image TAG] [--baseline TAG] [--models N] [--seconds N] [--json PATH]
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import options
from benchmarks.multi_model import MODELS, invoke, load, model_copies
from benchmarks.wrk import run_wrk
from harness.containers import serving

MEMORY = "8g"
WORKERS = 4


def measure(image: str, root: Path, count: int, body: str, seconds: int) -> dict[str, Any]:
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS)}
    result: dict[str, Any] = {"image": image}
    with serving(image, {root: f"{MODELS}:ro"}, env, memory=MEMORY, deadline_s=300) as running:
        empty_mb = running.memory_used_mb()
        began = time.perf_counter()
        held = 0
        for index in range(count):
            response = load(running, f"m{index}")
            if response.status_code != 200:
                result["refused"] = f"{response.status_code} at model {index}: {response.text[:160]}"
                break
            held += 1
        result["load_s"] = time.perf_counter() - began
        result["held"] = held
        # What every worker that was going to take a copy has taken, before reading memory.
        time.sleep(2)
        result["memory_mb"] = running.memory_used_mb()
        result["mb_per_model"] = (result["memory_mb"] - empty_mb) / max(held, 1)
        assert invoke(running, "m0", body).status_code == 200
        # The first requests for a model spread its copies (affinity grows with traffic).
        run_wrk(f"{running.url}/models/m0/invoke", body, "text/csv", 1, 2)
        warm = run_wrk(f"{running.url}/models/m0/invoke", body, "text/csv", 1, seconds)
        result["warm_p50_ms"] = warm.p50_ms
        cold_name = f"m{held - 1}"
        cold = run_wrk(f"{running.url}/models/{cold_name}/invoke", body, "text/csv", 1, 1)
        result["rarely_used_p50_ms"] = cold.p50_ms
        result["memory_after_mb"] = running.memory_used_mb()
    return result


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--baseline", help="another image to run the same way")
    parser.add_argument("--models", type=int, default=1000, help="model names to load")
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    body = ",".join(["0.5"] * 6)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "models"
        model_copies(root, args.models)
        size_mb = (root / "m0" / "model" / "model.joblib").stat().st_size / 1e6
        images = [image for image in (args.image, args.baseline) if image]
        results = [measure(image, root, args.models, body, args.seconds) for image in images]

    print(f"{args.models} RF-100 models of {size_mb:.1f} MB, --memory={MEMORY}, {WORKERS} workers:")
    rows = [
        ("models held", "held", "{}"),
        ("seconds to load them", "load_s", "{:.0f}"),
        ("working set once loaded (MB)", "memory_mb", "{:.0f}"),
        ("working set per model (MB)", "mb_per_model", "{:.2f}"),
        ("warm invoke p50, 1 connection (ms)", "warm_p50_ms", "{:.2f}"),
        ("rarely used model p50, 1 connection (ms)", "rarely_used_p50_ms", "{:.2f}"),
        ("working set after the invokes (MB)", "memory_after_mb", "{:.0f}"),
    ]
    print(f"{'':<44}" + "".join(f"{result['image']:>28}" for result in results))
    for label, key, fmt in rows:
        print(f"{label:<44}" + "".join(f"{fmt.format(result[key]):>28}" for result in results))
    for result in results:
        if "refused" in result:
            print(f"{result['image']}: refused {result['refused']}")
    if len(results) == 2:
        ours, theirs = results
        print("ratios (image / baseline):")
        print(f"  models held:           {ours['held'] / theirs['held']:.2f}")
        print(f"  working set per model: {ours['mb_per_model'] / theirs['mb_per_model']:.2f}")
        print(f"  warm invoke p50:       {ours['warm_p50_ms'] / theirs['warm_p50_ms']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
