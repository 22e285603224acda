//! libFuzzer entry point; the body is `credvault_fuzz::mutate_valid`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| credvault_fuzz::mutate_valid(data));
