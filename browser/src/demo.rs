//! The relay as a program: `cargo run --release --example browser_sfu` (and the
//! `browser-sfu` binary, which the browser test's `cargo test` wrapper runs).
//!
//! Options: `--port P` (default 8080), `--workers N` (default 3), `--verdicts K` (exit after
//! the test page has posted K verdicts; used by `scripts/browser-test`), `--timeout SECS`
//! (with `--verdicts`: give up after this long), `--idle-timeout SECS` (free a client that
//! sent nothing, not even an ICE consent check, for this long; default 30), `--loss-percent P`
//! (fault injection for tests: drop P % of DTLS datagrams each way).
//!
//! Each verdict is printed as a `VERDICT <json>` line, a `SCENARIO PASS|FAIL <name>: <detail>`
//! line per scenario and a `RESULT <passed>/<total> <user agent>` line. With `--verdicts`, the
//! exit status is 0 only if every verdict passed every scenario (3 otherwise).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Relay, RelayConfig, Signalling};

/// Prints a verdict's scenarios and its `RESULT` line; true if it passed every scenario.
fn report_verdict(verdict: &str) -> bool {
    let v: serde_json::Value = match serde_json::from_str(verdict) {
        Ok(v) => v,
        Err(e) => {
            println!("RESULT 0/0 (the verdict is not JSON: {e})");
            return false;
        }
    };
    let results = v["results"].as_array().cloned().unwrap_or_default();
    let mut passed = 0;
    for r in &results {
        let ok = r["ok"].as_bool() == Some(true);
        passed += usize::from(ok);
        println!(
            "SCENARIO {} {}: {}",
            if ok { "PASS" } else { "FAIL" },
            r["name"].as_str().unwrap_or("?"),
            r["detail"].as_str().unwrap_or("")
        );
    }
    println!(
        "RESULT {passed}/{} {}",
        results.len(),
        v["userAgent"].as_str().unwrap_or("unknown browser")
    );
    !results.is_empty() && passed == results.len()
}

fn arg_value(args: &[String], name: &str) -> Result<Option<u64>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{name} needs a number")),
    }
}

/// Runs the relay and its signalling as the `browser_sfu` example and the `browser-sfu` binary
/// do; `args` are the command-line arguments without the program name.
pub fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let port = arg_value(args, "--port")?.unwrap_or(8080);
    let workers = arg_value(args, "--workers")?.unwrap_or(3);
    let verdicts = arg_value(args, "--verdicts")?;
    let timeout = Duration::from_secs(arg_value(args, "--timeout")?.unwrap_or(120));
    let idle = Duration::from_secs(arg_value(args, "--idle-timeout")?.unwrap_or(30).max(1));
    let loss = arg_value(args, "--loss-percent")?.unwrap_or(0);
    if loss > 50 {
        return Err("--loss-percent must be at most 50".into());
    }
    let port = u16::try_from(port).map_err(|_| "--port must fit in 16 bits")?;
    let workers = usize::try_from(workers).map_err(|_| "--workers is too large")?;

    let relay = Arc::new(Relay::start(RelayConfig {
        workers,
        idle_timeout: idle,
        dtls_loss: loss as f64 / 100.0,
        ..RelayConfig::default()
    })?);
    let signalling = Signalling::start(SocketAddr::from(([127, 0, 0, 1], port)), relay.clone())?;
    let url = format!("http://{}/", signalling.addr());
    println!("browser_sfu: {workers} workers; open {url} in two or more tabs");
    println!("browser_sfu: the scripted browser test page is {url}test");

    let started = Instant::now();
    let mut received = 0u64;
    let mut all_passed = true;
    let mut last_line = String::new();
    let mut last_print = Instant::now();
    loop {
        if let Ok(v) = signalling
            .verdicts()
            .recv_timeout(Duration::from_millis(250))
        {
            println!("VERDICT {v}");
            received += 1;
            all_passed &= report_verdict(&v);
        }
        if verdicts.is_some_and(|k| received >= k) {
            break;
        }
        if verdicts.is_some() && started.elapsed() > timeout {
            return Err(format!("no verdict within {timeout:?}").into());
        }
        // The live line: per-worker clients, messages relayed, bytes.
        let line = relay
            .stats()
            .iter()
            .map(|s| {
                format!(
                    "w{}: {} clients, {} msgs in, {} relayed, {} B",
                    s.worker, s.clients, s.messages_in, s.messages_relayed, s.bytes_relayed
                )
            })
            .collect::<Vec<_>>()
            .join(" | ");
        if line != last_line && last_print.elapsed() >= Duration::from_secs(1) {
            println!("{line}");
            last_line = line;
            last_print = Instant::now();
        }
    }
    drop(signalling);
    match Arc::try_unwrap(relay) {
        Ok(relay) => relay.shutdown(),
        Err(_) => return Err("the relay is still shared".into()),
    }
    if verdicts.is_some() && !all_passed {
        std::process::exit(3);
    }
    Ok(())
}
