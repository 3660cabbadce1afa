//! ctest suite: compares every struct/union layout, field offset/size/type, type alias and
//! constant of usrsctp-sys with the real `usrsctp.h`, and checks that every declared function
//! resolves to the library's symbol. Exits non-zero on any mismatch (`cargo test -p
//! usrsctp-sys-systest`). The generator configuration, including every skip and its reason, is
//! in `build.rs`.
#![allow(bad_style, unused_imports, clippy::all)]

use usrsctp_sys::*;

include!(concat!(env!("OUT_DIR"), "/all.rs"));
