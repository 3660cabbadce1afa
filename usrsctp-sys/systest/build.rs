//! Generates the checks of usrsctp-sys against the `usrsctp.h` of the library usrsctp-sys
//! actually linked (vendored tree or system), with the include directory and defines that
//! usrsctp-sys exports through its `links = "usrsctp"` metadata:
//!
//! * the ctest suite (`tests/main.rs`): size and alignment of every struct, union and alias,
//!   offset, size and type of every field, by-value round trips, every constant's value, and
//!   every function's symbol;
//! * a supplement (`tests/supplement.rs`) for what ctest 0.5 does not do: the full C type of
//!   every function (ctest only compares addresses) and the flexible array members (ctest
//!   applies `sizeof` to them, which C rejects).

use std::collections::HashSet;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Stand-ins for the libc items usrsctp-sys uses, good enough for `rustc -Zunpretty=expanded`
/// (which resolves names but runs no type check). They are `pub(crate)` so that ctest, run with
/// `skip_private(true)`, generates no tests for them; the sockaddr types are structs so that
/// ctest translates them to `struct sockaddr...` in C.
const LIBC_SHIM: &str = r#"
#[allow(dead_code, non_camel_case_types)]
mod ctest_libc_shim {
    pub(crate) use core::ffi::{c_char, c_int, c_uint, c_void};
    pub(crate) type size_t = usize;
    pub(crate) type ssize_t = isize;
    pub(crate) type socklen_t = u32;
    pub(crate) struct sockaddr;
    pub(crate) struct sockaddr_in;
    pub(crate) struct sockaddr_in6;
    pub(crate) struct sockaddr_storage;
    pub(crate) const MSG_EOR: c_int = 0;
}
"#;

/// Declared by usrsctp.h 0.9.5.0 but not defined by the 0.9.5.0 library (upstream omission in
/// user_socket.c): ctest's address check would fail to link. Their types are still checked by
/// the supplement, which does not need the symbols.
const UNDEFINED_IN_LIBRARY: &[&str] = &[
    "usrsctp_sysctl_set_sctp_multiple_asconfs",
    "usrsctp_sysctl_set_sctp_sendall_limit",
    "usrsctp_sysctl_get_sctp_sendall_limit",
];

fn main() {
    let include = env::var("DEP_USRSCTP_INCLUDE")
        .expect("usrsctp-sys must export DEP_USRSCTP_INCLUDE (links = \"usrsctp\")");
    let source = env::var("DEP_USRSCTP_SOURCE").expect("DEP_USRSCTP_SOURCE");
    let version = env::var("DEP_USRSCTP_VERSION").expect("DEP_USRSCTP_VERSION");
    let defines = env::var("DEP_USRSCTP_DEFINES").unwrap_or_default();
    let target = env::var("TARGET").expect("TARGET");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let sys_src = manifest.join("..").join("src");
    println!("cargo::rerun-if-changed={}", sys_src.display());
    println!("cargo::rerun-if-changed=build.rs");

    // The crate is expanded by a plain `rustc -Zunpretty=expanded` outside cargo, so the `env!`
    // values usrsctp-sys's build script provides must be supplied here.
    env::set_var("USRSCTP_SYS_SOURCE", &source);
    env::set_var("USRSCTP_SYS_VERSION", &version);

    // The defines the library was built with (Debian: INET, INET6). SCTP_DEBUG is always set:
    // both builds have it, and it is what makes the header declare SCTP_DEBUG_NONE/ALL.
    let mut c_defines: Vec<(String, Option<String>)> = vec![("SCTP_DEBUG".to_string(), None)];
    for d in defines.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        c_defines.push(match d.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (d.to_string(), None),
        });
    }

    let crate_root = shimmed_copy(&sys_src, &out_dir.join("usrsctp-sys-src"));
    let expanded = ctest::expand(&crate_root, &[], target.clone()).expect("expand usrsctp-sys");
    let ast = syn::parse_file(&expanded).expect("parse expanded usrsctp-sys");
    let items = Items::collect(&ast);
    assert!(
        items.flexible.len() >= 9,
        "expected the nine flexible array members of usrsctp.h, found {}",
        items.flexible.len()
    );
    supplement(&items, &include, &c_defines, &out_dir);
    sconn_len_form(&crate_root, &include, &target, &out_dir);

    let mut cfg = ctest::TestGenerator::new();
    cfg.header("usrsctp.h").include(&include);
    for (k, v) in &c_defines {
        cfg.define(k, v.as_deref());
    }
    // GCC notes that the by-value ABI of structs with flexible members changed in GCC 4.4;
    // irrelevant here and noisy.
    cfg.flag("-Wno-psabi");
    // Only the crate's public API is checked (the libc stand-ins above are private).
    cfg.skip_private(true);

    // --- Skips, each with its reason -------------------------------------------------------
    // `struct socket` is opaque in usrsctp.h (incomplete type): it has no size, alignment or
    // fields to compare. The Rust side is a zero-sized opaque marker by design.
    cfg.skip_struct(|s| s.ident() == "socket");
    // The callback typedefs (`usrsctp_*_fn`, `usrsctp_*_cb`) are Rust-only names for anonymous
    // function-pointer parameter types of the header; there is no C typedef to compare with.
    // Their exact C types are checked by the supplement, as part of the functions taking them.
    cfg.skip_alias(|a| a.ident().starts_with("usrsctp_"));
    // `SOURCE` and `VERSION` are Rust-only string constants describing the build.
    cfg.skip_const(|c| matches!(c.ident(), "SOURCE" | "VERSION"));
    // Flexible array members (`uint8_t sac_info[]` etc.): ctest applies `sizeof` to them, which
    // C rejects for an incomplete array type. Their offsets, element sizes and element types
    // are checked by the supplement; the structs' size, alignment and other fields by ctest.
    let flexible: HashSet<(String, String)> = items
        .flexible
        .iter()
        .map(|(s, f, _)| (s.clone(), f.clone()))
        .collect();
    cfg.skip_struct_field(move |s, f| flexible.contains(&(s.ident().into(), f.ident().into())));
    cfg.skip_fn(|f| UNDEFINED_IN_LIBRARY.contains(&f.ident()));

    ctest::generate_test(&mut cfg, crate_root, "all.rs")
        .expect("generating the ctest suite for usrsctp-sys failed");
}

/// Copies usrsctp-sys's sources to `dst` with `libc::` paths pointed at [`LIBC_SHIM`].
///
/// ctest expands the crate with a bare `rustc`, which cannot be given dependencies, so the real
/// `libc` crate is not available there (git2-rs hit the same limitation moving to ctest 0.5).
fn shimmed_copy(src: &Path, dst: &Path) -> PathBuf {
    fs::create_dir_all(dst).expect("create ctest source directory");
    for entry in fs::read_dir(src).expect("read usrsctp-sys/src") {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = fs::read_to_string(&path).expect("read source file");
        let mut text = text.replace("libc::", "crate::ctest_libc_shim::");
        if path.file_name().and_then(|n| n.to_str()) == Some("lib.rs") {
            text.push_str(LIBC_SHIM);
        }
        let name = path.file_name().expect("file name");
        fs::write(dst.join(name), text).expect("write source copy");
    }
    dst.join("lib.rs")
}

/// What the supplement needs from the expanded crate.
#[derive(Default)]
struct Items {
    structs: HashSet<String>,
    unions: HashSet<String>,
    /// `pub type X = unsafe extern "C" fn(..)` aliases.
    fn_aliases: Vec<(String, syn::TypeBareFn)>,
    /// (struct, field, element type) of every `pub field: [T; 0]`.
    flexible: Vec<(String, String, syn::Type)>,
    /// Every public foreign function.
    functions: Vec<syn::ForeignItemFn>,
}

impl Items {
    fn collect(file: &syn::File) -> Self {
        let mut items = Items::default();
        items.walk(&file.items);
        items
    }

    fn walk(&mut self, list: &[syn::Item]) {
        for item in list {
            match item {
                syn::Item::Mod(m) => {
                    if let Some((_, inner)) = &m.content {
                        self.walk(inner);
                    }
                }
                syn::Item::Struct(s) if is_pub(&s.vis) => {
                    let name = s.ident.to_string();
                    for field in &s.fields {
                        if let (syn::Type::Array(arr), Some(ident)) = (&field.ty, &field.ident) {
                            if is_pub(&field.vis) && is_zero(&arr.len) {
                                let elem = (*arr.elem).clone();
                                self.flexible.push((name.clone(), ident.to_string(), elem));
                            }
                        }
                    }
                    self.structs.insert(name);
                }
                syn::Item::Union(u) if is_pub(&u.vis) => {
                    self.unions.insert(u.ident.to_string());
                }
                syn::Item::Type(t) if is_pub(&t.vis) => {
                    if let syn::Type::BareFn(f) = &*t.ty {
                        self.fn_aliases.push((t.ident.to_string(), f.clone()));
                    }
                }
                syn::Item::ForeignMod(m) => {
                    for fi in &m.items {
                        if let syn::ForeignItem::Fn(f) = fi {
                            if is_pub(&f.vis) {
                                self.functions.push(f.clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The C spelling of a Rust type used in the bindings. Callback aliases become the
    /// typedefs the supplement declares for them.
    fn c_type(&self, ty: &syn::Type) -> String {
        match ty {
            syn::Type::Ptr(p) => {
                let inner = self.c_type(&p.elem);
                if p.mutability.is_some() {
                    format!("{inner} *")
                } else {
                    format!("{inner} const *")
                }
            }
            syn::Type::Tuple(t) if t.elems.is_empty() => "void".to_string(),
            syn::Type::Path(p) => {
                let last = p.path.segments.last().expect("path segment");
                let name = last.ident.to_string();
                if name == "Option" {
                    // Option<callback alias>: a nullable function pointer.
                    if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                        if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                            return self.c_type(inner);
                        }
                    }
                    panic!("unsupported Option type in bindings");
                }
                if self.fn_aliases.iter().any(|(a, _)| *a == name) {
                    return format!("systest_{name}");
                }
                if self.structs.contains(&name) || name.starts_with("sockaddr") {
                    return format!("struct {name}");
                }
                if self.unions.contains(&name) {
                    return format!("union {name}");
                }
                match name.as_str() {
                    "c_int" | "i32" => "int",
                    "c_uint" => "unsigned int",
                    "c_char" => "char",
                    "c_void" => "void",
                    "u8" => "uint8_t",
                    "u16" => "uint16_t",
                    "u32" => "uint32_t",
                    "u64" => "uint64_t",
                    "usize" => "size_t",
                    "isize" => "ssize_t",
                    other => return other.to_string(),
                }
                .to_string()
            }
            other => panic!("unsupported type in bindings: {}", quote_type(other)),
        }
    }

    /// `R (*)(A, B, ...)` for a function with these inputs, variadic flag and output.
    fn c_fn_ptr<'a>(
        &self,
        inputs: impl Iterator<Item = &'a syn::Type>,
        variadic: bool,
        output: &syn::ReturnType,
    ) -> String {
        let mut params: Vec<String> = inputs.map(|t| self.c_type(t)).collect();
        if variadic {
            params.push("...".to_string());
        }
        if params.is_empty() {
            params.push("void".to_string());
        }
        let ret = match output {
            syn::ReturnType::Default => "void".to_string(),
            syn::ReturnType::Type(_, t) => self.c_type(t),
        };
        format!("{ret} (*)({})", params.join(", "))
    }
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn is_zero(expr: &syn::Expr) -> bool {
    matches!(expr, syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) if i.base10_digits() == "0")
}

fn quote_type(ty: &syn::Type) -> String {
    format!("{ty:?}").chars().take(120).collect()
}

/// Writes, compiles and links `supplement.c`, and writes `supplement.rs` for
/// `tests/supplement.rs`:
/// * for every function, whether `&f` in C has exactly the function-pointer type spelled from
///   the Rust declaration (`__builtin_types_compatible_p`: parameter and return types, pointer
///   constness, variadics, callback signatures);
/// * for every flexible array member, its offset and element size in C (the element type is a
///   compile-time `_Static_assert`).
fn supplement(items: &Items, include: &str, defines: &[(String, Option<String>)], out: &Path) {
    let mut c = String::from("#include <stddef.h>\n#include <stdint.h>\n#include <usrsctp.h>\n\n");
    let mut decls = String::new();
    let mut sig_rows = String::new();
    let mut flex_rows = String::new();

    for (name, f) in &items.fn_aliases {
        let ptr = items.c_fn_ptr(
            f.inputs.iter().map(|a| &a.ty),
            f.variadic.is_some(),
            &f.output,
        );
        // `R (*)(args)` -> `typedef R (*systest_name)(args);`
        let typedef = ptr.replacen("(*)", &format!("(*systest_{name})"), 1);
        writeln!(c, "typedef {typedef};").unwrap();
    }
    c.push('\n');

    for (i, f) in items.functions.iter().enumerate() {
        let name = f.sig.ident.to_string();
        let inputs = f.sig.inputs.iter().map(|arg| match arg {
            syn::FnArg::Typed(t) => &*t.ty,
            syn::FnArg::Receiver(_) => panic!("receiver in extern fn"),
        });
        let ptr = items.c_fn_ptr(inputs, f.sig.variadic.is_some(), &f.sig.output);
        writeln!(
            c,
            "int systest_sig_{i}(void) {{ return __builtin_types_compatible_p(\
             __typeof__(&{name}), {ptr}); }}"
        )
        .unwrap();
        writeln!(decls, "        fn systest_sig_{i}() -> i32;").unwrap();
        writeln!(
            sig_rows,
            "        ({name:?}, {ptr:?}, unsafe {{ systest_sig_{i}() }} == 1),"
        )
        .unwrap();
    }
    c.push('\n');

    for (i, (s, f, elem)) in items.flexible.iter().enumerate() {
        let e = items.c_type(elem);
        let rust_elem = match elem {
            syn::Type::Path(p) => p.path.segments.last().unwrap().ident.to_string(),
            other => panic!("unsupported flexible element type {}", quote_type(other)),
        };
        writeln!(
            c,
            "_Static_assert(__builtin_types_compatible_p(__typeof__(((struct {s} *)0)->{f}[0]), \
             {e}), \"element type of {s}.{f} is not {e}\");\n\
             uint64_t systest_flex_off_{i}(void) {{ return offsetof(struct {s}, {f}); }}\n\
             uint64_t systest_flex_elem_{i}(void) {{ return sizeof(((struct {s} *)0)->{f}[0]); }}"
        )
        .unwrap();
        writeln!(decls, "        fn systest_flex_off_{i}() -> u64;").unwrap();
        writeln!(decls, "        fn systest_flex_elem_{i}() -> u64;").unwrap();
        writeln!(
            flex_rows,
            "        ({s:?}, {f:?}, unsafe {{ systest_flex_off_{i}() }}, \
             unsafe {{ systest_flex_elem_{i}() }}, \
             core::mem::offset_of!({s}, {f}) as u64, \
             core::mem::size_of::<{rust_elem}>() as u64),"
        )
        .unwrap();
    }

    let rs = format!(
        "extern \"C\" {{\n{decls}}}\n\n\
         /// (function, C type spelled from the Rust declaration, whether C agrees)\n\
         pub fn signatures() -> Vec<(&'static str, &'static str, bool)> {{\n\
         \x20   // SAFETY: the C functions only return compile-time constants.\n\
         \x20   vec![\n{sig_rows}    ]\n}}\n\n\
         /// (struct, field, C offset, C element size, Rust offset, Rust element size)\n\
         pub fn flexible_members() -> Vec<(&'static str, &'static str, u64, u64, u64, u64)> {{\n\
         \x20   // SAFETY: the C functions only return compile-time constants.\n\
         \x20   vec![\n{flex_rows}    ]\n}}\n"
    );
    fs::write(out.join("supplement.c"), c).expect("write supplement.c");
    fs::write(out.join("supplement.rs"), rs).expect("write supplement.rs");

    let mut build = cc::Build::new();
    build.file(out.join("supplement.c")).include(include);
    for (k, v) in defines {
        build.define(k, v.as_deref());
    }
    build.compile("usrsctp_systest_supplement");
}

/// Checks the other form of `struct sockaddr_conn`, the one usrsctp.h declares for Apple targets
/// and the BSDs (length byte first, one-byte family), which ctest cannot reach from Linux.
///
/// usrsctp-sys is expanded again with `cfg(usrsctp_sconn_len)`, the cfg its build script sets
/// on those targets, and its `sockaddr_conn` is transcribed into a C mirror struct. A C file
/// includes the system headers usrsctp.h needs, then defines `__FreeBSD__` so that usrsctp.h
/// itself takes its BSD branch, and compares the header's struct with the mirror: size,
/// alignment, and each field's offset and type. Writes `sconn_len_form.rs` for
/// `tests/supplement.rs`.
fn sconn_len_form(crate_root: &Path, include: &str, target: &str, out: &Path) {
    let cfg = [("usrsctp_sconn_len".to_string(), None)];
    let expanded = ctest::expand(crate_root, &cfg, target.to_string())
        .expect("expand usrsctp-sys with cfg(usrsctp_sconn_len)");
    let ast = syn::parse_file(&expanded).expect("parse expanded usrsctp-sys");
    let items = Items::collect(&ast);
    let fields = find_struct(&ast.items, "sockaddr_conn")
        .expect("usrsctp-sys has no sockaddr_conn under cfg(usrsctp_sconn_len)");

    let mut c = String::from(
        "#include <stddef.h>\n#include <stdint.h>\n#include <errno.h>\n#include <sys/types.h>\n\
         #include <sys/socket.h>\n#include <netinet/in.h>\n\
         /* The system headers are in; now make usrsctp.h take its Apple/BSD branch. */\n\
         #define __FreeBSD__ 1\n#include <usrsctp.h>\n\n\
         struct systest_sconn_len_form {\n",
    );
    for (name, ty) in &fields {
        writeln!(c, "    {} {name};", items.c_type(ty)).unwrap();
    }
    c.push_str("};\n\n");
    writeln!(
        c,
        "int systest_sconn_size_ok(void) {{ return sizeof(struct sockaddr_conn) == \
         sizeof(struct systest_sconn_len_form) && _Alignof(struct sockaddr_conn) == \
         _Alignof(struct systest_sconn_len_form); }}"
    )
    .unwrap();
    let mut decls = String::from("        fn systest_sconn_size_ok() -> i32;\n");
    let mut rows = String::new();
    for (i, (name, _)) in fields.iter().enumerate() {
        writeln!(
            c,
            "int systest_sconn_field_{i}(void) {{ return offsetof(struct sockaddr_conn, {name}) \
             == offsetof(struct systest_sconn_len_form, {name}) && \
             __builtin_types_compatible_p(__typeof__(((struct sockaddr_conn *)0)->{name}), \
             __typeof__(((struct systest_sconn_len_form *)0)->{name})); }}"
        )
        .unwrap();
        writeln!(decls, "        fn systest_sconn_field_{i}() -> i32;").unwrap();
        writeln!(
            rows,
            "        ({name:?}, unsafe {{ systest_sconn_field_{i}() }} == 1),"
        )
        .unwrap();
    }
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    let rs = format!(
        "extern \"C\" {{\n{decls}}}\n\n\
         /// The fields of usrsctp-sys's `sockaddr_conn` under `cfg(usrsctp_sconn_len)`, in order.\n\
         pub const SCONN_LEN_FORM_FIELDS: &[&str] = &{names:?};\n\n\
         /// Whether usrsctp.h's Apple/BSD `struct sockaddr_conn` has the mirror's size and alignment.\n\
         pub fn sconn_len_form_size_ok() -> bool {{\n\
         \x20   // SAFETY: the C function only returns a compile-time constant.\n\
         \x20   (unsafe {{ systest_sconn_size_ok() }}) == 1\n}}\n\n\
         /// (field, whether its offset and type in usrsctp.h's Apple/BSD branch match the mirror)\n\
         pub fn sconn_len_form_fields() -> Vec<(&'static str, bool)> {{\n\
         \x20   // SAFETY: the C functions only return compile-time constants.\n\
         \x20   vec![\n{rows}    ]\n}}\n"
    );
    fs::write(out.join("sconn_len_form.c"), c).expect("write sconn_len_form.c");
    fs::write(out.join("sconn_len_form.rs"), rs).expect("write sconn_len_form.rs");
    cc::Build::new()
        .file(out.join("sconn_len_form.c"))
        .include(include)
        .compile("usrsctp_systest_sconn_len_form");
}

/// The (name, type) of each field of the public struct `name`, in declaration order.
fn find_struct(list: &[syn::Item], name: &str) -> Option<Vec<(String, syn::Type)>> {
    for item in list {
        match item {
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    if let Some(found) = find_struct(inner, name) {
                        return Some(found);
                    }
                }
            }
            syn::Item::Struct(s) if s.ident == name && is_pub(&s.vis) => {
                return Some(
                    s.fields
                        .iter()
                        .map(|f| {
                            let ident = f.ident.as_ref().expect("named field").to_string();
                            (ident, f.ty.clone())
                        })
                        .collect(),
                );
            }
            _ => {}
        }
    }
    None
}
