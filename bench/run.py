#!/usr/bin/env python3
"""Side-by-side benchmarks: cqlhunt and its peers on the same generated files, in one run.

Usage: python3 bench/run.py [--events N] [--runs R] [--out BENCHMARKS.md]

Generates NG-SIEM-shaped Falcon NDJSON with `cqlhunt gen` (deterministic), warms the page
cache, then runs each command R times, alternating between tools, measuring wall time and
peak RSS with /usr/bin/time. Prints medians and ratios and rewrites BENCHMARKS.md.
Peers come from this machine's registries: DuckDB (pip install duckdb-cli), ripgrep
(apt-get install ripgrep). A peer that is not installed is reported as absent.
"""
import argparse
import json
import os
import platform
import random
import shutil
import statistics
import struct
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cqlhunt")
SEED = os.path.join(ROOT, "tests", "seed", "seed.cql")
SQL = os.path.join(ROOT, "..", "shared", "bench", "seed-intent.duckdb.sql")
EVENT_NAMES = ["ProcessRollup2", "NewExecutableWritten", "NewScriptWritten", "PeFileWritten",
               "RegGenericValueUpdate", "RegKeyCreate"]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def measure(cmd, stdin_path=None):
    """(seconds, peak RSS in MB) of one run, output discarded."""
    t = ["/usr/bin/time", "-f", "%e %M"] + cmd
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    start = time.perf_counter()
    p = subprocess.run(t, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    last = p.stderr.strip().splitlines()[-1].split()
    return wall, int(last[1]) / 1024.0


def damon_pageout():
    """Whether the kernel pages out memory it sees idle (a DAMON pageout scheme running)."""
    base = "/sys/kernel/mm/damon/admin/kdamonds"
    try:
        for k in os.listdir(base):
            if not k.isdigit() or open(f"{base}/{k}/state").read().strip() != "on":
                continue
            for root, _, files in os.walk(f"{base}/{k}/contexts"):
                if "action" in files and open(os.path.join(root, "action")).read().strip() == "pageout":
                    return True
    except OSError:
        pass
    return False


def alternate(cmds, runs, seed, repeat=lambda name: 1):
    """Each command's (seconds, peak RSS MB) over `runs` rounds: every round runs them all (a
    command `repeat(name)` times) in a new order, seeded, so that no command always follows the
    same one (a long two-thread run just before leaves the CPU hotter and slower)."""
    results = {name: [] for name in cmds}
    for r in range(runs):
        order = [n for n in cmds for _ in range(repeat(n))]
        random.Random(seed + r).shuffle(order)
        for name in order:
            results[name].append(measure(cmds[name]))
    return results


def evtx_chunks(path):
    """The 64 KiB chunks of an EVTX file that hold records."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"ElfFile\0"):
        return []
    out = []
    for off in range(4096, len(data) - 65535, 65536):
        c = data[off:off + 65536]
        if c.startswith(b"ElfChnk\0"):
            first, last = struct.unpack_from("<QQ", c, 8)
            if last >= first and last != 0:
                out.append(c)
    return out


def build_big_evtx(sources, target_bytes, dst):
    """One EVTX file of about target_bytes: the sources' chunks, repeated in order."""
    chunks = [c for s in sources for c in evtx_chunks(s)]
    n = min(65535, max(1, (target_bytes - 4096) // 65536))
    hdr = bytearray(4096)
    hdr[0:8] = b"ElfFile\0"
    struct.pack_into("<QQQ", hdr, 8, 0, n - 1, 1)          # first chunk, last chunk, next record id
    struct.pack_into("<IHHHH", hdr, 32, 128, 1, 3, 4096, n)  # header size, version 3.1, block size, chunks
    struct.pack_into("<I", hdr, 124, zlib.crc32(bytes(hdr[:120])))
    with open(dst, "wb") as f:
        f.write(hdr)
        for i in range(n):
            f.write(chunks[i % len(chunks)])


# The classes of Falcon event types the by-type breakdown splits the data into.
TYPE_CLASSES = [
    ("process", lambda t: t in ("ProcessRollup2", "SyntheticProcessRollup2")),
    ("file written", lambda t: t.endswith("Written") or t in ("FileCreateInfo", "FileRenameInfo")),
    ("registry", lambda t: t.startswith(("Reg", "Asep"))),
    ("other", lambda t: True),
]


def by_type_lines(data, data_dir, runs):
    """Where detect's time goes, by event type: the data split into classes of event types
    (files made once, beside the data), each read by the seed, detect and detect --no-enrich,
    alternately; and the commands over an empty file (their start-up)."""
    import re
    split_dir = os.path.join(data_dir, "by-type-" + os.path.basename(data).rsplit(".", 1)[0])
    paths = {name: os.path.join(split_dir, name.replace(" ", "-") + ".ndjson") for name, _ in TYPE_CLASSES}
    empty = os.path.join(split_dir, "empty.ndjson")
    if not all(os.path.exists(p) for p in paths.values()) or not os.path.exists(empty):
        os.makedirs(split_dir, exist_ok=True)
        kind = re.compile(rb'"#?event_simpleName"\s*:\s*"([^"\\]*)"')
        outs = {name: open(paths[name] + ".tmp", "wb") for name, _ in TYPE_CLASSES}
        with open(data, "rb") as f:
            for line in f:
                m = kind.search(line)
                t = m.group(1).decode() if m else ""
                for name, test in TYPE_CLASSES:
                    if test(t):
                        outs[name].write(line)
                        break
        for name, o in outs.items():
            o.close()
            os.replace(paths[name] + ".tmp", paths[name])
        open(empty, "wb").close()
    commands = {
        "seed": lambda p: [BIN, "run", "-q", "--lenient", "-o", "ndjson", "-j", "1", "-f", SEED, p],
        "detect": lambda p: [BIN, "detect", "-q", "-o", "ndjson", "-j", "1", p],
        "detect --no-enrich": lambda p: [BIN, "detect", "-q", "--no-enrich", "-o", "ndjson", "-j", "1", p],
    }
    inputs = [("(start-up: an empty file)", empty)] + [(n, paths[n]) for n, _ in TYPE_CLASSES]
    for _, p in inputs:
        sh(["cat", p], stdout=subprocess.DEVNULL)
    runs_of = alternate({(i, c): commands[c](p) for i, p in inputs for c in commands}, runs, 1000)
    times = {k: [t for t, _ in v] for k, v in runs_of.items()}
    out = [
        "",
        "## Where detect's time goes, by event type (not a target)",
        "",
        f"The data split by event type, one thread, medians of {runs} runs (ms); the first row is the start-up",
        "(an empty file), which every other row includes.",
        "",
        "| lines | count | MB | seed | detect | detect --no-enrich | detect − seed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for i, p in inputs:
        n = sum(1 for _ in open(p, "rb")) if p != empty else 0
        m = {c: statistics.median(times[(i, c)]) * 1000 for c in commands}
        out.append(f"| {i} | {n:,} | {os.path.getsize(p) / 1e6:,.0f} | {m['seed']:.0f} | {m['detect']:.0f} | "
                   f"{m['detect --no-enrich']:.0f} | {m['detect'] - m['seed']:+.0f} |")
    return out


def one_scan_per_rule(data, data_dir, runs):
    """Rules sharing a scan against one scan per rule: `detect` with the whole pack, and each of
    its rules alone (a pack of that one rule), over the same file, alternately. Returns the
    report's lines and whether the alerts agree (the pack's alerts are exactly the union of its
    rules' alone)."""
    alerts_dir = os.path.join(ROOT, "rules", "t1505", "alerts")
    rules = sorted(f for f in os.listdir(alerts_dir) if f.endswith(".yaml"))
    packs = {}
    for f in rules:
        d = os.path.join(data_dir, "one-rule", f[:-len(".yaml")])
        os.makedirs(os.path.join(d, "alerts"), exist_ok=True)
        shutil.copy(os.path.join(ROOT, "rules", "t1505", "manifest.yaml"), os.path.join(d, "manifest.yaml"))
        for old in os.listdir(os.path.join(d, "alerts")):
            os.remove(os.path.join(d, "alerts", old))
        shutil.copy(os.path.join(alerts_dir, f), os.path.join(d, "alerts", f))
        packs[f[:-len(".yaml")]] = d
    whole = [BIN, "detect", "-q", "-o", "ndjson", "-j", "1", data]
    cmds = {"(the whole pack)": whole}
    for name, d in packs.items():
        cmds[name] = [BIN, "detect", "-q", "-o", "ndjson", "-j", "1", "--rules", d, data]

    def alerts(cmd):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return sorted(l for l in out.splitlines() if l.strip())

    sh(["cat", data], stdout=subprocess.DEVNULL)
    want = alerts(whole)
    got = sorted(l for name in packs for l in alerts(cmds[name]))
    same = want == got
    med = {name: statistics.median(t for t, _ in rs) for name, rs in alternate(cmds, runs, 2000).items()}
    alone = sum(med[name] for name in packs)
    slowest = max(packs, key=lambda n: med[n])
    fastest = min(packs, key=lambda n: med[n])
    out = [
        "",
        "## Rules sharing a scan (not a target)",
        "",
        f"`detect` with the whole pack ({len(packs)} rules, one scan) against each rule alone (a pack of that",
        f"one rule, its own scan), one thread, over the same file, medians of {runs} runs:",
        "",
        "| | s |",
        "|---|---:|",
        f"| the whole pack, one scan | {med['(the whole pack)']:.2f} |",
        f"| each rule in its own scan, summed | {alone:.2f} |",
        f"| one rule alone: the fastest ({fastest}) | {med[fastest]:.2f} |",
        f"| one rule alone: the slowest ({slowest}) | {med[slowest]:.2f} |",
        "",
        f"One scan takes {med['(the whole pack)'] / alone:.2f}× the time of {len(packs)} scans, and "
        f"{med['(the whole pack)'] / med[slowest]:.2f}× that of its slowest rule alone. "
        + (f"The pack's {len(want)} alerts are exactly its rules' alerts alone, together."
           if same else f"The pack's alerts ({len(want)}) are NOT its rules' alerts alone ({len(got)})."),
    ]
    return out, same


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_450_000,
                    help="events to generate (1,450,000 make about 1 GB)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--evtx-mb", type=int, default=200,
                    help="size of the EVTX file made of the corpus's EVTX chunks, replicated")
    args = ap.parse_args()

    sh(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    data_dir = os.path.join(ROOT, "bench", "data")
    os.makedirs(data_dir, exist_ok=True)
    data = os.path.join(data_dir, f"falcon-{args.events}.ndjson")
    if not os.path.exists(data):
        with open(data, "wb") as f:
            sh([BIN, "gen", "--events", str(args.events), "--seed", "1", "--hosts", "200"], stdout=f)
    size_mb = os.path.getsize(data) / 1e6
    sh(["cat", data], stdout=subprocess.DEVNULL)  # warm the page cache

    cmds = {
        "cqlhunt seed (lenient), 1 thread": [BIN, "run", "-q", "--lenient", "-o", "ndjson", "-j", "1", "-f", SEED, data],
    }
    cmds["cqlhunt seed (lenient), 2 threads"] = [BIN, "run", "-q", "--lenient", "-o", "ndjson", "-j", "2", "-f", SEED, data]
    cmds["cqlhunt detect (the whole T1505 pack), 1 thread"] = [BIN, "detect", "-q", "-o", "ndjson", "-j", "1", data]
    cmds["cqlhunt detect (the whole T1505 pack), 2 threads"] = [BIN, "detect", "-q", "-o", "ndjson", "-j", "2", data]
    # Not a target: detect without the process tree, to tell the rules' shared scan from the
    # enrichment (the seed's query needs no tree on Falcon lines, which name the parent).
    cmds["cqlhunt detect --no-enrich (no process tree), 1 thread"] = [
        BIN, "detect", "-q", "--no-enrich", "-o", "ndjson", "-j", "1", data]
    cmds["cqlhunt seed from stdin (cat FILE |), 1 thread"] = [
        "sh", "-c", f'cat "{data}" | "{BIN}" run -q --lenient -o ndjson -j 1 -f "{SEED}" -']
    zst = data + ".zst"
    if shutil.which("zstd"):
        if not os.path.exists(zst):
            sh(["zstd", "-q", "-T0", "-o", zst, data])
        cmds["cqlhunt seed over FILE.zst, 1 thread (+ decompression thread)"] = [
            BIN, "run", "-q", "--lenient", "-o", "ndjson", "-j", "1", "-f", SEED, zst]
        cmds["zstd -dc FILE.zst"] = ["sh", "-c", f'zstd -dc "{zst}" > /dev/null']
    duck = shutil.which("duckdb")
    if duck:
        sql = open(SQL).read()
        for th in (1, 2):
            cmds[f"duckdb seed-intent.sql, {th} thread{'s' if th > 1 else ''}"] = [
                duck, "-json", "-c", f"SET threads={th}; SET VARIABLE src='{data}'; {sql}"]
    rg = shutil.which("rg")
    if rg:
        cmds["rg -c (six event names)"] = [rg, "-c"] + sum((["-e", n] for n in EVENT_NAMES), []) + [data]

    # EVTX: the corpus's EVTX chunks, replicated into one file of --evtx-mb, against evtx_dump
    # -o jsonl on the same file (one process each, so no per-file start-up cost is measured).
    corpus = os.path.join(ROOT, "..", "shared", "corpus")
    sources = sorted(os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs if f.endswith(".evtx"))
    big = os.path.join(data_dir, f"corpus-{args.evtx_mb}mb.evtx")
    if not os.path.exists(big):
        build_big_evtx(sources, args.evtx_mb * 1_000_000, big)
    evtx_mb = os.path.getsize(big) / 1e6
    n = (os.path.getsize(big) - 4096) // 65536
    evtx_cmds = {}
    for th in (1, 2):
        evtx_cmds[f"cqlhunt seed over the EVTX file, {th} thread{'s' if th > 1 else ''}"] = [
            BIN, "run", "-q", "--lenient", "-o", "ndjson", "-j", str(th), "-f", SEED, big]
    evtx_cmds["cqlhunt detect (the whole pack) over the EVTX file, 1 thread"] = [
        BIN, "detect", "-q", "-o", "ndjson", "-j", "1", big]
    evtx_cmds["cqlhunt detect (the whole pack) over the EVTX file, 2 threads"] = [
        BIN, "detect", "-q", "-o", "ndjson", "-j", "2", big]
    dump = shutil.which("evtx_dump") or (os.path.expanduser("~/.cargo/bin/evtx_dump")
                                          if os.path.exists(os.path.expanduser("~/.cargo/bin/evtx_dump")) else None)
    if dump:
        evtx_cmds["evtx_dump -t 1 -o jsonl"] = ["sh", "-c", f'"{dump}" -t 1 -o jsonl "{big}" > /dev/null']
    cmds.update(evtx_cmds)
    # Every input read once before the runs: a VM may page out what has not been read for a while
    # (DAMON's pageout scheme, on here), and a first run from disk would count.
    for p in (data, zst, big):
        if os.path.exists(p):
            sh(["cat", p], stdout=subprocess.DEVNULL)

    # Rows: cqlhunt (1 and 2 threads) against DuckDB on the same file, as sets of canonical rows.
    def rows_of(cmd):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
        if not out:
            return []
        try:
            items = json.loads(out)
            items = items if isinstance(items, list) else [items]
        except json.JSONDecodeError:
            items = [json.loads(l) for l in out.splitlines() if l.strip()]
        return sorted(json.dumps({k: v for k, v in r.items() if v is not None}, sort_keys=True) for r in items)

    same_rows = None
    if duck:
        want = rows_of(cmds["duckdb seed-intent.sql, 1 thread"])
        got1 = rows_of(cmds["cqlhunt seed (lenient), 1 thread"])
        got2 = rows_of(cmds["cqlhunt seed (lenient), 2 threads"])
        same_rows = (got1 == want and got2 == want, len(want))

    seed1_name = "cqlhunt seed (lenient), 1 thread"
    # The short EVTX commands run three times a round.
    results = alternate(cmds, args.runs, 0, lambda n: 3 if n in evtx_cmds else 1)
    rows = []
    base = statistics.median(t for t, _ in results["cqlhunt seed (lenient), 1 thread"])
    evtx_base = statistics.median(t for t, _ in results["cqlhunt seed over the EVTX file, 1 thread"])
    for name, rs in results.items():
        med = statistics.median(t for t, _ in rs)
        rss = max(m for _, m in rs)
        b = evtx_base if name in evtx_cmds else base
        rows.append((name, med, rss, b / med if med else 0.0))
    lines = [
        "# Benchmarks",
        "",
        "Regenerated by `python3 bench/run.py` (data from `cqlhunt gen`, page cache warm, tools run",
        "alternately in a new order each round, medians of the runs; the EVTX commands three times a",
        "round). Ratios are cqlhunt's time divided by the tool's: below 1.0 cqlhunt is faster.",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
        + ("; DAMON pageout on (memory idle for a while is paged out, so single runs vary; each input is read once before its runs)"
           if damon_pageout() else ""),
        f"- data: {args.events:,} events, {size_mb:,.0f} MB of NG-SIEM-shaped Falcon NDJSON",
        f"- EVTX: one file of {n} chunks ({evtx_mb:,.0f} MB): the record-holding chunks of the corpus's {len(sources)} EVTX files, repeated",
        f"- runs: {args.runs}; peers absent: {', '.join(p for p, ok in (('duckdb', duck), ('ripgrep', rg), ('evtx_dump', dump)) if not ok) or 'none'}",
        "",
        "| command | median s | peak RSS MB | cqlhunt ÷ this |",
        "|---|---:|---:|---:|",
    ]
    for name, med, rss, ratio in rows:
        lines.append(f"| {name} | {med:.2f} | {rss:.0f} | {ratio:.2f} |")
    med = {name: statistics.median(t for t, _ in rs) for name, rs in results.items()}

    # Memory against input size: the seed once over 4 times the data (4 GB).
    big4 = os.path.join(data_dir, f"falcon-{args.events * 4}.ndjson")
    if not os.path.exists(big4):
        with open(big4, "wb") as f:
            sh([BIN, "gen", "--events", str(args.events * 4), "--seed", "1", "--hosts", "200"], stdout=f)
    sh(["cat", big4], stdout=subprocess.DEVNULL)
    t4, rss4 = measure([BIN, "run", "-q", "--lenient", "-o", "ndjson", "-j", "1", "-f", SEED, big4])
    rss1 = max(m for _, m in results[seed1_name])
    mem_lines = [
        "",
        f"Memory against input size: the seed over {os.path.getsize(big4) / 1e9:.1f} GB ({args.events * 4:,} events) "
        f"took {t4:.2f} s and peaked at {rss4:.0f} MB, against {rss1:.0f} MB over the 1 GB file.",
    ]

    def ratio(a, b):
        return med[a] / med[b] if a in med and b in med and med[b] else None

    seed1, seed2 = seed1_name, "cqlhunt seed (lenient), 2 threads"
    targets = [
        ("seed, 1 thread ÷ DuckDB, 1 thread", ratio(seed1, "duckdb seed-intent.sql, 1 thread"), 0.5),
        ("seed, 2 threads ÷ DuckDB, 2 threads", ratio(seed2, "duckdb seed-intent.sql, 2 threads"), 0.5),
        ("seed, 2 threads ÷ rg -c", ratio(seed2, "rg -c (six event names)"), 1.5),
        ("seed, 1 thread ÷ seed, 2 threads (scaling)", ratio(seed1, seed2), None),
        ("detect ÷ seed (1 thread)", ratio("cqlhunt detect (the whole T1505 pack), 1 thread", seed1), 1.5),
        ("stdin ÷ file", ratio("cqlhunt seed from stdin (cat FILE |), 1 thread", seed1), 1.3),
        (".zst ÷ zstd -dc", ratio("cqlhunt seed over FILE.zst, 1 thread (+ decompression thread)", "zstd -dc FILE.zst"), 1.5),
        ("EVTX seed, 1 thread ÷ evtx_dump", ratio("cqlhunt seed over the EVTX file, 1 thread", "evtx_dump -t 1 -o jsonl"), 1.3),
        ("EVTX seed, 2 threads ÷ 1 thread", ratio("cqlhunt seed over the EVTX file, 2 threads", "cqlhunt seed over the EVTX file, 1 thread"), 1.0),
        # Must-show 7 says "the pack": read as the seed pack above, and as the T1505 pack here.
        ("EVTX detect (T1505 pack), 1 thread ÷ evtx_dump", ratio("cqlhunt detect (the whole pack) over the EVTX file, 1 thread", "evtx_dump -t 1 -o jsonl"), 1.3),
        ("EVTX detect (T1505 pack), 2 threads ÷ 1 thread", ratio("cqlhunt detect (the whole pack) over the EVTX file, 2 threads", "cqlhunt detect (the whole pack) over the EVTX file, 1 thread"), 1.0),
    ]
    lines += ["", "## Against the targets of issue 6", "", "| ratio | measured | target | met |", "|---|---:|---:|---|"]
    targets.append(("peak RSS, 4 GB ÷ 1 GB", rss4 / rss1 if rss1 else None, 1.1))
    targets.append(("peak RSS of the seed over 1 GB, MB ÷ 100", rss1 / 100.0, 1.0))
    missed = []
    for name, r, limit in targets:
        if r is None:
            continue
        met = r >= 1.7 if limit is None else r <= limit  # None: scaling, at least 1.7
        if not met:
            missed.append(f"{name}: {r:.2f}")
        if limit is None:
            lines.append(f"| {name} | {r:.2f} | ≥ 1.70 | {'yes' if met else 'no'} |")
        else:
            lines.append(f"| {name} | {r:.2f} | ≤ {limit:.2f} | {'yes' if met else 'no'} |")
    if same_rows is not None:
        ok, n_rows = same_rows
        if not ok:
            missed.append("the seed's rows differ from DuckDB's")
        lines += ["", f"Rows: the seed's {n_rows} rows from cqlhunt (1 and 2 threads) and from DuckDB are "
                  + ("identical (as sets of rows)." if ok else "NOT identical.")]
    no_tree = ratio("cqlhunt detect --no-enrich (no process tree), 1 thread", seed1)
    whole = ratio("cqlhunt detect (the whole T1505 pack), 1 thread", seed1)
    if no_tree is not None and whole is not None:
        lines += ["", f"Where detect's time goes (not a target): without the process tree (`--no-enrich`) the 25 "
                  f"rules take {no_tree:.2f}× the seed's time; the tree (parents' and grandparents' names on "
                  f"process events, the acting process's on file and registry events, which the seed's query "
                  f"does not need on Falcon lines) takes the rest, up to {whole:.2f}×."]
    lines += by_type_lines(data, data_dir, min(args.runs, 5))
    per_rule, same_alerts = one_scan_per_rule(data, data_dir, min(args.runs, 3))
    lines += per_rule
    if not same_alerts:
        missed.append("the pack's alerts differ from its rules' alerts alone")
    lines += mem_lines
    lines += [
        "",
        "EVTX rows compare with the cqlhunt EVTX row; the others with the cqlhunt NDJSON row.",
        "The EVTX file is built by bench/run.py from the corpus files' chunks (a new file header with the",
        "chunk count and its CRC; each chunk is copied whole, so its own checksums hold): the corpus",
        "holds 23 small files (3.7 MB) whose chunks are sparse (about 9 records per 64 KiB chunk).",
        "Peak RSS is the largest of the runs, from /usr/bin/time. Install the peers with",
        "`pip install duckdb-cli`, `apt-get install ripgrep`, `cargo install evtx --locked`.",
    ]
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    # A missed target fails the run (after BENCHMARKS.md is written).
    if missed:
        sys.stderr.write("targets missed:\n" + "".join(f"  {m}\n" for m in missed))
        sys.exit(1)


if __name__ == "__main__":
    main()
