"""meshroom beside the original Meshroom 0.3.4, in one run, on the same
generated projects; prints medians and ratios as a Markdown table.

1. Listings on the benchmark mesh (200 products, 1,000 instances, 3,000
   plugs, as `host/benches/project.rs` generates it): `list plugs`,
   `list instances`, `list products`, `list integrations`, each tool on
   the same folder. Targets: ours ≤ 20 ms each, ≥ 100× the original on
   `list plugs`.
2. `up` of 500 plugs (20 edr instances × 25 instances of `acme_api`, whose
   hooks are the Python file a vendor wrote for the original, in
   `host/tests/it/fixtures/original-user/`) against an API on 127.0.0.1
   that answers every request after 20 ms. The same hook file runs in
   both tools: natively in the original (its `model.up()`, what its `up`
   command calls), built into a sandboxed component by `meshroom build`
   in ours. The floor is the longest per-instance chain (25 plugs → one
   instance's 20 hooks one at a time: 20 × 20 ms). Targets: ours ≤ 2× the
   floor; ≥ 20× faster than the original.

Run by `scripts/bench-vs-original.sh` (which builds what it needs).
Arguments: the meshroom binary, the original's venv python, componentize-py.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OURS, ORIGINAL_PYTHON, COMPONENTIZE = (Path(a) for a in sys.argv[1:4])
RUNS = int(os.environ.get("RUNS", "11"))
ORIGINAL_RUNS = int(os.environ.get("ORIGINAL_RUNS", "3"))
ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "host/tests/it/fixtures/original-user"
ORIGINAL = ORIGINAL_PYTHON.parent / "meshroom"

# ----- the listing mesh (as host/benches/project.rs) -------------------------

KINDS = [
    (["alerts"], ["events", "threats"], ["deny"], []),
    (["events", "alerts"], [], [], ["deny", "contain"]),
    (["threats"], ["threats", "sightings"], [], []),
    (["events", "sightings"], ["alerts"], [], ["deny"]),
]
PRODUCTS, PER_PRODUCT, PLUGS = 200, 5, 3000


def definition(p):
    prod, cons, trig, exe = KINDS[p % 4]
    s = f"name: product{p}\ndescription: generated product {p}\ntags: [bench]\nsettings:\n  - name: url\n    required: true\n"
    for key, topics in (("produces", prod), ("consumes", cons), ("triggers", trig), ("executes", exe)):
        if topics:
            s += f"{key}:\n" + "".join(f"  {t}:\n    - format: ocsf\n    - mode: pull\n" for t in topics)
    return s


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def listing_mesh(root):
    (root / "instances").mkdir(parents=True)
    for p in range(PRODUCTS):
        write(root / f"products/product{p}/definition.yaml", definition(p))
        for i in range(PER_PRODUCT):
            write(
                root / f"instances/product{p}/p{p}i{i}/config.yaml",
                f"name: p{p}i{i}\nproduct: product{p}\nsettings:\n  url: https://p{p}i{i}.example\n",
            )
    edges = []
    for a in range(PRODUCTS):
        prod, _, trig, _ = KINDS[a % 4]
        for b in range(PRODUCTS):
            if a == b:
                continue
            _, cons, _, exe = KINDS[b % 4]
            edges += [(a, b, t) for t in prod if t in cons] + [(a, b, t) for t in trig if t in exe]
    step = len(edges) // PLUGS
    for n in range(PLUGS):
        a, b, topic = edges[n * step]
        ia, ib = n % PER_PRODUCT, (n // 7) % PER_PRODUCT
        kind = "kind: trigger\n" if topic in ("deny", "contain") else ""
        status = "status: up\n" if n % 2 == 0 else ""
        write(
            root / f"instances/product{a}/p{a}i{ia}/plugs/p{b}i{ib}/{topic}.yaml",
            f"src_instance: p{a}i{ia}\ndst_instance: p{b}i{ib}\ntopic: {topic}\nmode: push\nformat: ocsf\n{kind}{status}",
        )


# ----- timing ------------------------------------------------------------------


PEAK_RSS = {}  # the last peak RSS (MiB) of each command, by its first arguments


def wall(cmd, env=None, cwd=None):
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    took = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{stderr.decode(errors='replace')}")
    PEAK_RSS[tuple(map(str, cmd[:5]))] = usage.ru_maxrss / 1024
    return took


def median_ms(cmd, runs, env=None, cwd=None):
    times = [wall(cmd, env, cwd)]
    # A run over 30 s (the original's `list integrations` takes minutes) is not repeated.
    while len(times) < runs and times[0] < 30:
        times.append(wall(cmd, env, cwd))
    return statistics.median(times) * 1000


def ms(x):
    return f"{x:,.0f} ms" if x >= 100 else f"{x:.1f} ms"


# ----- the 20 ms API -----------------------------------------------------------


class Api(BaseHTTPRequestHandler):
    delay = 0.020
    lock = threading.Lock()
    webhooks = {}
    next_id = 0
    requests = 0

    def log_message(self, *args):
        pass

    def answer(self, status, body=None):
        time.sleep(self.delay)
        with Api.lock:
            Api.requests += 1
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        if self.path.rstrip("/") != "/webhooks":
            return self.answer(404, {"error": "no route"})
        with Api.lock:
            Api.next_id += 1
            wid = f"wh-{Api.next_id}"
            Api.webhooks[wid] = body
        self.answer(201, {"id": wid, "token": f"tok-{wid}"})

    def do_DELETE(self):
        wid = self.path.rsplit("/", 1)[-1]
        with Api.lock:
            found = Api.webhooks.pop(wid, None)
        self.answer(204 if found is not None else 404)

    def do_GET(self):
        self.answer(200, {"records": []})


def up_mesh(root, url, edrs=20, siems=25):
    shutil.copytree(FIXTURE, root / "products/acme_api", ignore=shutil.ignore_patterns("run_native.py"))
    write(root / "products/edr/definition.yaml", "name: edr\nproduces:\n  events:\n    - mode: push\n")
    for e in range(edrs):
        write(root / f"instances/edr/e{e}/config.yaml", f"name: e{e}\nproduct: edr\n")
        for s in range(siems):
            write(
                root / f"instances/edr/e{e}/plugs/s{s}/events.yaml",
                f"src_instance: e{e}\ndst_instance: s{s}\ntopic: events\nmode: push\n",
            )
    for s in range(siems):
        write(
            root / f"instances/acme_api/s{s}/config.yaml",
            f"name: s{s}\nproduct: acme_api\nsettings:\n  url: {url}\n",
        )
    return edrs  # hooks per consumer instance: the chain


NATIVE_UP = """
import os, sys
from pathlib import Path
project = Path(sys.argv[1]).resolve()
os.chdir(project)
from meshroom import model, secrets
store = {f"acme_api_s{s}_api_key": "k-123" for s in range(int(sys.argv[2]))}
secrets.get_secret = lambda key, prompt_if_not_exist=False: store.get(key)
secrets.set_secret = lambda key, value: store.__setitem__(key, value) or value
secrets.delete_secret = lambda key: store.pop(key, None)
model.set_project_dir(project)
getattr(model, sys.argv[3])()
"""


def main():
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, HOME=str(tmp / "home"), MESHROOM_CACHE=str(tmp / "cache"))
        env.pop("RUST_LOG", None)

        # 1. listings
        mesh = tmp / "mesh"
        listing_mesh(mesh)
        time.sleep(2.1)  # past the load cache's racy window
        for args in (["list", "plugs"], ["list", "instances"], ["list", "products"], ["list", "integrations"]):
            wall([OURS, "-p", mesh, *args], env)  # warm the load cache
            ours = median_ms([OURS, "-p", mesh, *args], RUNS, env)
            ours_json = median_ms([OURS, "-p", mesh, "--json", *args], RUNS, env)
            original = median_ms([ORIGINAL, "-p", mesh, *args], ORIGINAL_RUNS, env)
            rows.append((f"`{' '.join(args)}`", original, ours, ours_json))
            print(f"{' '.join(args)}: original {ms(original)}, ours {ms(ours)} (--json {ms(ours_json)})", file=sys.stderr)

        # 2. up of 500 plugs, the same Python hooks in both tools
        server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        siems = 25
        ours_dir, native_dir = tmp / "up-ours", tmp / "up-original"
        chain = up_mesh(ours_dir, url, siems=siems)
        up_mesh(native_dir, url, siems=siems)
        floor = chain * Api.delay * 1000
        benv = dict(env, MESHROOM_COMPONENTIZE_PY=str(COMPONENTIZE), MESHROOM_AGE_IDENTITY_FILE=str(tmp / "id.txt"))
        subprocess.run(["age-keygen", "-o", tmp / "id.txt"], check=True, capture_output=True)
        pub = subprocess.run(["age-keygen", "-y", tmp / "id.txt"], check=True, capture_output=True, text=True).stdout.strip()
        wall([OURS, "-p", ours_dir, "secrets", "recipients", "add", pub], benv)
        for s in range(siems):
            subprocess.run(
                [OURS, "-p", ours_dir, "secrets", "set", f"instance:acme_api/s{s}", "api_key"],
                input=b"k-123\n", env=benv, check=True, capture_output=True,
            )
        wall([OURS, "-p", ours_dir, "build", "acme_api"], benv)
        wall([OURS, "-p", ours_dir, "plan"], benv)  # compiles the component into the cache
        ups, downs = [], []
        up_rss, native_rss = [], []
        for _ in range(max(3, RUNS // 2)):
            ups.append(wall([OURS, "-p", ours_dir, "up"], benv) * 1000)
            up_rss.append(PEAK_RSS[tuple(map(str, [OURS, "-p", ours_dir, "up"]))])
            assert len(Api.webhooks) == 500, len(Api.webhooks)
            downs.append(wall([OURS, "-p", ours_dir, "down"], benv) * 1000)
            assert not Api.webhooks, len(Api.webhooks)
        ours_up = statistics.median(ups)
        native = []
        for _ in range(ORIGINAL_RUNS):
            native.append(wall([ORIGINAL_PYTHON, "-c", NATIVE_UP, native_dir, str(siems), "up"], env) * 1000)
            native_rss.append(PEAK_RSS[tuple(map(str, [ORIGINAL_PYTHON, "-c", NATIVE_UP, native_dir, str(siems)]))])
            assert len(Api.webhooks) == 500, len(Api.webhooks)
            wall([ORIGINAL_PYTHON, "-c", NATIVE_UP, native_dir, str(siems), "down"], env)
            assert not Api.webhooks, len(Api.webhooks)
        native_up = statistics.median(native)
        server.shutdown()

    print(f"\nLoad average at the start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores). Medians; ours: {RUNS} runs, the original: {ORIGINAL_RUNS}.\n")
    print("| what | Meshroom 0.3.4 | meshroom | ratio | target |")
    print("|---|---|---|---|---|")
    for what, original, ours, ours_json in rows:
        target = "≤ 20 ms, ≥ 100×" if "plugs" in what else "≤ 20 ms"
        print(f"| {what} (3,000 plugs; `--json`: {ms(ours_json)}) | {ms(original)} | {ms(ours)} | {original / ours:,.0f}× | {target} |")
    print(f"| `up` of 500 plugs, the same Python hooks, 20 ms API (floor {ms(floor)}) | {ms(native_up)} | {ms(ours_up)} ({ours_up / floor:.1f}× the floor; `down` {ms(statistics.median(downs))}) | {native_up / ours_up:,.0f}× | ≤ 2× floor, ≥ 20× |")
    print(f"| peak RSS of that `up` | {statistics.median(native_rss):,.0f} MiB | {statistics.median(up_rss):,.0f} MiB | | |")


if __name__ == "__main__":
    main()
