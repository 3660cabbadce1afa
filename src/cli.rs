//! Command-line flags of `usrsctp-stress`.

use std::path::PathBuf;
use std::time::Duration;

use crate::wire::Faults;

/// Everything a run is parameterised by.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Worker threads.
    pub workers: usize,
    /// Associations each worker initiates (each has its peer on another worker).
    pub associations: usize,
    /// Messages per association per direction, per round.
    pub messages: u64,
    /// Smallest message size, bytes (messages are at least the 36-byte header).
    pub size_min: usize,
    /// Largest message size, bytes.
    pub size_max: usize,
    /// Fraction of messages sent unordered.
    pub unordered: f64,
    /// Fraction sent with `MaxRetransmits(0)`.
    pub partial: f64,
    /// Wire faults.
    pub faults: Faults,
    /// Worker teardown/re-create cycles during the run.
    pub churn: u32,
    /// Full stack shutdown/start cycles (the run has `stack_restarts + 1` rounds).
    pub stack_restarts: u32,
    /// Worker 0 reads its mailbox slowly, with pauses.
    pub slow_consumer: bool,
    /// Stop sending new messages after this long (messages in flight are still verified).
    pub duration: Option<Duration>,
    /// Seed of the fault pattern and the message plan.
    pub seed: u64,
    /// Where to write the JSON report (it always goes to stdout too).
    pub json: Option<PathBuf>,
    /// No progress lines and no human summary.
    pub quiet: bool,
    /// Fail the run if nothing progresses for this long.
    pub watchdog: Duration,
    /// Malformed packets to feed to live associations (0: none).
    pub malformed: u64,
    /// Testing aid: worker 0 stops working after its associations connect, so the watchdog
    /// must trip.
    pub stall: bool,
    /// Testing aid: worker 0 tampers with what it receives above SCTP (drops, repeats,
    /// corrupts and reorders one message each), so the checks must catch it.
    pub tamper: bool,
    /// Testing aid: churn drops the `Worker` outright, without aborting its associations and
    /// draining their reports first (the harness's old churn), so their messages go
    /// unaccounted and the run must fail.
    pub drop_worker: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: 4,
            associations: 4,
            messages: 10_000,
            size_min: 1,
            size_max: 16_384,
            unordered: 0.1,
            partial: 0.05,
            faults: Faults {
                loss: 0.01,
                duplicate: 0.005,
                reorder: 0.01,
                corrupt: 0.005,
                garbage: 0.001,
            },
            churn: 2,
            stack_restarts: 1,
            slow_consumer: false,
            duration: None,
            seed: 0x5EED,
            json: None,
            quiet: false,
            watchdog: Duration::from_secs(30),
            malformed: 0,
            stall: false,
            tamper: false,
            drop_worker: false,
        }
    }
}

/// The help text.
pub const USAGE: &str = "\
usrsctp-stress: many workers on many threads carry data channels through faults, churn and
stack restarts; every reliable message is checked for exactly-once, in-order, intact delivery,
and threads, file descriptors and memory are checked after shutdown.

USAGE: usrsctp-stress [FLAGS]

  --workers N          worker threads (4)
  --associations N     associations each worker initiates; each peer is on another worker (4)
  --messages N         messages per association per direction, per round (10000)
  --size MIN..MAX      message size in bytes, log-uniform, at least the 36-byte header (1..16384)
  --unordered F        fraction sent unordered (0.1)
  --partial F          fraction sent MaxRetransmits(0), not held to exactly-once (0.05)
  --loss P             packet loss (0.01)
  --duplicate P        packet duplication (0.005)
  --reorder P          packet reordering (0.01)
  --corrupt P          one-bit corruption, which SCTP's CRC32c must reject (0.005)
  --garbage P          random packets injected per packet sent (0.001)
  --churn N            worker teardown/re-create cycles mid-transfer (2)
  --stack-restarts N   full stack shutdown/start cycles between rounds (1)
  --slow-consumer      worker 0 reads its mailbox slowly, with pauses
  --duration SECS      stop sending new messages after SECS (in-flight ones are still checked)
  --seed S             seed of the fault pattern and message plan (24301)
  --json PATH          also write the JSON report to PATH (it always goes to stdout)
  --quiet              no progress lines, no human summary
  --watchdog SECS      fail (exit 2) if nothing progresses for SECS (30)
  --malformed N        feed N malformed packets (random, and CRC-valid mutated real packets) to
                       live associations; forged packets can legitimately break delivery, so such
                       a run is judged on no crash, no hang and no leak only
  -h, --help           this text

Exit status: 0 if the report says ok, 1 if not, 2 if the watchdog tripped, 64 on a usage error.
";

/// Why the command line was refused.
#[derive(Debug, PartialEq)]
pub enum CliError {
    /// `--help` was given.
    Help,
    /// A flag or value is wrong.
    Bad(String),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Help => f.write_str("help requested"),
            CliError::Bad(m) => f.write_str(m),
        }
    }
}

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, CliError> {
    v.parse()
        .map_err(|_| CliError::Bad(format!("{flag}: cannot read {v:?} as a number")))
}

fn prob(flag: &str, v: &str) -> Result<f64, CliError> {
    let p: f64 = num(flag, v)?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(CliError::Bad(format!("{flag}: {v} is not between 0 and 1")))
    }
}

impl Config {
    /// Parses flags (without the program name).
    pub fn parse<I, S>(args: I) -> Result<Config, CliError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut c = Config::default();
        let mut it = args.into_iter().map(|s| s.as_ref().to_owned());
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || -> Result<String, CliError> {
                match inline.clone() {
                    Some(v) => Ok(v),
                    None => it
                        .next()
                        .ok_or_else(|| CliError::Bad(format!("{flag} needs a value"))),
                }
            };
            match flag.as_str() {
                "-h" | "--help" => return Err(CliError::Help),
                "--workers" => c.workers = num(&flag, &value()?)?,
                "--associations" => c.associations = num(&flag, &value()?)?,
                "--messages" => c.messages = num(&flag, &value()?)?,
                "--size" => {
                    let v = value()?;
                    let (lo, hi) = v.split_once("..").ok_or_else(|| {
                        CliError::Bad(format!("--size: expected MIN..MAX, got {v:?}"))
                    })?;
                    c.size_min = num(&flag, lo)?;
                    c.size_max = num(&flag, hi.trim_start_matches('='))?;
                }
                "--unordered" => c.unordered = prob(&flag, &value()?)?,
                "--partial" => c.partial = prob(&flag, &value()?)?,
                "--loss" => c.faults.loss = prob(&flag, &value()?)?,
                "--duplicate" => c.faults.duplicate = prob(&flag, &value()?)?,
                "--reorder" => c.faults.reorder = prob(&flag, &value()?)?,
                "--corrupt" => c.faults.corrupt = prob(&flag, &value()?)?,
                "--garbage" => c.faults.garbage = prob(&flag, &value()?)?,
                "--churn" => c.churn = num(&flag, &value()?)?,
                "--stack-restarts" => c.stack_restarts = num(&flag, &value()?)?,
                "--slow-consumer" => c.slow_consumer = true,
                "--duration" => {
                    let secs: f64 = num(&flag, &value()?)?;
                    if !(secs > 0.0 && secs.is_finite()) {
                        return Err(CliError::Bad("--duration must be positive".into()));
                    }
                    c.duration = Some(Duration::from_secs_f64(secs));
                }
                "--seed" => c.seed = num(&flag, &value()?)?,
                "--json" => c.json = Some(PathBuf::from(value()?)),
                "--quiet" => c.quiet = true,
                "--watchdog" => {
                    let secs: f64 = num(&flag, &value()?)?;
                    if !(secs > 0.0 && secs.is_finite()) {
                        return Err(CliError::Bad("--watchdog must be positive".into()));
                    }
                    c.watchdog = Duration::from_secs_f64(secs);
                }
                "--malformed" => c.malformed = num(&flag, &value()?)?,
                "--debug-stall" => c.stall = true,
                "--debug-tamper" => c.tamper = true,
                "--debug-drop-worker" => c.drop_worker = true,
                other => {
                    return Err(CliError::Bad(format!(
                        "unknown flag {other:?} (see --help)"
                    )))
                }
            }
        }
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), CliError> {
        let bad = |m: &str| Err(CliError::Bad(m.to_owned()));
        if self.workers == 0 || self.workers > 256 {
            return bad("--workers must lie in 1..=256");
        }
        if self.associations == 0 || self.associations > 1024 {
            return bad("--associations must lie in 1..=1024");
        }
        if self.size_min == 0 || self.size_min > self.size_max || self.size_max > 256 * 1024 {
            return bad("--size must satisfy 1 <= MIN <= MAX <= 262144");
        }
        if self.messages > u64::from(u32::MAX) {
            return bad("--messages must fit in 32 bits");
        }
        Ok(())
    }

    /// Pair slots (associations in each direction of the run).
    pub fn slots(&self) -> usize {
        self.workers * self.associations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flags_give_the_defaults() {
        assert_eq!(Config::parse(Vec::<String>::new()), Ok(Config::default()));
    }

    #[test]
    fn every_flag_is_read() {
        let c = Config::parse(
            "--workers 16 --associations=8 --messages 20 --size 10..2000 --unordered 0.5 \
             --partial 0.25 --loss 0.05 --duplicate 0.02 --reorder 0.05 --corrupt 0.01 \
             --garbage 0.03 --churn 200 --stack-restarts 10 --slow-consumer --duration 2.5 \
             --seed 77 --json out.json --quiet --watchdog 3 --malformed 1000"
                .split_whitespace(),
        )
        .expect("parses");
        assert_eq!((c.workers, c.associations, c.messages), (16, 8, 20));
        assert_eq!((c.size_min, c.size_max), (10, 2000));
        assert_eq!((c.unordered, c.partial), (0.5, 0.25));
        assert_eq!(
            c.faults,
            Faults {
                loss: 0.05,
                duplicate: 0.02,
                reorder: 0.05,
                corrupt: 0.01,
                garbage: 0.03
            }
        );
        assert_eq!(
            (c.churn, c.stack_restarts, c.slow_consumer),
            (200, 10, true)
        );
        assert_eq!(c.duration, Some(Duration::from_millis(2500)));
        assert_eq!((c.seed, c.quiet, c.malformed), (77, true, 1000));
        assert_eq!(c.json, Some(PathBuf::from("out.json")));
        assert_eq!(c.watchdog, Duration::from_secs(3));
        assert_eq!(c.slots(), 128);
    }

    #[test]
    fn bad_input_is_refused_with_the_flag_named() {
        for args in [
            "--loss 1.5",
            "--workers 0",
            "--size 10",
            "--size 20..10",
            "--messages x",
            "--frobnicate",
            "--seed",
        ] {
            match Config::parse(args.split_whitespace()) {
                Err(CliError::Bad(m)) => assert!(m.contains("--"), "{args}: {m}"),
                other => panic!("{args}: {other:?}"),
            }
        }
        assert_eq!(Config::parse(["--help"]), Err(CliError::Help));
    }
}
