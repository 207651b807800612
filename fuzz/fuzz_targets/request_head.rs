//! libFuzzer entry point; the checks live in `src/request_head.rs` (shared with the regression tests).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rsgi_server_fuzz::request_head::check(data));
