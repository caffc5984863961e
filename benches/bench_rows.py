"""benches/bench_rows.py: what the table scripts share. Reading the JSON lines a bench script collected
(one `mictlanx-bench --json` report per run, labelled `row-id|side|title`) into rows, and printing a table
with aligned columns."""
import json


def read_rows(path):
    """The reports of `path` by row id and side, and the row ids in their first-seen order."""
    rows, order = {}, []
    with open(path) as f:
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
    return rows, order


def print_table(table, left=(0,)):
    """`table[0]` is the header, underlined; the columns in `left` are left-aligned, the others right."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for n, r in enumerate(table):
        print(" | ".join(c.ljust(widths[i]) if i in left else c.rjust(widths[i])
                         for i, c in enumerate(r)).rstrip())
        if n == 0:
            print("-+-".join("-" * w for w in widths))
