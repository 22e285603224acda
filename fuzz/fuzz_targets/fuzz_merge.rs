//! libFuzzer entry point; the body is `credvault_fuzz::merge::merge`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| credvault_fuzz::merge::merge(data));
