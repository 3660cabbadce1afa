//! `cargo test` wrapper of `scripts/browser-test`: real Chromium and Firefox against the relay,
//! headless, in a network namespace with only `lo` up.
//!
//! Skips (passes, saying why on stderr) when it cannot run here: not root (network namespaces
//! need it), no `ip`, no browser installed, or `USRSCTP_BROWSER_TEST=0`. It installs nothing;
//! `bash scripts/browser-test` does (CI runs that).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

#[test]
fn real_browsers_relay_through_the_sfu() {
    if std::env::var("USRSCTP_BROWSER_TEST").as_deref() == Ok("0") {
        eprintln!("skipped: USRSCTP_BROWSER_TEST=0");
        return;
    }
    if !is_root() || !on_path("ip") {
        eprintln!("skipped: needs root and `ip` for a network namespace");
        return;
    }
    let mut variants = Vec::new();
    if on_path("chromium") {
        variants.push("chromium");
    }
    if on_path("firefox-esr") {
        variants.extend(["firefox", "firefox-usrsctp"]);
    }
    if variants.is_empty() {
        eprintln!("skipped: neither chromium nor firefox-esr is installed (scripts/browser-test installs them)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/browser-test");
    let mut child = Command::new("bash")
        .arg(&script)
        .args(&variants)
        .env("BROWSER_TEST_RELAY", env!("CARGO_BIN_EXE_browser-sfu"))
        .env("BROWSER_TEST_NO_INSTALL", "1")
        // The lossless runs only (the lossy ones and the chat check are left to the script
        // in CI), to stay well under a minute.
        .env("BROWSER_TEST_NO_CHAT", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run scripts/browser-test");
    let deadline = Instant::now() + Duration::from_secs(150);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for scripts/browser-test") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("scripts/browser-test took over 150 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        let _ = stdout.read_to_string(&mut out);
    }
    eprintln!("{out}");
    assert!(status.success(), "scripts/browser-test failed:\n{out}");
    for v in &variants {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("browser-test: {v}: ")))
            .unwrap_or_else(|| panic!("no summary line for {v}"));
        let counts = line
            .split_whitespace()
            .nth(2)
            .and_then(|c| c.split_once('/'))
            .expect("passed/total");
        assert_eq!(counts.0, counts.1, "{line}");
        assert_ne!(counts.1, "0", "{line}");
    }
}
