//! libFuzzer entry point; the checks live in `src/uwsgi_packet.rs` (shared with the regression tests).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rsgi_server_fuzz::uwsgi_packet::check(data));
