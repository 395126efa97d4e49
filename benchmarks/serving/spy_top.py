"""Summarise py-spy's raw (collapsed) output: where the samples go, per thread and function.

  python spy_top.py PROFILE.txt [--top 25] [--json OUT.json]

Each line of py-spy's `--format raw` output is `frame;frame;...;leaf COUNT` (with --threads the
first frame names the thread). Reports, per thread: its share of samples; the functions with
the most self samples (leaf frames); and the most inclusive (on the stack at all, counted
once per sample). Also sums inclusive time for a few named parts of the serving hot path.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    file = m["file"]
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{m['func']} ({file})"


def parse(path: str) -> list[tuple[list[str], int]]:
    out = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            out.append((stack.split(";"), int(count)))
    return out


# Parts of the request path, matched on the (short) frame text, counted inclusively.
PARTS = {
    "uvicorn httptools protocol (parse, build scope, write)": "httptools_impl.py",
    "steadyml ServingApp.__call__ (whole ASGI app)": "__call__ (steadyml/serving/app.py)",
    "V2 decode (SignatureCodec.decode)": "decode (steadyml/serving/protocol.py)",
    "V2 encode (encode_infer_response)": "encode_infer_response",
    "batcher submit/queue (Batcher)": "steadyml/serving/batching.py",
    "asyncio.to_thread / executor handoff": "to_thread",
    "model predict (sklearn)": "predict (sklearn/",
    "metrics.observe (prometheus)": "observe (steadyml/serving/metrics.py)",
    "prediction log append_batch": "append_batch (steadyml/store/predictions.py)",
    "asyncio.wait_for": "wait_for (asyncio/tasks.py)",
}


# Leaf (self) frames grouped by what they are: native frames need `py-spy record --native`.
LEAVES = {
    "socket write syscalls (write)": ("write (libc", "writev (libc", "send (libc"),
    "socket read syscalls (read)": ("read (libc", "recv (libc"),
    "waiting in epoll (idle loop)": ("epoll_wait", "epoll_pwait"),
    "cyclic GC (gc_collect_main)": ("gc_collect_main", "gc_collect", "collect (gc"),
    "getrandom syscall (uuid.uuid4 -> os.urandom)": ("getrandom",),
    "getpid syscall (asyncio.get_running_loop checks the pid)": ("getpid",),
}


def summarise(rows, top: int) -> dict:
    total = sum(c for _, c in rows)
    threads: Counter[str] = Counter()
    self_t: dict[str, Counter[str]] = defaultdict(Counter)
    incl_t: dict[str, Counter[str]] = defaultdict(Counter)
    parts: dict[str, Counter[str]] = defaultdict(Counter)
    leaves: dict[str, Counter[str]] = defaultdict(Counter)
    for stack, count in rows:
        thread = stack[0] if stack and stack[0].startswith(("thread", "process")) else "all"
        frames = stack[1:] if thread != "all" else stack
        if thread.startswith("process"):
            thread = "all"
        threads[thread] += count
        names = [short(f) for f in frames]
        if names:
            self_t[thread][names[-1]] += count
            for label, needles in LEAVES.items():
                if any(n in names[-1] for n in needles):
                    leaves[thread][label] += count
        for name in set(names):
            incl_t[thread][name] += count
        joined = ";".join(names)
        for label, needle in PARTS.items():
            if needle in joined:
                parts[thread][label] += count
    report = {"total_samples": total, "threads": {}}
    for thread, n in threads.most_common():
        report["threads"][thread] = {
            "samples": n, "share": round(n / total, 4),
            "self": [(f, c, round(c / n, 4)) for f, c in self_t[thread].most_common(top)],
            "inclusive": [(f, c, round(c / n, 4)) for f, c in incl_t[thread].most_common(top)],
            "parts": {k: (c, round(c / n, 4)) for k, c in parts[thread].most_common()},
            "leaf_kinds": {k: (c, round(c / n, 4)) for k, c in leaves[thread].most_common()},
        }
    return report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--json")
    args = ap.parse_args()
    report = summarise(parse(args.profile), args.top)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    print(f"samples: {report['total_samples']}")
    for thread, t in report["threads"].items():
        print(f"\n== {thread}: {t['samples']} samples ({t['share']:.1%})")
        print("  parts (inclusive):")
        for k, (_c, s) in t["parts"].items():
            print(f"    {s:6.1%}  {k}")
        print("  leaf kinds (self):")
        for k, (_c, s) in t["leaf_kinds"].items():
            print(f"    {s:6.1%}  {k}")
        print("  self:")
        for f, _c, s in t["self"]:
            print(f"    {s:6.1%}  {f}")
        print("  inclusive:")
        for f, _c, s in t["inclusive"]:
            print(f"    {s:6.1%}  {f}")


if __name__ == "__main__":
    main()
