#![no_main]
//! criurs::fuzzing::rtnetlink; with CRIURS_FUZZ_SEEDS=DIR set, the machine's own
//! replies are first written into DIR as seeds.
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        if let Some(dir) = std::env::var_os("CRIURS_FUZZ_SEEDS") {
            criurs::fuzzing::write_live_seeds("rtnetlink", std::path::Path::new(&dir)).expect("live seeds");
        }
    },
    |data: &[u8]| criurs::fuzzing::rtnetlink(data)
);
