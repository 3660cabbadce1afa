//! Finds or builds usrsctp 0.9.5.0.
//!
//! Order (see README.md, "Which usrsctp is linked"):
//! 1. a source tree at `USRSCTP_SOURCE_DIR` or `<workspace>/vendor/usrsctp`, compiled with `cc`
//!    for AF_CONN only (no `INET`/`INET6`);
//! 2. the system library through pkg-config;
//! 3. otherwise a build error saying how to get either.
//!
//! With `DOCS_RS` set (docs.rs), none of this happens: nothing is built or linked, which is all a
//! documentation build needs.
//!
//! Feature `vendored` requires (1), feature `system` requires (2). Dependents learn which one was
//! used from the `links = "usrsctp"` metadata: `DEP_USRSCTP_SOURCE` (`vendored` | `system`, or
//! `none` without a library), `DEP_USRSCTP_INCLUDE`, `DEP_USRSCTP_VERSION` and
//! `DEP_USRSCTP_DEFINES`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The usrsctp release these bindings are written against.
const PINNED_VERSION: &str = "0.9.5.0";

/// The library sources that upstream's `usrsctplib/CMakeLists.txt` (0.9.5.0) compiles.
const SOURCES: &[&str] = &[
    "netinet/sctp_asconf.c",
    "netinet/sctp_auth.c",
    "netinet/sctp_bsd_addr.c",
    "netinet/sctp_callout.c",
    "netinet/sctp_cc_functions.c",
    "netinet/sctp_crc32.c",
    "netinet/sctp_indata.c",
    "netinet/sctp_input.c",
    "netinet/sctp_output.c",
    "netinet/sctp_pcb.c",
    "netinet/sctp_peeloff.c",
    "netinet/sctp_sha1.c",
    "netinet/sctp_ss_functions.c",
    "netinet/sctp_sysctl.c",
    "netinet/sctp_timer.c",
    "netinet/sctp_userspace.c",
    "netinet/sctp_usrreq.c",
    "netinet/sctputil.c",
    "netinet6/sctp6_usrreq.c",
    "user_environment.c",
    "user_mbuf.c",
    "user_recv_thread.c",
    "user_socket.c",
];

/// Our own patches to usrsctp (`vendor/patches/`, applied by `vendor/fetch.sh`): name, the file
/// (relative to `usrsctplib`) the patch changes, and a marker comment it adds there. A source tree
/// carries a patch when that file holds the marker; `usrsctp_sys::patches()` lists those compiled in.
const OUR_PATCHES: &[(&str, &str, &str)] = &[
    (
        "pending-reset-after-cum-ack",
        "netinet/sctp_indata.c",
        "usrsctp-rs patch pending-reset-after-cum-ack",
    ),
    (
        "callout-wheel",
        "netinet/sctp_callout.c",
        "usrsctp-rs patch callout-wheel",
    ),
    (
        "vrf-addr-hash",
        "netinet/sctp_os_userspace.h",
        "usrsctp-rs patch vrf-addr-hash",
    ),
];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(usrsctp_vendored)");
    println!("cargo::rustc-check-cfg=cfg(usrsctp_sconn_len)");
    println!("cargo::rerun-if-changed=build.rs");
    for var in [
        "USRSCTP_SOURCE_DIR",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
        "DOCS_RS",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }

    // usrsctp.h gives `struct sockaddr_conn` a length byte (`sconn_len`, and a one-byte
    // `sconn_family`) on exactly these platforms, like their other sockaddrs.
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_vendor = env::var("CARGO_CFG_TARGET_VENDOR").unwrap_or_default();
    if target_vendor == "apple"
        || matches!(
            target_os.as_str(),
            "freebsd" | "openbsd" | "netbsd" | "dragonfly"
        )
    {
        println!("cargo::rustc-cfg=usrsctp_sconn_len");
    }

    // Windows is refused by a `compile_error!` in src/lib.rs, which says why; looking for a
    // library here would only bury that message under a "not found" one.
    // docs.rs (https://docs.rs/about/builds) sets DOCS_RS; it has no usrsctp, no network and
    // only target/ writable, and rustdoc links nothing: documentation needs no library at all.
    // Checked before the features, which docs.rs metadata could set to anything.
    let docs_rs = env::var_os("DOCS_RS").is_some();
    if target_os == "windows" || docs_rs {
        if docs_rs {
            println!(
                "cargo::warning=usrsctp-sys: DOCS_RS is set, so usrsctp is neither built nor \
                 linked: this build is only good for documentation"
            );
        }
        println!("cargo::metadata=source=none");
        println!("cargo::metadata=version={PINNED_VERSION}");
        println!("cargo::rustc-env=USRSCTP_SYS_SOURCE=none");
        println!("cargo::rustc-env=USRSCTP_SYS_VERSION={PINNED_VERSION}");
        return;
    }

    let want_vendored = env::var_os("CARGO_FEATURE_VENDORED").is_some();
    let want_system = env::var_os("CARGO_FEATURE_SYSTEM").is_some();
    if want_vendored && want_system {
        panic!(
            "usrsctp-sys: the features `vendored` and `system` are mutually exclusive. Enable \
             `vendored` to compile usrsctp from a source tree (USRSCTP_SOURCE_DIR or \
             vendor/usrsctp), `system` to link the library found by pkg-config, or neither to \
             try the source tree first and then the system library."
        );
    }

    if !want_system {
        if let Some(lib_dir) = find_source_tree() {
            build_vendored(&lib_dir);
            return;
        }
        if want_vendored {
            panic!(
                "usrsctp-sys: feature `vendored` is enabled but no usrsctp source tree was found. \
                 Set USRSCTP_SOURCE_DIR to a checkout of sctplab/usrsctp at tag \
                 {PINNED_VERSION} (the directory that contains usrsctplib/usrsctp.h), or run \
                 vendor/fetch.sh from the workspace root to create vendor/usrsctp."
            );
        }
    }

    match probe_system() {
        Ok(()) => {}
        Err(err) if want_system => panic!(
            "usrsctp-sys: feature `system` is enabled but pkg-config could not find usrsctp >= \
             0.9.5 ({err}). Install it (Debian/Ubuntu: `apt-get install -y libusrsctp-dev \
             pkg-config`) or point PKG_CONFIG_PATH at the directory holding usrsctp.pc."
        ),
        Err(err) => panic!(
            "usrsctp-sys: usrsctp {PINNED_VERSION} was not found. Either provide its source: set \
             USRSCTP_SOURCE_DIR to a checkout of https://github.com/sctplab/usrsctp at tag \
             {PINNED_VERSION} (the directory containing usrsctplib/usrsctp.h), or run \
             vendor/fetch.sh from the workspace root to clone it into vendor/usrsctp; or install \
             the system library with pkg-config support (Debian/Ubuntu: `apt-get install -y \
             libusrsctp-dev pkg-config`). pkg-config said: {err}"
        ),
    }
}

/// Returns the `usrsctplib` directory of a usrsctp source tree, if one is available.
///
/// An explicitly set `USRSCTP_SOURCE_DIR` that holds no usrsctp sources is an error rather than
/// a silent fall-back to the system library.
fn find_source_tree() -> Option<PathBuf> {
    if let Some(dir) = env::var_os("USRSCTP_SOURCE_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return match lib_dir_of(&dir) {
            Some(lib) => Some(lib),
            None => panic!(
                "usrsctp-sys: USRSCTP_SOURCE_DIR={} does not contain usrsctplib/usrsctp.h (nor \
                 is it a usrsctplib directory). Point it at a checkout of sctplab/usrsctp at tag \
                 {PINNED_VERSION}, or unset it to use vendor/usrsctp or the system library.",
                dir.display()
            ),
        };
    }
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let vendor_root = manifest.join("..").join("vendor");
    let vendor = vendor_root.join("usrsctp");
    // Re-run when the checkout appears, changes or goes away. Only existing paths are watched:
    // cargo treats a missing watched path as always changed and would rebuild every time.
    let header = vendor.join("usrsctplib").join("usrsctp.h");
    if header.is_file() {
        println!("cargo::rerun-if-changed={}", header.display());
    } else if vendor_root.is_dir() {
        println!("cargo::rerun-if-changed={}", vendor_root.display());
    }
    lib_dir_of(&vendor)
}

/// `dir/usrsctplib` if it holds usrsctp.h, or `dir` itself if it is a usrsctplib directory.
fn lib_dir_of(dir: &Path) -> Option<PathBuf> {
    let nested = dir.join("usrsctplib");
    if nested.join("usrsctp.h").is_file() {
        return Some(nested);
    }
    if dir.join("usrsctp.h").is_file() && dir.join("netinet").is_dir() {
        return Some(dir.to_path_buf());
    }
    None
}

/// Reads the release number from upstream's build files (`set(VERSION "x")` in
/// usrsctplib/CMakeLists.txt, or `version: 'x'` in the top-level meson.build).
fn tree_version(lib_dir: &Path) -> Option<String> {
    let cmake = fs::read_to_string(lib_dir.join("CMakeLists.txt")).unwrap_or_default();
    for line in cmake.lines() {
        if let Some(rest) = line.trim().strip_prefix("set(VERSION") {
            let v = rest.trim().trim_end_matches(')').trim().trim_matches('"');
            if !v.is_empty() {
                return Some(v.to_string());
            }
        }
    }
    let meson = fs::read_to_string(lib_dir.join("..").join("meson.build")).unwrap_or_default();
    for line in meson.lines() {
        if let Some(rest) = line.trim().strip_prefix("version:") {
            let v = rest.trim().trim_end_matches(',').trim().trim_matches('\'');
            if !v.is_empty() {
                return Some(v.to_string());
            }
        }
    }
    None
}

fn build_vendored(lib_dir: &Path) {
    for src in SOURCES {
        let path = lib_dir.join(src);
        if !path.is_file() {
            panic!(
                "usrsctp-sys: the usrsctp source tree at {} lacks {src}; it does not look like \
                 usrsctp {PINNED_VERSION}. Re-create it with vendor/fetch.sh or point \
                 USRSCTP_SOURCE_DIR at a complete {PINNED_VERSION} checkout.",
                lib_dir.display()
            );
        }
        println!("cargo::rerun-if-changed={}", path.display());
    }
    let version = tree_version(lib_dir).unwrap_or_else(|| "unknown".to_string());
    if version != PINNED_VERSION {
        println!(
            "cargo::warning=usrsctp source tree at {} reports version {version}; these bindings \
             are written for {PINNED_VERSION}",
            lib_dir.display()
        );
    }

    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let mut build = cc::Build::new();
    build
        .include(lib_dir)
        .define("__Userspace__", None)
        .define("SCTP_PROCESS_LEVEL_LOCKS", None)
        .define("SCTP_SIMPLE_ALLOCATOR", None)
        // Upstream's default (option sctp_debug=ON); provides usrsctp_sysctl_*_sctp_debug_on.
        .define("SCTP_DEBUG", None);
    // Deliberately no INET / INET6: AF_CONN only, so the stack never opens raw or UDP sockets.
    if target_os == "linux" || target_os == "android" {
        build.define("_GNU_SOURCE", None);
    }
    if target_os == "macos" || target_os == "ios" {
        build.define("__APPLE_USE_RFC_2292", None);
    }

    // The same feature checks upstream's CMakeLists.txt runs, done with the compiler cc picked.
    let probe = Probe::new(&build, lib_dir);
    let checks: &[(&str, &str)] = &[
        ("HAVE_SYS_QUEUE_H", "#include <sys/queue.h>\n"),
        (
            "HAVE_LINUX_IF_ADDR_H",
            "#include <sys/socket.h>\n#include <linux/if_addr.h>\n",
        ),
        (
            "HAVE_LINUX_RTNETLINK_H",
            "#include <sys/socket.h>\n#include <linux/rtnetlink.h>\n",
        ),
        (
            "HAVE_NETINET_IP_ICMP_H",
            "#include <sys/types.h>\n#include <netinet/in.h>\n#include <netinet/ip.h>\n\
             #include <netinet/ip_icmp.h>\n",
        ),
        ("HAVE_STDATOMIC_H", "#include <stdatomic.h>\n"),
        (
            "HAVE_SA_LEN",
            "#include <sys/types.h>\n#include <sys/socket.h>\n\
             int f(struct sockaddr *s) { return (int)sizeof(s->sa_len); }\n",
        ),
        (
            "HAVE_SIN_LEN",
            "#include <sys/types.h>\n#include <netinet/in.h>\n\
             int f(struct sockaddr_in *s) { return (int)sizeof(s->sin_len); }\n",
        ),
        (
            "HAVE_SIN6_LEN",
            "#include <sys/types.h>\n#include <netinet/in.h>\n\
             int f(struct sockaddr_in6 *s) { return (int)sizeof(s->sin6_len); }\n",
        ),
        (
            "HAVE_SCONN_LEN",
            "#include <usrsctp.h>\n\
             int f(struct sockaddr_conn *s) { return (int)sizeof(s->sconn_len); }\n",
        ),
    ];
    let mut found = Vec::new();
    for (name, code) in checks {
        if probe.compiles(name, code) {
            build.define(name, None);
            found.push(*name);
        }
    }
    // Not a cargo directive: recorded in the build script output for diagnosis.
    println!("usrsctp-sys: feature probes found: {}", found.join(" "));

    let is_msvc = build.get_compiler().is_like_msvc();
    if !is_msvc {
        build
            .flag("-std=c99")
            .flag("-fvisibility=hidden")
            .flag("-pthread")
            .flag("-w");
    }
    build.warnings(false).extra_warnings(false);
    for src in SOURCES {
        build.file(lib_dir.join(src));
    }
    // Emits cargo:rustc-link-lib=static=usrsctp and the search path.
    build.compile("usrsctp");

    // Not reached on Windows while src/lib.rs refuses it; kept for a port.
    if target_os == "windows" {
        println!("cargo::rustc-link-lib=ws2_32");
        println!("cargo::rustc-link-lib=iphlpapi");
    } else {
        println!("cargo::rustc-link-lib=pthread");
    }

    println!("cargo::metadata=include={}", lib_dir.display());
    println!("cargo::metadata=source=vendored");
    println!("cargo::metadata=version={version}");
    println!("cargo::metadata=defines=SCTP_DEBUG");
    println!("cargo::rustc-env=USRSCTP_SYS_SOURCE=vendored");
    println!("cargo::rustc-env=USRSCTP_SYS_VERSION={version}");
    println!("cargo::rustc-cfg=usrsctp_vendored");
    let patches: Vec<&str> = OUR_PATCHES
        .iter()
        .filter(|(_, file, marker)| {
            fs::read_to_string(lib_dir.join(file)).is_ok_and(|text| text.contains(marker))
        })
        .map(|(name, _, _)| *name)
        .collect();
    write_patches(&patches);
}

/// Exports the names of our patches compiled in: `usrsctp_sys::patches()` and the
/// `DEP_USRSCTP_PATCHES` metadata (comma-separated, empty for none).
fn write_patches(names: &[&str]) {
    println!("cargo::rustc-env=USRSCTP_SYS_PATCHES={}", names.join(","));
    println!("cargo::metadata=patches={}", names.join(","));
}

/// Compiles small test programs with the compiler and flags of a `cc::Build`, like CMake's
/// `check_include_files` / `check_struct_has_member`.
struct Probe {
    compiler: cc::Tool,
    lib_dir: PathBuf,
    out_dir: PathBuf,
}

impl Probe {
    fn new(build: &cc::Build, lib_dir: &Path) -> Self {
        let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("probes");
        fs::create_dir_all(&out_dir).expect("create probe directory");
        Probe {
            compiler: build.get_compiler(),
            lib_dir: lib_dir.to_path_buf(),
            out_dir,
        }
    }

    fn compiles(&self, name: &str, code: &str) -> bool {
        let src = self.out_dir.join(format!("{name}.c"));
        let obj = self.out_dir.join(format!("{name}.o"));
        fs::write(
            &src,
            format!("{code}int probe_main(void) {{ return 0; }}\n"),
        )
        .expect("write probe source");
        let mut cmd: Command = self.compiler.to_command();
        if self.compiler.is_like_msvc() {
            cmd.arg("/c")
                .arg(format!("/I{}", self.lib_dir.display()))
                .arg(&src)
                .arg(format!("/Fo{}", obj.display()));
        } else {
            cmd.arg("-c")
                .arg("-I")
                .arg(&self.lib_dir)
                .arg(&src)
                .arg("-o")
                .arg(&obj);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        matches!(cmd.status(), Ok(status) if status.success())
    }
}

fn probe_system() -> Result<(), pkg_config::Error> {
    let lib = pkg_config::Config::new()
        .atleast_version("0.9.5")
        .probe("usrsctp")?;
    let include = lib
        .include_paths
        .iter()
        .find(|p| p.join("usrsctp.h").is_file())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/usr/include"));
    let mut defines: Vec<String> = lib
        .defines
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    defines.sort();
    println!(
        "cargo::rerun-if-changed={}",
        include.join("usrsctp.h").display()
    );
    println!("cargo::metadata=include={}", include.display());
    println!("cargo::metadata=source=system");
    println!("cargo::metadata=version={}", lib.version);
    println!("cargo::metadata=defines={}", defines.join(","));
    println!("cargo::rustc-env=USRSCTP_SYS_SOURCE=system");
    println!("cargo::rustc-env=USRSCTP_SYS_VERSION={}", lib.version);
    write_patches(&[]);
    Ok(())
}
