//! libFuzzer entry point; the checks live in `src/chunked_body.rs` (shared with the regression tests).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rsgi_server_fuzz::chunked_body::check(data));
