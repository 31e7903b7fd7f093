#!/usr/bin/env python3
"""Build every test target once, then run the test binaries and the doctests
a few at a time (see .ci/test). Each binary runs as `cargo test` would run it:
in its package's directory with the CARGO_* variables cargo sets. A binary's
output is printed whole when it ends; the slowest binaries of the previous
run start first (times kept in the target directory)."""

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time

# Until a run has recorded its times: the binaries known to take longest.
SLOW_FIRST = ["ui", "amqp", "rivven", "runtime", "doctests"]
PER_BINARY_TIMEOUT_S = 20 * 60
RESULT = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed")

cargo = os.environ.get("CARGO", "cargo")
# The default run is the whole suite, with the storage family's opt-in
# features on: the parquet and avro formats (read back with pyarrow and
# fastavro) and the azure provider (against a private Azurite); one build
# with them costs less than a second build later.
DEFAULT_ARGS = [
    "--workspace",
    "--features",
    "rivven-connect-storage/parquet,rivven-connect-storage/avro,rivven-connect-storage/azure",
]
args = sys.argv[1:] or DEFAULT_ARGS
jobs = int(os.environ.get("RIVVEN_TEST_JOBS", "3"))

meta = json.loads(
    subprocess.check_output([cargo, "metadata", "--no-deps", "--format-version", "1"])
)
packages = {p["manifest_path"]: p for p in meta["packages"]}
target_dir = meta["target_directory"]
times_file = os.path.join(target_dir, "rivven-test-times.json")
rustc_libdir = subprocess.check_output(
    [os.environ.get("RUSTC", "rustc"), "--print", "target-libdir"], text=True
).strip()

print(f"== building the tests: cargo test --no-run {' '.join(args)}", flush=True)
build = subprocess.Popen(
    [cargo, "test", "--no-run", "--message-format=json-render-diagnostics", *args],
    stdout=subprocess.PIPE,
    text=True,
)
binaries = {}
for line in build.stdout:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
        continue
    if not msg["profile"]["test"]:
        continue
    package = packages.get(msg["manifest_path"])
    if package is None:
        continue
    target = msg["target"]
    src = os.path.relpath(target["src_path"], os.path.dirname(msg["manifest_path"]))
    name = f"{package['name']} {src}"
    binaries[msg["executable"]] = (name, target["name"], package)
if build.wait() != 0:
    sys.exit("building the tests failed")

try:
    with open(times_file) as f:
        previous = json.load(f)
except (OSError, ValueError):
    previous = {}


def expected(job):
    name, short = job[0], job[1]
    if name in previous:
        return previous[name]
    return 10_000 - SLOW_FIRST.index(short) if short in SLOW_FIRST else 0


def env_for(package):
    env = dict(os.environ)
    env.update(
        CARGO=cargo,
        CARGO_MANIFEST_DIR=os.path.dirname(package["manifest_path"]),
        CARGO_PKG_NAME=package["name"],
        CARGO_PKG_VERSION=package["version"],
        CARGO_CRATE_NAME=package["name"].replace("-", "_"),
    )
    # As cargo does: proc-macro crates' unit tests link the toolchain's libstd.
    paths = [os.path.join(target_dir, "debug", "deps"), rustc_libdir]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(paths + [env.get("LD_LIBRARY_PATH", "")])
    return env


runs = [
    (name, short, [exe], os.path.dirname(package["manifest_path"]), env_for(package))
    for exe, (name, short, package) in binaries.items()
]
runs.append(
    ("doctests", "doctests", [cargo, "test", "--doc", *args], os.getcwd(), dict(os.environ))
)
runs.sort(key=expected, reverse=True)

lock = threading.Lock()
totals = {"passed": 0, "failed": 0}
failures = []
durations = {}


def run(job):
    name, _short, cmd, cwd, env = job
    started = time.monotonic()
    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=PER_BINARY_TIMEOUT_S,
        )
        output, code = done.stdout, done.returncode
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        output += f"\n{name}: killed after {PER_BINARY_TIMEOUT_S} s\n"
        code = -1
    elapsed = time.monotonic() - started
    with lock:
        durations[name] = round(elapsed, 1)
        print(f"== {name} ({elapsed:.0f} s){'' if code == 0 else ' FAILED'}", flush=True)
        print(output, end="" if output.endswith("\n") else "\n", flush=True)
        for line in output.splitlines():
            m = RESULT.match(line)
            if m:
                totals["passed"] += int(m.group(1))
                totals["failed"] += int(m.group(2))
        if code != 0:
            failures.append(name)


with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
    list(pool.map(run, runs))

try:
    with open(times_file, "w") as f:
        json.dump({**previous, **durations}, f, indent=1, sort_keys=True)
except OSError:
    pass

if failures:
    print("== failed: " + ", ".join(sorted(failures)), flush=True)
    if totals["failed"] == 0:
        totals["failed"] = len(failures)
print(f"{totals['passed']} passed, {totals['failed']} failed", flush=True)
sys.exit(1 if failures else 0)
