#![no_main]
//! criurs::fuzzing::mountinfo.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| criurs::fuzzing::mountinfo(data));
