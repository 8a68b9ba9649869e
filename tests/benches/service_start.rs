//! How long each harness service takes to start (until ready-checked) and to stop.
//! `cargo bench -p meshroom-tests --bench service_start` (runs: `MESHROOM_BENCH_RUNS`,
//! default 7). Prints the median, min and max of each.

use std::time::{Duration, Instant};

use anyhow::Result;
use meshroom_tests::{
    Caddy, CrowdSec, DockerRegistry, HttpCollector, Rsyslog, Taxii, TcpLineReceiver,
};

/// Starts a service, returning a closure that stops it.
type Starter = fn() -> Result<Box<dyn FnOnce()>>;

fn boxed<T: 'static>(service: T) -> Box<dyn FnOnce()> {
    Box::new(move || drop(service))
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this once as a smoke test.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let runs: usize = std::env::var("MESHROOM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 7 } else { 1 });
    let services: [(&str, Starter); 8] = [
        ("docker-registry", || Ok(boxed(DockerRegistry::start()?))),
        ("docker-registry (auth)", || {
            Ok(boxed(DockerRegistry::start_with_auth(
                "bench",
                "bench-password",
            )?))
        }),
        ("rsyslog", || Ok(boxed(Rsyslog::start()?))),
        ("caddy", || Ok(boxed(Caddy::start()?))),
        ("crowdsec (+ cscli machine, bouncer)", || {
            Ok(boxed(CrowdSec::start()?))
        }),
        ("taxii (medallion)", || Ok(boxed(Taxii::start()?))),
        ("http collector", || Ok(boxed(HttpCollector::start()?))),
        ("tcp line receiver", || Ok(boxed(TcpLineReceiver::start()?))),
    ];
    // `cargo bench` passes `--bench`; a name filter may follow.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    println!(
        "{:<38} {:>10} {:>10} {:>10} {:>10}",
        "service", "start p50", "min", "max", "stop p50"
    );
    for (name, start) in services {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let mut starts = Vec::with_capacity(runs);
        let mut stops = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let stop = start()?;
            starts.push(t.elapsed());
            let t = Instant::now();
            stop();
            stops.push(t.elapsed());
        }
        starts.sort();
        stops.sort();
        println!(
            "{:<38} {:>10} {:>10} {:>10} {:>10}",
            name,
            ms(starts[runs / 2]),
            ms(starts[0]),
            ms(starts[runs - 1]),
            ms(stops[runs / 2])
        );
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
