#!/usr/bin/env python3
"""benches/backends_table.py: run_backends.sh's JSON lines as one Redis-vs-embedded table.

Usage: backends_table.py RESULTS.jsonl [FOOTER LINE ...]. Each line is a `mictlanx-bench --json` report
labelled `row-id|redis|title` or `row-id|embedded|title`, with "cpu_s": {"router", "redis"}, or
`{"label", "run_error"}`.
"""
import sys

from bench_rows import print_table, read_rows


def fig(r, key):
    if r is None or "run_error" in r:
        return "-"
    if key == "ops":
        return f"{r['ops_per_s']:.1f}"
    if key in ("p50_ms", "p99_ms"):
        return f"{r['latency'][key]:.3f}"
    if key == "err":
        return str(r.get("errors", 0))
    if key.startswith("cpu."):
        what = key.split(".", 1)[1]
        ops = r.get("ops", 0)
        secs = r.get("cpu_s", {}).get(what)
        if secs is None or not ops:
            return "-"
        return f"{secs / ops * 1e6:.0f}"
    return "-"


def main():
    rows, order = read_rows(sys.argv[1])
    head = ["row", "redis ops/s", "p50 ms", "p99 ms", "err", "router µs/op", "redis µs/op",
            "embedded ops/s", "p50 ms", "p99 ms", "err", "router µs/op", "ratio"]
    table = [head]
    failures = []
    for row_id in order:
        row = rows[row_id]
        rd, em = row.get("redis"), row.get("embedded")
        ratio = "-"
        if rd and em and "run_error" not in rd and "run_error" not in em and em["ops_per_s"] > 0:
            ratio = f"{rd['ops_per_s'] / em['ops_per_s']:.2f}"
        for side, r in (("redis", rd), ("embedded", em)):
            if r and "run_error" in r:
                failures.append(f"{row_id} {side}: {r['run_error'].strip()}")
        table.append([row["title"], fig(rd, "ops"), fig(rd, "p50_ms"), fig(rd, "p99_ms"), fig(rd, "err"),
                      fig(rd, "cpu.router"), fig(rd, "cpu.redis"), fig(em, "ops"), fig(em, "p50_ms"),
                      fig(em, "p99_ms"), fig(em, "err"), fig(em, "cpu.router"), ratio])
    print_table(table)
    for line in sys.argv[2:]:
        print(line)
    for f in failures:
        print("FAILED:", f)


if __name__ == "__main__":
    main()
