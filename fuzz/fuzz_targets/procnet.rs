#![no_main]
//! criurs::fuzzing::procnet.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| criurs::fuzzing::procnet(data));
