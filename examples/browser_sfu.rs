//! An SFU-shaped data-channel relay that real browsers connect to.
//!
//! N worker threads (3 by default), each owning a UDP socket on 127.0.0.1, the DTLS sessions,
//! SCTP associations and data channels of the browsers placed on it (round robin). What a
//! browser sends on a channel is relayed to the channel of the same label of every other
//! browser, across workers, as an SFU pipes a DataProducer to DataConsumers. Signalling is
//! HTTP on 127.0.0.1. The relay lives in the `usrsctp-browser` crate (`browser/`).
//!
//! Run: `cargo run --release --example browser_sfu`, open the printed URL in two tabs and chat.
//!
//! Options: `--port P` (default 8080), `--workers N` (default 3), `--verdicts K` (exit after
//! the test page has posted K verdicts, printing each on a `VERDICT ` line; used by
//! `scripts/browser-test`), `--timeout SECS` (with `--verdicts`: give up after this long),
//! `--idle-timeout SECS` (free a client silent for this long, not even sending ICE consent
//! checks; default 30).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    usrsctp_browser::demo::run(&args)
}
