#!/usr/bin/env python3
"""benches/matrix_table.py: turn run_matrix.sh's JSON lines into one router-vs-direct table.

Usage: matrix_table.py RESULTS.jsonl [FOOTER LINE ...]. Each line is a `mictlanx-bench --json` report whose
label is `row-id|router|title` or `row-id|direct|title`, or `{"label", "run_error"}` for a failed run.
"""
import json
import sys


def fmt_rate(r):
    if r is None:
        return "-"
    if "run_error" in r:
        return "FAILED"
    return f"{r['ops_per_s']:.1f}"


def cell(r, key, fmt="{:.2f}"):
    if r is None or "run_error" in r:
        return "-"
    if key.startswith("latency."):
        return fmt.format(r["latency"][key.split(".", 1)[1]])
    return fmt.format(r[key])


def main():
    rows, order = {}, []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            row_id, side, title = (r["label"].split("|", 2) + ["", ""])[:3]
            if row_id not in rows:
                rows[row_id] = {"title": title}
                order.append(row_id)
            rows[row_id][side] = r

    head = ["row", "router ops/s", "MB/s", "p50 ms", "p99 ms", "max ms", "err",
            "direct ops/s", "MB/s", "p50 ms", "p99 ms", "max ms", "err", "ratio", "note"]
    table = [head]
    failures = []
    for row_id in order:
        row = rows[row_id]
        rt, dr = row.get("router"), row.get("direct")
        ratio, note = "-", ""
        ok = rt and dr and "run_error" not in rt and "run_error" not in dr
        if ok and dr["ops_per_s"] > 0:
            ratio = f"{rt['ops_per_s'] / dr['ops_per_s']:.2f}"
        if ok and row_id in ("get-1k-miss", "get-1k-paced"):
            p50 = rt["latency"]["p50_ms"] - dr["latency"]["p50_ms"]
            p99 = rt["latency"]["p99_ms"] - dr["latency"]["p99_ms"]
            note = f"router adds p50 {p50:+.3f} ms, p99 {p99:+.3f} ms"
        for side, r in (("router", rt), ("direct", dr)):
            if r and "run_error" in r:
                failures.append(f"{row_id} {side}: {r['run_error'].strip()}")
            elif r and r.get("first_error"):
                failures.append(f"{row_id} {side}: {r['errors']} errors, first: {r['first_error']}")
        table.append([row["title"],
                      fmt_rate(rt), cell(rt, "mb_per_s"), cell(rt, "latency.p50_ms", "{:.3f}"),
                      cell(rt, "latency.p99_ms", "{:.3f}"), cell(rt, "latency.max_ms", "{:.1f}"),
                      cell(rt, "errors", "{}"),
                      fmt_rate(dr), cell(dr, "mb_per_s"), cell(dr, "latency.p50_ms", "{:.3f}"),
                      cell(dr, "latency.p99_ms", "{:.3f}"), cell(dr, "latency.max_ms", "{:.1f}"),
                      cell(dr, "errors", "{}"), ratio, note])

    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for n, r in enumerate(table):
        print(" | ".join(c.ljust(widths[i]) if i in (0, len(head) - 1) else c.rjust(widths[i])
                         for i, c in enumerate(r)).rstrip())
        if n == 0:
            print("-+-".join("-" * w for w in widths))
    cpu = [["row", "router run: router CPU s", "peers", "bench", "direct run: peers CPU s", "bench"]]
    for row_id in order:
        row = rows[row_id]
        cells = [row["title"]]
        for side, keys in (("router", ("router", "peers", "bench")), ("direct", ("peers", "bench"))):
            r = row.get(side) or {}
            c = r.get("cpu_s")
            cells += [f"{c[k]:.2f}" if c else "-" for k in keys]
        cpu.append(cells)
    if any(c != "-" for r in cpu[1:] for c in r[1:]):
        print()
        widths = [max(len(r[i]) for r in cpu) for i in range(len(cpu[0]))]
        for n, r in enumerate(cpu):
            print(" | ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                             for i, c in enumerate(r)).rstrip())
            if n == 0:
                print("-+-".join("-" * w for w in widths))
    for line in sys.argv[2:]:
        print(line)
    for line in failures:
        print("error:", line)


if __name__ == "__main__":
    main()
