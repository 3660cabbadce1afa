//! `usrsctp-stress`: see `usrsctp-stress --help` and docs/STRESS.md.

use usrsctp_harness::cli::{CliError, Config, USAGE};
use usrsctp_harness::{report, run};

fn main() {
    let cfg = match Config::parse(std::env::args().skip(1)) {
        Ok(cfg) => cfg,
        Err(CliError::Help) => {
            print!("{USAGE}");
            return;
        }
        Err(CliError::Bad(why)) => {
            eprintln!("usrsctp-stress: {why}");
            std::process::exit(64);
        }
    };
    let report = run::run(cfg.clone());
    report::emit(&cfg, &report);
    std::process::exit(if report.ok { 0 } else { 1 });
}
