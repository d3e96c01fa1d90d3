"""Measures a packed app against a bare Python JSON-lines server, side by side in one run, and
prints medians and ratios. Targets are printed beside each number; nothing here asserts."""

import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "target", "release")
PYTHON = os.path.realpath(sys.executable)
SERVER = [PYTHON, "-S", os.path.join(ROOT, "ci", "bench_server.py")]

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
SEQ_CALLS = int(os.environ.get("BENCH_SEQ_CALLS", "3000"))
PIPE_CALLS = int(os.environ.get("BENCH_PIPE_CALLS", "30000"))
INPROC_CALLS = int(os.environ.get("BENCH_INPROC_CALLS", "200000"))


def request(i, method="api.echo"):
    return json.dumps({"id": i, "method": method, "params": [i]}) + "\n"


def pack(workdir, python_extra=None):
    """Packs tests/apps/bench, with `python_extra` added to its [python] table."""
    config = os.path.join(ROOT, "tests", "apps", "bench", "auroraview.pack.toml")
    if python_extra:
        src = os.path.dirname(config)
        project = tempfile.mkdtemp(dir=workdir)
        shutil.copytree(src, project, dirs_exist_ok=True)
        config = os.path.join(project, "auroraview.pack.toml")
        with open(config, encoding="utf-8") as f:
            text = f.read().replace("[python]\n", "[python]\n" + python_extra + "\n", 1)
        with open(config, "w", encoding="utf-8") as f:
            f.write(text)
        workdir = tempfile.mkdtemp(dir=workdir)
    out = subprocess.run(
        [os.path.join(TARGET, "auroraview-pack"), "build", "-q", "--config", config, "--out-dir", workdir],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.split("\t")[0].strip()


def restart_time(cmd, env):
    """Seconds from a call that crashes the backend to the next answered call."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1,
                         stderr=subprocess.DEVNULL)
    p.stdin.write(request(0))
    p.stdin.flush()
    p.stdout.readline()
    t0 = time.perf_counter()
    p.stdin.write(json.dumps({"id": "crash", "method": "api.crash"}) + "\n")
    p.stdin.flush()
    while json.loads(p.stdout.readline()).get("id") != "crash":
        pass
    p.stdin.write(request(1))
    p.stdin.flush()
    while json.loads(p.stdout.readline()).get("id") != 1:
        pass
    elapsed = time.perf_counter() - t0
    p.stdin.close()
    p.wait()
    return elapsed


def first_call(cmd, env, method="api.echo"):
    """Seconds from spawn to the first answered call."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1)
    p.stdin.write(request(0, method))
    p.stdin.flush()
    line = p.stdout.readline()
    elapsed = time.perf_counter() - t0
    p.stdin.close()
    p.wait()
    assert json.loads(line)["result"] in (0, [0]), line
    return elapsed


def sequential(cmd, env, n):
    """Seconds per call, one call at a time."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1)
    for i in range(200):
        p.stdin.write(request(i))
        p.stdin.flush()
        p.stdout.readline()
    t0 = time.perf_counter()
    for i in range(n):
        p.stdin.write(request(i))
        p.stdin.flush()
        p.stdout.readline()
    elapsed = time.perf_counter() - t0
    p.stdin.close()
    p.wait()
    return elapsed / n


def pipelined(cmd, env, n):
    """Seconds per call with every request written at once."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=1 << 20)
    payload = "".join(request(i) for i in range(n)).encode()
    p.stdin.write(request(-1).encode())
    p.stdin.flush()
    p.stdout.readline()
    t0 = time.perf_counter()
    writer = threading.Thread(target=lambda: (p.stdin.write(payload), p.stdin.close()))
    writer.start()
    count = 0
    for _ in p.stdout:
        count += 1
    elapsed = time.perf_counter() - t0
    writer.join()
    p.wait()
    assert count == n, count
    return elapsed / n


def sleeping(cmd, env, n=10_000, ms=10):
    """Seconds for `n` pipelined calls of a handler that sleeps `ms` (the pool's concurrency)."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=1 << 20)
    p.stdin.write(request(-1).encode())
    p.stdin.flush()
    p.stdout.readline()
    payload = "".join(json.dumps({"id": i, "method": "api.sleep", "params": [ms]}) + "\n" for i in range(n)).encode()
    t0 = time.perf_counter()
    writer = threading.Thread(target=lambda: (p.stdin.write(payload), p.stdin.close()))
    writer.start()
    count = sum(1 for _ in p.stdout)
    elapsed = time.perf_counter() - t0
    writer.join()
    p.wait()
    assert count == n, count
    return elapsed


def median(f, runs=RUNS):
    return statistics.median(f() for _ in range(runs))


def row(name, ours, base, unit, target):
    ratio = f"{ours / base:5.2f}x" if base else "      "
    base_s = f"{base:10.3f}" if base else " " * 10
    print(f"{name:<34} {ours:10.3f} {base_s} {ratio}  {unit:<6} {target}")


def page_report(cmd, env, work):
    """Runs the bench app's page benchmark under Xvfb; returns what the page reported."""
    report = os.path.join(tempfile.mkdtemp(dir=work), "report.json")
    first = report + ".first"
    cmd = [report if c == "@REPORT@" else c for c in cmd]
    env = dict(env, BENCH_REPORT=report, BENCH_FIRST=first)
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
        env[var] = tempfile.mkdtemp(dir=work)
    # xvfb-run starts the X server first; the clock starts when the app is executed.
    script = 'date +%s.%N > "$BENCH_T0"; exec "$@"'
    env["BENCH_T0"] = report + ".t0"
    # Its own session, so the app, its children and Xvfb all end with it.
    p = subprocess.Popen(["xvfb-run", "-a", "sh", "-c", script, "sh"] + cmd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (os.path.exists(report) and os.path.getsize(report)) and time.time() < deadline and p.poll() is None:
        time.sleep(0.1)
    time.sleep(0.1)
    os.killpg(p.pid, signal.SIGTERM)
    p.wait()
    with open(report, encoding="utf-8") as f:
        stats = json.load(f)
    assert stats["correct"], stats
    if os.path.exists(first):
        with open(first, encoding="utf-8") as f, open(env["BENCH_T0"], encoding="utf-8") as t0:
            stats["first_answer_ms"] = (float(f.read()) - float(t0.read())) * 1e3
    return stats


def webview(work, env, exe, runs=3):
    ours = [page_report([exe], env, work) for _ in range(runs)]
    bare = [page_report([exe, "--bench-bare-webview", "@REPORT@"], env, work) for _ in range(runs)]
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    print(f"WebView round trip from the page, medians of {runs} runs; baseline: a bare wry echo (same page"
          " and bridge, answered in Rust on the main thread)")
    row("  p50 per call", med(ours, "p50_us"), med(bare, "p50_us"), "us", "<= 300 us, <= +50 us")
    row("  p99 per call", med(ours, "p99_us"), med(bare, "p99_us"), "us", "")
    row("  mean per call", med(ours, "mean_us"), med(bare, "mean_us"), "us", "")
    row("  calls in flight", med(ours, "in_flight_per_s") / 1e3, med(bare, "in_flight_per_s") / 1e3, "k/s",
        ">= 10 k calls/s")
    row("  launch to first answered call", med(ours, "first_answer_ms"), None, "ms", "(warm cache, Xvfb)")


def tree_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def count_files(path):
    return sum(len(fs) for _, _, fs in os.walk(path)) if os.path.isdir(path) else 0


def strategies(work, env):
    print("per strategy (tests/apps/bench), medians:")
    print(f"  {'strategy':<22} {'output MiB':>10} {'cold ms':>9} {'warm ms':>9} {'files in cache':>15}")
    for name, extra in (("standalone", None), ("pyoxidizer", 'strategy = "pyoxidizer"'),
                        ("portable", 'strategy = "portable"'),
                        ("embedded", 'strategy = "embedded"'), ("system", 'strategy = "system"'),
                        ("standalone, process", 'isolation = "process"')):
        exe = pack(work, extra)
        cmd = [exe, "--headless"]
        output = os.path.dirname(exe) if "portable" in name else exe
        caches = []

        def cold():
            cache = tempfile.mkdtemp(dir=work)
            caches.append(cache)
            return first_call(cmd, dict(env, AURORAVIEW_CACHE_DIR=cache))

        cold_ms = median(cold, 7) * 1e3
        warm_env = dict(env, AURORAVIEW_CACHE_DIR=caches[-1])
        warm_ms = median(lambda: first_call(cmd, warm_env)) * 1e3
        print(f"  {name:<22} {tree_size(output) / 2**20:10.1f} {cold_ms:9.1f} {warm_ms:9.1f} {count_files(caches[-1]):15d}")


def fs_type(path):
    """The file system `path` is on (`ext4`, `tmpfs`), from the longest mount point above it."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    with open("/proc/self/mounts", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            mount = parts[1].replace("\\040", " ")
            if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
                best, kind = mount, parts[2]
    return kind


def scientific(work, env):
    """Packing and starting tests/apps/scientific (numpy + pandas): a cold pack (the installer's
    download cache warm, the pack cache empty), a repack after adding one small package, the
    output's size, and first and warm starts to the first answered call."""
    runs = int(os.environ.get("BENCH_PACK_RUNS", "3"))
    src = os.path.join(ROOT, "tests", "apps", "scientific")
    project = os.path.join(tempfile.mkdtemp(dir=work), "scientific")
    shutil.copytree(src, project)
    with_six = os.path.join(tempfile.mkdtemp(dir=work), "scientific")
    shutil.copytree(src, with_six)
    config = os.path.join(with_six, "auroraview.pack.toml")
    with open(config, encoding="utf-8") as f:
        text = f.read()
    with open(config, "w", encoding="utf-8") as f:
        f.write(text.replace('"pandas==3.1.1"]', '"pandas==3.1.1", "six==1.17.0"]', 1))

    def build(project, cache, extra_env=None):
        out = tempfile.mkdtemp(dir=work)
        t0 = time.perf_counter()
        subprocess.run([os.path.join(TARGET, "auroraview-pack"), "build", "-q", "--config",
                        os.path.join(project, "auroraview.pack.toml"), "--out-dir", out],
                       check=True, capture_output=True, env=dict(env, AURORAVIEW_CACHE_DIR=cache, **(extra_env or {})))
        return time.perf_counter() - t0, os.path.join(out, "scientific")

    uv = os.environ.get("AURORAVIEW_UV") or shutil.which("uv")
    installer = "pip (AURORAVIEW_UV=pip)" if uv == "pip" else (f"uv ({uv})" if uv else "pip (no uv found)")
    base_cache = os.path.join(work, "scientific-pack-cache")
    build(project, base_cache)  # fills the installer's download cache; its pack cache is the repacks' start
    colds = [build(project, tempfile.mkdtemp(dir=work)) for _ in range(runs)]
    exe = colds[-1][1]

    def repack():
        cache = os.path.join(tempfile.mkdtemp(dir=work), "c")
        shutil.copytree(base_cache, cache)
        return build(with_six, cache)[0]

    repacks = [repack() for _ in range(runs)]
    print(f"tests/apps/scientific (numpy 2.4.6 + pandas 3.1.1, standalone), installing with {installer}; "
          f"work directory on {fs_type(work)}; packs: medians of {runs}")
    row("  cold pack (pack cache empty)", statistics.median(t for t, _ in colds), None, "s", "<= 45 s")
    row("  repack after adding six", statistics.median(repacks), None, "s", "<= 15 s")
    row("  output size", os.path.getsize(exe) / 2**20, None, "MiB", "within 10 % of level 19")
    if os.environ.get("BENCH_PIP", "1") != "0" and uv != "pip":
        pip = statistics.median(build(project, tempfile.mkdtemp(dir=work), {"AURORAVIEW_UV": "pip"})[0]
                                for _ in range(runs))
        row("  cold pack with pip instead", pip, None, "s", "")
    app = [exe, "--headless"]

    def first():
        return first_call(app, dict(env, AURORAVIEW_CACHE_DIR=tempfile.mkdtemp(dir=work)), "__echo__")

    row("  first run to first answered call", median(first, 7) * 1e3, None, "ms", "<= 1000 ms")
    warm_env = dict(env, AURORAVIEW_CACHE_DIR=tempfile.mkdtemp(dir=work))
    first_call(app, warm_env, "__echo__")
    row("  warm start to first answered call", median(lambda: first_call(app, warm_env, "__echo__")) * 1e3, None,
        "ms", "<= 30 ms")


def pyinstaller_builds(work):
    """ci/bench_server.py frozen by PyInstaller --onefile, plain and --strip; [] without PyInstaller."""
    try:
        subprocess.run([PYTHON, "-m", "PyInstaller", "--version"], check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError):
        return []
    builds = []
    for label, extra in (("PyInstaller onefile", []), ("PyInstaller onefile, --strip", ["--strip"])):
        out = tempfile.mkdtemp(dir=work)
        subprocess.run([PYTHON, "-m", "PyInstaller", "--onefile", "--noconfirm", "--log-level", "ERROR",
                        "--distpath", os.path.join(out, "dist"), "--workpath", os.path.join(out, "build"),
                        "--specpath", out, "--name", "server", *extra, os.path.join(ROOT, "ci", "bench_server.py")],
                       check=True, capture_output=True)
        builds.append((label, os.path.join(out, "dist", "server")))
    return builds


def peers(work, env, exe):
    """Our packed app beside the same server frozen by PyInstaller, interleaved run by run."""
    builds = pyinstaller_builds(work)
    if not builds:
        print("PyInstaller: not installed, no comparison (`pip install pyinstaller` adds it)")
        return
    runs = max(RUNS // 2, 5)
    rows = [("ours, standalone", [exe, "--headless"], exe)] + [(label, [b], b) for label, b in builds]
    rows.append(("plain CPython, -S", SERVER, None))
    start = {name: [] for name, _, _ in rows}
    cold = []
    for _ in range(runs):
        for name, cmd, _ in rows:
            start[name].append(first_call(cmd, env))
        cold.append(first_call([exe, "--headless"], dict(env, AURORAVIEW_CACHE_DIR=tempfile.mkdtemp(dir=work))))
    print(f"beside PyInstaller {subprocess.run([PYTHON, '-m', 'PyInstaller', '--version'], capture_output=True, text=True).stdout.strip()}"
          f" (ci/bench_server.py frozen; it extracts itself on every run), interleaved, medians of {runs} runs:")
    print(f"  {'':<30} {'MiB':>6} {'start ms':>9} {'per call us':>12} {'calls/s k':>10}")
    for name, cmd, path in rows:
        size = f"{os.path.getsize(path) / 2**20:6.1f}" if path else f"{'':6}"
        seq = median(lambda: sequential(cmd, env, SEQ_CALLS), 3) * 1e6
        pipe = median(lambda: pipelined(cmd, env, PIPE_CALLS), 3)
        print(f"  {name:<30} {size} {statistics.median(start[name]) * 1e3:9.1f} {seq:12.2f} {1e-3 / pipe:10.0f}")
    print(f"  {'ours, first run (extraction)':<30} {'':6} {statistics.median(cold) * 1e3:9.1f}")


def main():
    # Not /tmp: file creation there was measured 5x slower than elsewhere on the same disk here,
    # and the cache normally lives in ~/.cache.
    base = os.path.join(TARGET, "bench")
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="run-", dir=base)
    if sys.argv[1:] in (["peers"], ["webview"]):
        try:
            exe = pack(work)
            env = dict(os.environ, AURORAVIEW_CACHE_DIR=os.path.join(work, "cache"))
            first_call([exe, "--headless"], env)
            (peers if sys.argv[1] == "peers" else webview)(work, env, exe)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    if sys.argv[1:] == ["scientific"]:
        try:
            scientific(work, dict(os.environ))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    try:
        exe = pack(work)
        cache = os.path.join(work, "cache")
        env = dict(os.environ, AURORAVIEW_CACHE_DIR=cache)
        app = [exe, "--headless"]
        first_call(app, env)  # extract once: the numbers below are warm

        print(f"packed app: {os.path.relpath(exe, work)}, {os.path.getsize(exe) / 2**20:.1f} MiB; "
              f"baseline: {PYTHON} -S ci/bench_server.py; medians of {RUNS} runs")
        print(f"{'':<34} {'packed':>10} {'baseline':>10} {'ratio':>6}  {'unit':<6} target")
        row("warm start to first answered call", median(lambda: first_call(app, env)) * 1e3,
            median(lambda: first_call(SERVER, env)) * 1e3, "ms", "ratio <= 1.2")
        row("per call, sequential", median(lambda: sequential(app, env, SEQ_CALLS), 5) * 1e6,
            median(lambda: sequential(SERVER, env, SEQ_CALLS), 5) * 1e6, "us", "ratio <= 1.0")
        row("per call, pipelined", median(lambda: pipelined(app, env, PIPE_CALLS), 5) * 1e6,
            median(lambda: pipelined(SERVER, env, PIPE_CALLS), 5) * 1e6, "us", "ratio <= 1.0")
        row("10 000 calls of a 10 ms sleeping handler", median(lambda: sleeping(app, env), 3), None, "s",
            "<= 2 s (default pool)")

        inproc = []
        for _ in range(3):
            out = subprocess.run([exe, "--bench-in-process", str(INPROC_CALLS)], env=env, check=True,
                                 capture_output=True, text=True)
            inproc.append(json.loads(out.stdout))
        seq = statistics.median(r["sequential_us"] for r in inproc)
        codec = statistics.median(r["handler_and_codec_us"] for r in inproc)
        rate = statistics.median(r["pipelined_calls_per_s"] for r in inproc)
        row("in-process round trip (Rust)", seq, None, "us", "")
        row("  of which handler + codec", codec, None, "us", "")
        row("  runtime overhead", seq - codec, None, "us", "<= 3 us")
        row("in-process pipelined", rate / 1e3, None, "k/s", ">= 200 k calls/s")

        def cold():
            fresh = dict(env, AURORAVIEW_CACHE_DIR=tempfile.mkdtemp(dir=work))
            return first_call(app, fresh)

        # What any relaying supervisor pays on this machine: the same bare server with `cat`, which
        # copies bytes and parses nothing, on one side and on both sides of it.
        server = " ".join(shlex.quote(a) for a in SERVER)
        for label, script in (("requests", f"cat | {server}"), ("both ways", f"cat | {server} | cat")):
            row(f"per call, bare server, cat {label}", median(lambda: sequential(["sh", "-c", script], env, SEQ_CALLS), 5)
                * 1e6, median(lambda: sequential(SERVER, env, SEQ_CALLS), 5) * 1e6, "us", "relay floor")
        for label, extra in (("isolation = process", 'isolation = "process"'), ("strategy = system", 'strategy = "system"')):
            sub = [pack(work, extra), "--headless"]
            first_call(sub, env)
            row(f"per call, sequential, {label}", median(lambda: sequential(sub, env, SEQ_CALLS), 5) * 1e6,
                median(lambda: sequential(SERVER, env, SEQ_CALLS), 5) * 1e6, "us", "ratio <= 1.2")
            row(f"  warm start, {label}", median(lambda: first_call(sub, env)) * 1e3,
                median(lambda: first_call(SERVER, env)) * 1e3, "ms", "")
            if label.startswith("isolation"):
                row("  restart to first answered call", median(lambda: restart_time(sub, env), 7) * 1e3, None,
                    "ms", "<= 1000 ms")
            else:
                print(f"  packed size, {label:<21} {os.path.getsize(sub[0]) / 2**20:10.3f}{'':18}MiB")

        row("cold start (first extraction)", median(cold, 7) * 1e3, None, "ms", "<= 400 ms")
        hello_dir = tempfile.mkdtemp(dir=work)
        subprocess.run([os.path.join(TARGET, "auroraview-pack"), "build", "-q", "--config",
                        os.path.join(ROOT, "examples", "hello", "auroraview.pack.toml"), "--out-dir", hello_dir],
                       check=True, capture_output=True)
        hello = os.path.join(hello_dir, "hello")
        row("cold start, examples/hello", median(
            lambda: first_call([hello, "--headless"], dict(env, AURORAVIEW_CACHE_DIR=tempfile.mkdtemp(dir=work)),
                               "__echo__"), 7)
            * 1e3, None, "ms", "<= 400 ms")
        row("packed size, examples/hello", os.path.getsize(hello) / 2**20, None, "MiB", "")

        def second_app():
            # A cache that already holds the bench app, so its shared runtime: hello writes only its own.
            fresh = dict(env, AURORAVIEW_CACHE_DIR=tempfile.mkdtemp(dir=work))
            first_call(app, fresh)
            return first_call([hello, "--headless"], fresh, "__echo__")

        row("cold start, hello after another app", median(second_app, 7) * 1e3, None, "ms",
            f"runtime shared ({fs_type(work)})")
        strategies(work, env)
        peers(work, env, exe)
        scientific(work, env)
        webview(work, env, exe)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
