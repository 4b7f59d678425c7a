"""Soak test: about 70 % of peak throughput for ten minutes, counting errors and memory.

Not part of CI. It starts the image with a RandomForestRegressor(100 trees), measures
peak one-row CSV throughput with wrk, picks the number of connections that gives about
70 % of it, then runs wrk in one-minute rounds, reading the container's working-set
memory after each. It passes with zero errors and under 5 % memory growth from the
end of the first round (warm) to the end.

usage: python -m benchmarks.soak [--image TAG] [--minutes N] [--json PATH]
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import options
from benchmarks.models import random_forest
from benchmarks.wrk import run_wrk
from harness.containers import serving


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args()
    body = ",".join(["0.5"] * 6)
    with tempfile.TemporaryDirectory() as tmp:
        random_forest(Path(tmp) / "model")
        with serving(args.image, {Path(tmp) / "model": "/opt/ml/model:ro"}) as running:
            url = f"{running.url}/invocations"
            peak = run_wrk(url, body, "text/csv", 32, 10)
            print(f"peak: {peak.row()}", flush=True)
            chosen = None
            for connections in (1, 2, 3, 4, 6, 8, 12, 16):
                trial = run_wrk(url, body, "text/csv", connections, 5)
                print(f"  trial: {trial.row()}", flush=True)
                if trial.requests_per_s >= 0.7 * peak.requests_per_s:
                    chosen = connections
                    break
            chosen = chosen or 16
            rounds = []
            for minute in range(args.minutes):
                result = run_wrk(url, body, "text/csv", chosen, 60)
                used = running.memory_used_mb()
                rounds.append(result.__dict__ | {"memory_mb": used})
                print(f"  minute {minute + 1}: {result.row()}  memory {used:.1f} MB", flush=True)
    requests = sum(r["requests_per_s"] * 60 for r in rounds)
    errors = sum(r["errors"] for r in rounds)
    growth = (rounds[-1]["memory_mb"] - rounds[0]["memory_mb"]) / rounds[0]["memory_mb"]
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "peak_requests_per_s": peak.requests_per_s,
        "connections": chosen,
        "load_fraction_of_peak": sum(r["requests_per_s"] for r in rounds) / len(rounds) / peak.requests_per_s,
        "minutes": args.minutes,
        "requests": round(requests),
        "errors": errors,
        "memory_growth": growth,
        "passed": errors == 0 and growth < 0.05,
        "rounds": rounds,
    }
    print(
        f"\n{summary['requests']:,} requests over {args.minutes} min at "
        f"{summary['load_fraction_of_peak']:.0%} of peak, {errors} errors, memory growth {growth:+.1%}: "
        f"{'PASS' if summary['passed'] else 'FAIL'}"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
