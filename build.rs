//! Pins the embedded interpreter at build time.
//!
//! pyo3 links against the `python3` it finds (or `PYO3_PYTHON`), but the dynamic loader would
//! otherwise resolve `libpython3.x.so` from the system path at run time, which on Debian is a
//! different build with a different `sys.prefix`. An rpath to the build interpreter's library
//! directory makes the binary load the library it was compiled against; the interpreter's
//! executable and prefix are recorded so `--version` can name it and the runtime can find its
//! standard library. It also sets pyo3's `Py_3_N` cfgs for the interpreter. (The variables are not named `RSGI_*`: `cargo run` also exports them to
//! the program, where `RSGI_*` names are settings and unknown ones are refused.)

fn main() {
    // `Py_3_N`, `Py_GIL_DISABLED` and the like, for code that reads what one CPython
    // version lays out and another does not (an environ's version tag).
    pyo3_build_config::use_pyo3_cfgs();
    let config = pyo3_build_config::get();
    if let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    let executable = config.executable().unwrap_or_default();
    println!("cargo:rustc-env=EMBEDDED_PYTHON={executable}");
    println!(
        "cargo:rustc-env=EMBEDDED_PYTHON_VERSION={}",
        config.version()
    );
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-changed=build.rs");
}
