//! Generates the image types from `proto/` with a pure-Rust protobuf
//! compiler (protox), so no system `protoc` is needed.
fn main() {
    println!("cargo:rerun-if-changed=proto");
    let mut protos: Vec<std::path::PathBuf> = std::fs::read_dir("proto")
        .expect("read proto/")
        .map(|e| e.expect("read proto/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    protos.sort();
    let fds = protox::compile(&protos, ["proto"]).expect("compile proto/ with protox");
    prost_build::Config::new()
        .compile_fds(fds)
        .expect("generate Rust from proto/");
    // The linker version script keeps the exported ABI to criurs_* only.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("criurs.map");
    println!("cargo:rerun-if-changed=criurs.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={}", script.display());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcriurs.so.1");
}
