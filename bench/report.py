# SPDX-License-Identifier: MIT
# bench/report.py RES_DIR OUT_JSON OUT_MD: turns the raw outputs of bench/run.sh (one file per
# step in RES_DIR: NAME.out = the tool's JSON lines or wrk's text, NAME.err = why the step
# failed) into the results: machine notes, one table per measurement with target, measured
# value and pass/miss, written as JSON and Markdown and printed. A step that failed or did not
# run is reported as "not measured: <reason>", never with a number.
import datetime
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys

RES, OUT_JSON, OUT_MD = sys.argv[1:4]
ENV = os.environ
SRC, BUILD, LAKE = ENV["BENCH_SRC"], ENV["BENCH_BUILD"], ENV["BENCH_LAKE"]
QUERIES = ENV["BENCH_QUERIES"].split()
THREADS = int(ENV["BENCH_THREADS"])
SEED = {"q1_count": "Q1 count(*)", "q2_top_pickups": "Q2 top pickups, 2 days",
        "q3_partitioned": "Q3 hive, 10 days",
        "q3_named": "Q3 by table name (FROM partitioned)", "select1": "SELECT 1 (reference)"}


def load(name):
    """(list of parsed JSON lines or raw text, None) or (None, reason)."""
    err = os.path.join(RES, name + ".err")
    out = os.path.join(RES, name + ".out")
    if os.path.exists(err):
        return None, open(err).read().strip() or "failed"
    if not os.path.exists(out):
        return None, "did not run"
    text = open(out).read()
    if name.startswith("tp_"):
        return text, None
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()], None
    except ValueError as e:
        return None, "unreadable output: %s" % e


def command(name):
    """The command a step ran, shell-quoted, with the build, lake and work directories and the
    server's port abbreviated."""
    p = os.path.join(RES, name + ".cmd")
    if not os.path.exists(p):
        return None
    work = os.path.dirname(RES)
    args = []
    for a in open(p, "rb").read().decode(errors="replace").split("\0")[:-1]:
        a = a.replace(LAKE, "$LAKE").replace(BUILD + "/", "$BUILD/").replace(work, "$WORK")
        a = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", a.replace(SRC + "/", ""))
        if re.match(r"^[\w$@%+=:,./-]+$", a):
            args.append(a)
        elif "'" in a and not re.search(r'["\\`]', a):
            args.append('"%s"' % a)  # readable, and $LAKE still expands when pasted
        else:
            args.append(shlex.quote(a))
    return " ".join(args)


def md_commands(out, names):
    cmds = [c for c in (command(n) for n in names) if c]
    if cmds:
        out.append("")
        out.append("Commands (`$BUILD` = the build directory, `$LAKE` = its test-lake, `$WORK` = "
                   "run.sh's temporary directory):")
        out.append("")
        for c in cmds:
            out.append("    " + c)


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def loadavg_start():
    p = os.path.join(RES, "loadavg_start.txt")
    return open(p).read().split()[:3] if os.path.exists(p) else ["?"]


def cpu_busy_start():
    p = os.path.join(RES, "cpu_busy_start.txt")
    return int(open(p).read().strip() or 0) if os.path.exists(p) else None


def snap(which):
    """(wall seconds, machine busy CPU seconds, our children's CPU seconds) or None."""
    p = os.path.join(RES, "snap_%s.txt" % which)
    if not os.path.exists(p):
        return None
    lines = open(p).read().splitlines()
    try:
        hz = os.sysconf("SC_CLK_TCK")
        cpu = [int(x) for x in lines[1].split()[1:]]
        busy = (sum(cpu[:8]) - cpu[3] - cpu[4]) / hz  # all but idle and iowait
        ours = sum(float(m) * 60 + float(sec) for m, sec in re.findall(r"(\d+)m([\d.]+)s", " ".join(lines[2:4])))
        return float(lines[0]), busy, ours
    except (IndexError, ValueError):
        return None


def interference():
    """CPU seconds over the measured part of the run: wall, the whole machine's busy time, the
    run's own processes; and the share of the machine other processes used (%)."""
    a, b = snap("start"), snap("end")
    n = os.cpu_count() or 1
    if not a or not b or b[0] <= a[0]:
        return None
    wall, busy, ours = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    return {"wall_s": round(wall, 1), "machine_busy_cpu_s": round(busy, 1),
            "own_cpu_s": round(ours, 1),
            "others_pct": round(max(0.0, 100.0 * (busy - ours) / (wall * n)), 1)}


def machine():
    cpu, flags, mem = "?", "", "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and cpu == "?":
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    osname = "?"
    if os.path.exists("/etc/os-release"):
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip().strip('"')
    duck = "?"
    b, _ = load("warm_select1_baseline_r1")
    if b:
        duck = b[0].get("duckdb", "?")
    rev = sh("git", "-C", SRC, "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", SRC, "status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": int(sh("nproc") or 0), "cpu": cpu, "ram": mem,
        "virtualized": " hypervisor" in flags, "kernel": platform.release(), "os": osname,
        "duckdb": duck, "quack": sh(os.path.join(BUILD, "quack"), "version").splitlines()[0:1],
        "git": rev + (" (uncommitted changes)" if dirty else ""),
        "cpu_busy_start_pct": cpu_busy_start(), "cpu_during_run": interference(),
        "loadavg_start": loadavg_start(), "loadavg_end": open("/proc/loadavg").read().split()[:3],
        "threads": THREADS, "lake": LAKE,
    }


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if not n else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)


def verdict(ok):
    return "pass" if ok else "MISS"


def cold():
    base, be = load("cold_baseline")
    rows = []
    inner = os.path.join(RES, "cold_baseline_inner.jsonl")
    opens = []
    if os.path.exists(inner):
        for line in open(inner):
            try:
                opens.append(json.loads(line)["open_ms"])
            except (ValueError, KeyError):
                pass
    for name, what in (("cold_query", "`quack query -q Q1` exec -> printed result -> exit"),
                       ("cold_serve", "`quack serve` exec -> first answered POST /invoke (Q1)")):
        q, qe = load(name)
        row = {"what": what, "target": "<= 50 ms beyond baseline"}
        if base is None or q is None:
            row["not_measured"] = be or qe
        else:
            key = "answer_median_ms" if name == "cold_serve" else "median_ms"
            row.update(quack_ms=q[0][key], baseline_ms=base[0]["median_ms"],
                       extra_ms=q[0][key] - base[0]["median_ms"])
            row["verdict"] = verdict(row["extra_ms"] <= 50)
            if name == "cold_serve":
                row["listen_ms"] = q[0]["listen_median_ms"]
        rows.append(row)
    return {"baseline_open_ms": median(opens), "rows": rows}


def pct(xs, p):
    """Nearest-rank percentile, as bench.h computes it."""
    xs = sorted(xs)
    k = max(1, min(len(xs), int(math.ceil(p / 100.0 * len(xs)))))
    return xs[k - 1]


def pooled(q, side):
    """The samples of every round of one query and side, pooled: (dict, None) or (None, why)."""
    names = sorted({os.path.splitext(fn)[0] for fn in os.listdir(RES)
                    if re.match(r"warm_%s_%s_r\d+\.(out|err)$" % (q, side), fn)})
    if not names:
        return None, "did not run"
    acc = {"samples": [], "server": [], "query": [], "encode": []}
    last = {}
    for name in names:
        data, err = load(name)
        if err:
            return None, "%s: %s" % (name, err)
        last = data[0]
        acc["samples"] += last.get("samples_ms", last.get("total_samples_ms", []))
        acc["server"] += last.get("server_samples_ms", [])
        acc["query"] += last.get("query_samples_ms", [])
        acc["encode"] += last.get("encode_samples_ms", [])
    out = {"n": len(acc["samples"]), "median": median(acc["samples"]),
           "p99": pct(acc["samples"], 99), "rows": last.get("rows"),
           "records": last.get("records")}
    for k in ("server", "query", "encode"):
        if acc[k]:
            out[k] = median(acc[k])
    return out, None


def warm():
    rows = []
    for q in QUERIES:
        b, be = pooled(q, "baseline")
        e, ee = pooled(q, "engine")
        h, he = pooled(q, "http")
        row = {"query": q, "label": SEED.get(q, q),
               "target": "<= 1.10" if q != "select1" else "none (reference)"}
        if b:
            row.update(baseline_ms=b["median"], baseline_p99_ms=b["p99"], rows=b["rows"],
                       samples=b["n"])
        if e:
            row.update(engine_ms=e["median"], engine_query_ms=e.get("query"),
                       engine_encode_ms=e.get("encode"))
        if h:
            row.update(http_ms=h["median"], http_p99_ms=h["p99"],
                       server_time_ms=h.get("server"), records=h["records"])
        if b and h:
            row["ratio"] = row["http_ms"] / row["baseline_ms"]
            row["extra_ms"] = row["http_ms"] - row["baseline_ms"]
            if q != "select1":
                row["verdict"] = verdict(row["ratio"] <= 1.10)
        reasons = [r for r in (be, ee, he) if r]
        if reasons:
            row["not_measured"] = "; ".join(reasons)
        rows.append(row)
    return rows


def wrk_ms(text, pct):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def loadgen():
    t, err = load("tp_loadgen")
    row = {"what": "SELECT 1 via POST /invoke, keep-alive, bench/loadgen %s clients x 2500 "
           "requests (cross-check)" % ENV["BENCH_TP_CONNS"], "target": ">= 2,000 req/s"}
    if t is None:
        row["not_measured"] = err
        return row
    try:
        j = json.loads(t.strip().splitlines()[-1])
        bad = j["unexpected"] + j["transportErrors"]
        row.update(req_per_s=j["rps"], p50_ms=j["latencyMs"]["p50"], p99_ms=j["latencyMs"]["p99"],
                   requests=j["requests"], non_2xx=bad)
        row["verdict"] = verdict(j["rps"] >= 2000 and bad == 0)
    except (ValueError, KeyError, IndexError) as e:
        row["not_measured"] = "unreadable loadgen output: %s" % e
    return row


def throughput():
    t, err = load("tp_wrk")
    row = {"what": "SELECT 1 via POST /invoke, keep-alive, wrk -t2 -c%s -d%ss" %
           (ENV["BENCH_TP_CONNS"], ENV["BENCH_TP_SECONDS"]), "target": ">= 2,000 req/s"}
    if t is None:
        row["not_measured"] = err
        return row
    m = re.search(r"Requests/sec:\s+([\d.]+)", t)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
    sock = re.search(r"Socket errors:(.*)", t)
    total = re.search(r"(\d+) requests in", t)
    if not m:
        row["not_measured"] = "no Requests/sec in wrk output"
        return row
    row.update(req_per_s=float(m.group(1)), p50_ms=wrk_ms(t, 50), p99_ms=wrk_ms(t, 99),
               requests=int(total.group(1)) if total else None,
               non_2xx=int(bad.group(1)) if bad else 0,
               socket_errors=sock.group(1).strip() if sock else "none")
    row["verdict"] = verdict(row["req_per_s"] >= 2000 and row["non_2xx"] == 0)
    return row


def encode():
    e, err = load("encode")
    if e is None:
        return [{"format": f, "not_measured": err} for f in ("json", "ndjson", "csv")]
    rows = []
    for r in e:
        row = {k: r[k] for k in ("format", "runs", "rows", "bytes", "rows_per_s", "mb_per_s",
                                 "encode_median_ms", "encode_min_ms", "query_median_ms")}
        row["target"] = ">= 1,000,000 rows/s" if r["format"] == "json" else "none"
        if r["format"] == "json":
            row["verdict"] = verdict(r["rows_per_s"] >= 1e6)
        rows.append(row)
    return rows


def f(x, fmt="%.2f"):
    return "-" if x is None else fmt % x


def md_warm(res, out):
    out.append("### (1) Warm latency, ms (median of %s runs: %s interleaved rounds, each after warm-up; "
               "POST /invoke with limit 20 on one keep-alive connection; baseline = plain DuckDB, "
               "same thread count)" % (next((r["samples"] for r in res["warm"] if "samples" in r),
                                           ENV["BENCH_RUNS"]), ENV["BENCH_ROUNDS"]))
    out.append("")
    out.append("| query | rows | baseline (p99) | quack engine in-process: query + JSON | "
               "quack server timeMs | quack POST /invoke (p99) | /invoke - baseline | "
               "ratio /invoke / baseline | target | result |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    for r in res["warm"]:
        if "not_measured" in r:
            notes.append("%s: not measured: %s" % (r["label"], r["not_measured"]))
        eng = "-" if "engine_ms" not in r else "%s (%s + %s)" % (
            f(r["engine_ms"], "%.3f"), f(r["engine_query_ms"], "%.3f"),
            f(r["engine_encode_ms"], "%.3f"))
        out.append("| %s | %s | %s (%s) | %s | %s | %s (%s) | %s | %s | %s | %s |" % (
            r["label"], r.get("rows", "-"), f(r.get("baseline_ms"), "%.3f"),
            f(r.get("baseline_p99_ms"), "%.3f"), eng, f(r.get("server_time_ms"), "%.3f"),
            f(r.get("http_ms"), "%.3f"), f(r.get("http_p99_ms"), "%.3f"),
            f(r.get("extra_ms"), "%.3f"), f(r.get("ratio")), r["target"],
            r.get("verdict", "not measured" if "not_measured" in r else "-")))
    for n in notes:
        out.append("")
        out.append(n)
    md_commands(out, ["warm_q2_top_pickups_baseline_r1", "warm_q2_top_pickups_engine_r1",
                      "warm_q2_top_pickups_http_r1"])
    out.append("    (the same for every query, in each of the rounds; the server: $BUILD/quack serve "
               "--lake $LAKE --host 127.0.0.1 --port 0 --port-file F --threads %d)" % THREADS)
    out.append("")


def md_cold(res, out):
    c = res["cold_start"]
    out.append("### (2) Cold start (median of 10 runs; baseline = `baseline --once`, Q1; "
               "DuckDB's own open in the baseline: %s ms)" % f(c["baseline_open_ms"]))
    out.append("")
    out.append("| measurement | target | quack ms | baseline ms | beyond baseline ms | result |")
    out.append("|---|---|---|---|---|---|")
    for r in c["rows"]:
        if "not_measured" in r:
            out.append("| %s | %s | not measured: %s | | | |" % (r["what"], r["target"], r["not_measured"]))
        else:
            extra = " (listening after %s ms)" % f(r["listen_ms"]) if "listen_ms" in r else ""
            out.append("| %s | %s | %s%s | %s | %s | %s |" % (
                r["what"], r["target"], f(r["quack_ms"]), extra, f(r["baseline_ms"]),
                f(r["extra_ms"]), r["verdict"]))
    md_commands(out, ["cold_baseline", "cold_query", "cold_serve"])
    out.append("")


def md_throughput(res, out):
    out.append("### (3) Throughput (`quack serve --threads %s`, client on the same machine)" % THREADS)
    out.append("")
    out.append("| measurement | target | req/s | p50 ms | p99 ms | requests | errors | result |")
    out.append("|---|---|---|---|---|---|---|---|")
    for t in res["throughput"]:
        if "not_measured" in t:
            out.append("| %s | %s | not measured: %s | | | | | |" % (t["what"], t["target"], t["not_measured"]))
        else:
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                t["what"], t["target"], f(t["req_per_s"], "%.0f"), f(t["p50_ms"]), f(t["p99_ms"]),
                t["requests"], t["non_2xx"], t["verdict"]))
    md_commands(out, ["tp_wrk", "tp_loadgen"])
    out.append("    (post.lua: wrk.method = \"POST\"; wrk.body = '{\"q\":\"SELECT 1\",\"limit\":20}'; "
               "Content-Type: application/json)")
    out.append("")


def md_encode(res, out):
    runs = next((r["runs"] for r in res["encode"] if "runs" in r), "?")
    out.append("### (4) Encoding a 1M-row taxi result (17 columns; median of %s runs; query timed "
               "separately)" % runs)
    out.append("")
    out.append("| format | target | rows/s | MB/s | bytes | encode ms | query ms | result |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in res["encode"]:
        if "not_measured" in r:
            out.append("| %s | | not measured: %s | | | | | |" % (r["format"], r["not_measured"]))
        else:
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["format"], r["target"], "{:,.0f}".format(r["rows_per_s"]), f(r["mb_per_s"], "%.0f"),
                "{:,}".format(r["bytes"]), f(r["encode_median_ms"], "%.0f"),
                f(r["query_median_ms"], "%.0f"), r.get("verdict", "-")))
    md_commands(out, ["encode"])
    out.append("")


def md_summary(res, out):
    out.append("### Summary")
    out.append("")
    out.append("| # | target | measured | result |")
    out.append("|---|---|---|---|")
    seeds = [r for r in res["warm"] if r["query"] != "select1"]
    got = ", ".join("%s %s" % (r["label"].split()[0], f(r.get("ratio"))) for r in seeds)
    ok = [r.get("verdict") for r in seeds]
    out.append("| 1 | warm POST /invoke latency / baseline <= 1.10 (median, per seed query) | %s | %s |"
               % (got, "not measured" if None in ok else ("pass" if all(v == "pass" for v in ok)
                                                          else "MISS (%d of %d)" % (ok.count("MISS"), len(ok)))))
    for r in res["cold_start"]["rows"]:
        out.append("| 2 | %s: <= 50 ms beyond plain DuckDB | %s | %s |" % (
            r["what"], "not measured: %s" % r["not_measured"] if "not_measured" in r
            else "+%s ms" % f(r["extra_ms"]) if r["extra_ms"] >= 0 else "%s ms" % f(r["extra_ms"]),
            r.get("verdict", "not measured")))
    t = res["throughput"][0]
    out.append("| 3 | SELECT 1 over keep-alive HTTP >= 2,000 req/s | %s | %s |" % (
        "not measured: %s" % t["not_measured"] if "not_measured" in t
        else "{:,.0f} req/s".format(t["req_per_s"]), t.get("verdict", "not measured")))
    j = [r for r in res["encode"] if r["format"] == "json"]
    if j and "not_measured" not in j[0]:
        out.append("| 4 | JSON encoding of a 1M-row result >= 1M rows/s | {:,.0f} rows/s | {} |".format(
            j[0]["rows_per_s"], j[0]["verdict"]))
    else:
        out.append("| 4 | JSON encoding of a 1M-row result >= 1M rows/s | not measured: %s | not measured |"
                   % (j[0]["not_measured"] if j else "no output"))
    out.append("")


PATHS_NOTE = (
    "Diagnostics, no target (`bench_paths`, median ms of 30 interleaved runs, all on one "
    "process): baseline = `duckdb_query` on a long-lived connection; connect+query = a new "
    "connection per query; prepare+exec = new connection, `duckdb_prepare` + "
    "`duckdb_execute_prepared`; quack-like = what src/engine/query.c did until git 2442230 (extract statements, "
    "prepare the statement, prepare the LIMIT-wrapped statement, pending execution task by "
    "task); wrapped-1-prep = only the wrapped statement prepared; wrapped-query = "
    "`duckdb_query` of the wrapped statement on a new connection; qk_engine_query = quack's "
    "engine itself.")


def paths():
    rows = []
    for q in QUERIES:
        data, err = load("paths_" + q)
        row = {"query": q, "label": SEED.get(q, q)}
        if err:
            row["not_measured"] = err
        else:
            row["paths"] = {d["path"]: {"median_ms": d["median_ms"], "min_ms": d["min_ms"]}
                            for d in data}
        rows.append(row)
    return rows


def md_paths(res, out):
    rows = res["paths"]
    names = next((list(r["paths"]) for r in rows if "paths" in r), [])
    out.append("")
    out.append("### Where the engine's warm time goes")
    out.append("")
    out.append(PATHS_NOTE)
    out.append("")
    out.append("| query | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))
    for r in rows:
        if "paths" not in r:
            out.append("| %s | not measured: %s |" % (r["label"], r["not_measured"]) + " |" * (len(names) - 1))
        else:
            out.append("| %s | " % r["label"] +
                       " | ".join(f(r["paths"].get(n, {}).get("median_ms"), "%.3f") for n in names) + " |")
    md_commands(out, ["paths_q1_count"])
    out.append("    (the same for each query)")


def markdown(res):
    m, out = res["machine"], []
    out.append("Machine: %s; %s cores (nproc), %s RAM%s; %s, kernel %s; DuckDB %s; "
               "%s (git %s); DuckDB threads %s; CPU busy just before measuring %s%%; CPU used by other "
               "processes during the run %s%% of the machine; load average (1/5/15 min) %s at start, "
               "%s at end; %s." %
               (m["cpu"], m["nproc"], m["ram"], ", virtual machine" if m["virtualized"] else "",
                m["os"], m["kernel"], m["duckdb"], " ".join(m["quack"]), m["git"], m["threads"],
                m["cpu_busy_start_pct"], f((m["cpu_during_run"] or {}).get("others_pct"), "%.0f"),
                " ".join(m["loadavg_start"]), " ".join(m["loadavg_end"]), m["date"]))
    out.append("")
    for section in (md_summary, md_warm, md_cold, md_throughput, md_encode, md_paths):
        section(res, out)
    return "\n".join(out) + "\n"


def raw():
    """Every step's own output (or its failure reason), for the record."""
    out = {}
    for fn in sorted(os.listdir(RES)):
        name, ext = os.path.splitext(fn)
        if ext in (".out", ".err") and name not in out and not name.startswith("loadavg"):
            data, err = load(name)
            out[name] = {"error": err} if err else data
    return out


def main():
    res = {"machine": machine(), "cold_start": cold(), "warm": warm(),
           "throughput": [throughput(), loadgen()], "encode": encode(), "paths": paths(),
           "raw": raw()}
    with open(OUT_JSON, "w") as fh:
        json.dump(res, fh, indent=2)
    md = markdown(res)
    with open(OUT_MD, "w") as fh:
        fh.write(md)
    sys.stdout.write(md)


main()
