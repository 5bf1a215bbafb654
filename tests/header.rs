//! The committed C header is what cbindgen makes of `src/ffi/` today.
//!
//! cbindgen runs here as a library (a dev-dependency), so neither the drift
//! check nor `make header` needs a cbindgen binary on the machine:
//!
//!   cargo test --test header                          check (make check)
//!   CRIURS_WRITE_HEADER=1 cargo test --test header    regenerate (make header)

use std::path::Path;

/// What `cbindgen --config cbindgen.toml src/ffi/mod.rs` prints.
fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen parses src/ffi");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn header_matches_src_ffi() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/criurs.h");
    let fresh = generate();
    if std::env::var_os("CRIURS_WRITE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write include/criurs.h");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).expect("read include/criurs.h");
    if committed != fresh {
        let first = committed.lines().zip(fresh.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "include/criurs.h differs from what cbindgen makes of src/ffi (first at line {}):\n  committed: {:?}\n  generated: {:?}\nrun `make header` and commit the result",
            first + 1,
            committed.lines().nth(first).unwrap_or("<end of file>"),
            fresh.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}
