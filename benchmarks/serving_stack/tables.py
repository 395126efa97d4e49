"""Print the README's result tables from benchmarks/.work/serving_stack/results.jsonl (latest record per config)."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
recs = {}
with open(os.path.join(HERE, "..", ".work", "serving_stack", "results.jsonl")) as f:
    for line in f:
        r = json.loads(line)
        recs[r["name"]] = r


def row(n):
    r = recs.get(n)
    if not r:
        return None
    m = r["median"]
    rs = ", ".join(f"{x['rps']:.0f}" for x in r["runs"]) if len(r["runs"]) > 1 else ""
    oth = max(x["other_cores"] for x in r["runs"])
    mb = ""
    if r.get("batch_stats"):
        s = r["batch_stats"][-1]
        mb = f"{s['rows'] / max(s['batches'], 1):.1f}"
    return (f"| `{n}` | {m['rps']:,.0f} | {rs} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {r['errors']} | "
            f"{m['server_cores']:.2f} | {1e6 * m['server_cores'] / m['rps']:.0f} | {m['wrk_cores']:.2f} | "
            f"{max(oth, 0):.2f} | {mb} |")


H = ("| config | req/s | 3 runs | p50 ms | p99 ms | errors | server cores | server CPU µs/req | wrk cores "
     "| other-tenant cores (max) | mean batch rows |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
SECTIONS = {
    "1. HTTP servers (Starlette no-op, raw no-op, raw+orjson predict inline, raw+orjson 1 ms inline batcher)": [
        f"{s}-{v}" for s in ("uv1", "uv2", "gr1", "gr2", "hc1")
        for v in ("starlette-orjson-noop", "raw-orjson-noop", "raw-orjson-predict", "raw-orjson-batch1-inline")],
    "2. Frameworks (orjson for raw/Starlette; FastAPI = pydantic models)": [
        f"{s}-{fw}-{m}" for s in ("gr1",) for fw in ("raw-orjson", "starlette-orjson", "fastapi-pydantic")
        for m in ("noop", "parse", "predict", "batch1-inline")]
        + [f"uv1-{fw}-batch1-inline" for fw in ("raw-orjson", "starlette-orjson", "fastapi-pydantic")],
    "3. JSON codecs": [f"gr1-{fw}-{c}-parse" for fw in ("raw", "starlette") for c in ("json", "orjson", "msgspec")]
        + [f"{s}-raw-{c}-batch1-inline" for s in ("uv1", "gr1") for c in ("json", "orjson", "msgspec")],
    "4. Per-request predict vs micro-batcher (wait 0/1/2 ms, inline vs asyncio.to_thread)": [
        f"{s}-{fw}-orjson-{m}" for s, fw in (("uv1", "raw"), ("gr1", "raw"), ("gr1", "starlette"))
        for m in ("predict", "batch0-inline", "batch1-inline", "batch1-thread", "batch2-inline", "batch2-thread")],
}
out = []
for title, names in SECTIONS.items():
    rows = [x for x in (row(n) for n in names) if x]
    out += [f"#### {title}", "", H, *rows, ""]
print("\n".join(out))
