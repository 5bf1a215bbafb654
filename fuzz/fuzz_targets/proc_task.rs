#![no_main]
//! criurs::fuzzing::proc_task.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| criurs::fuzzing::proc_task(data));
