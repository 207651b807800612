//! libFuzzer entry point; the checks live in `src/response_chunked.rs` (shared with the regression tests).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rsgi_server_fuzz::response_chunked::check(data));
