#![no_main]
//! criurs::fuzzing::image.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| criurs::fuzzing::image(data));
