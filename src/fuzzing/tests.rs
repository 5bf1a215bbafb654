//! The fuzz entry points over every fixture, with every selector: what
//! the fuzzers start from must run clean (no panic, errors that say why).

use super::*;
use std::path::PathBuf;

fn fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"), &mut out);
    out.sort();
    out
}

fn with_selector(sel: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![sel];
    v.extend_from_slice(bytes);
    v
}

fn named(p: &Path, prefix: &str) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix))
}

#[test]
fn every_fixture_mountinfo_builds_a_checked_tree_under_every_flag() {
    let files: Vec<PathBuf> = fixtures().into_iter().filter(|p| named(p, "mountinfo")).collect();
    assert!(files.len() > 10, "{} mountinfo fixtures", files.len());
    for f in &files {
        let text = std::fs::read(f).unwrap();
        for flags in 0..64 {
            mountinfo(&with_selector(flags, &text));
        }
    }
    // Two namespaces in one input.
    let two = [std::fs::read(&files[0]).unwrap(), MOUNTINFO_NS_SEPARATOR[1..].to_vec(), std::fs::read(&files[1]).unwrap()].concat();
    assert_eq!(split_on(&two[..], MOUNTINFO_NS_SEPARATOR).len(), 2);
    mountinfo(&with_selector(32 | 16, &two));
}

#[test]
fn every_fixture_image_goes_through_every_reader() {
    let files: Vec<PathBuf> = fixtures().into_iter().filter(|p| p.extension().is_some_and(|e| e == "img")).collect();
    assert!(files.len() > 100);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for sel in 0..IMAGE_READERS.len() as u8 {
            image(&with_selector(sel, &bytes));
        }
    }
}

#[test]
fn text_fixtures_go_through_the_proc_parsers() {
    for f in fixtures().into_iter().filter(|p| p.extension().is_some_and(|e| e == "txt")) {
        let text = std::fs::read(&f).unwrap();
        for sel in 0..=255u8 {
            proc_task(&with_selector(sel, &text));
        }
        for sel in 0..4 {
            procnet(&with_selector(sel, &text));
        }
    }
}

#[test]
fn live_replies_go_through_every_netlink_parser() {
    let dir = std::env::temp_dir().join(format!("criurs-fuzz-seeds-{}", std::process::id()));
    for (target, run) in [("sock_diag", sock_diag as fn(&[u8])), ("rtnetlink", rtnetlink), ("nfnetlink", nfnetlink)] {
        let n = write_live_seeds(target, &dir.join(target)).unwrap();
        assert!(n > 0 || target == "nfnetlink", "no live {target} seed");
        for e in std::fs::read_dir(dir.join(target)).unwrap() {
            let seed = std::fs::read(e.unwrap().path()).unwrap();
            run(&seed);
            // Every cut of a real reply is refused or read, never a panic.
            for cut in (1..seed.len()).step_by(7) {
                run(&seed[..cut]);
            }
        }
    }
    assert_eq!(write_live_seeds("no-such-target", &dir).unwrap(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn short_and_empty_inputs_are_harmless() {
    for data in [&[][..], &[0], &[1, 0, 0], &[255; 40]] {
        for run in [mountinfo as fn(&[u8]), image, procnet, proc_task, sock_diag, rtnetlink, nfnetlink] {
            run(data);
        }
    }
}

/// The first crash `make fuzz` found (nfnetlink, in the harness): a reply
/// whose `nlmsg_len` is not a multiple of 4. The dump walk steps over its
/// padding; the conntrack image holds it unpadded, as CRIU writes it, and
/// must split back by `nlmsg_len` into the same messages.
#[test]
fn unpadded_conntrack_replies_split_back() {
    let reply = |len: u32, body: &[u8]| {
        let mut m = Vec::new();
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&netlink::netfilter::CONNTRACK.reply_type.to_ne_bytes());
        m.extend_from_slice(&[0; 10]); // flags, seq 0, port 0
        m.extend_from_slice(body);
        m.resize(netlink::align(m.len()), 0);
        m
    };
    let ct = reply(20, &[2, 0, 0, 0]);
    let datagram = [reply(21, &[2, 0, 0, 0, 9]), ct.clone(), ct, netlink::message::emit(netlink::NLMSG_DONE, 0, 0, &[0; 4])].concat();
    assert_eq!(netlink::messages(&datagram).count(), 4);
    // Walked with padding, the unpadded bytes would lose the last two.
    let unpadded = [&datagram[..21], &datagram[24..44], &datagram[44..64]].concat();
    assert_eq!(netlink::messages(&unpadded).filter(Result::is_ok).count(), 1);
    assert_eq!(Stream::parse(&[&[0u8; 4][..], &unpadded].concat(), 0, "ct").unwrap().len(), 3);
    for sel in 0..3 {
        nfnetlink(&with_selector(sel, &datagram));
    }
}
