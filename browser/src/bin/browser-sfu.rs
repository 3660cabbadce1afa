//! The relay of `examples/browser_sfu.rs` as a binary of this crate, so that the browser
//! test's `cargo test` wrapper (`tests/browsers.rs`) can run it without a nested cargo.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    usrsctp_browser::demo::run(&args)
}
