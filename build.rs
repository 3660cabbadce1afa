//! Root package build script: reads the metadata usrsctp-sys publishes (`links = "usrsctp"`)
//! and tells the harness, tests and benches which usrsctp was linked.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(usrsctp_vendored)");
    println!("cargo::rustc-check-cfg=cfg(usrsctp_system)");
    println!("cargo:rerun-if-env-changed=DEP_USRSCTP_SOURCE");
    let source = std::env::var("DEP_USRSCTP_SOURCE").unwrap_or_else(|_| "unknown".to_owned());
    match source.as_str() {
        "vendored" => println!("cargo:rustc-cfg=usrsctp_vendored"),
        "system" => println!("cargo:rustc-cfg=usrsctp_system"),
        _ => {}
    }
    println!("cargo:rustc-env=USRSCTP_LINKED={source}");
}
