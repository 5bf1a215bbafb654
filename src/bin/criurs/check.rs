//! `criurs check`: the findings of `Context::check`, as a table a person
//! reads (one line per finding with its fix, then CRIU's own lines) or one
//! JSON document for a runtime. Exit status: 0 dumpable, 1 needs the
//! options named, 2 blocked (3: the check itself failed).

use std::io::Write;

use criurs::check::{Finding, Object, Report, Severity};

use crate::escape::{line_bytes, Esc};

/// The object of a finding, every target byte escaped.
pub fn object_text(o: &Object) -> String {
    match o {
        Object::Caller => "caller".to_string(),
        Object::Task { pid } => format!("pid {pid}"),
        Object::Namespace { ns_id, kind, kid } => format!("{} ns {ns_id} ({}:[{kid}])", kind.name(), kind.name()),
        Object::Mount { ns_id, mnt_id, path } => format!("mount {mnt_id} {} (mnt ns {ns_id})", Esc(path)),
        Object::Socket { ino, holder, peer_ino, peer, .. } => {
            let mut s = format!("socket {ino}");
            if let Some(h) = holder {
                s.push_str(&format!(" pid {} fd {} ({})", h.pid, h.fd, Esc(&h.comm)));
            }
            if *peer_ino != 0 {
                s.push_str(&format!(" peer {peer_ino}"));
                for p in peer {
                    s.push_str(&format!(" pid {} fd {} ({})", p.pid, p.fd, Esc(&p.comm)));
                }
            }
            s
        }
        Object::File { pid, fd, path } => format!("pid {pid} fd {fd} {}", Esc(path)),
        Object::Family { ns_id, name } => format!("{name} sockets (net ns {ns_id})"),
    }
}

fn verdict(report: &Report) -> &'static str {
    match report.exit_code() {
        0 => "dumpable",
        1 => "needs-options",
        _ => "blocked",
    }
}

pub fn print_text(pid: i32, report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    let f = &report.findings;
    if f.is_empty() {
        writeln!(out, "pid {pid}: nothing stops CRIU 4.2's dump")?;
        return Ok(());
    }
    let rows: Vec<(String, &Finding)> = f.iter().map(|x| (object_text(&x.object), x)).collect();
    let code_w = f.iter().map(|x| x.code.len()).max().unwrap_or(4).max(4);
    let obj_w = rows.iter().map(|(o, _)| o.chars().count()).max().unwrap_or(6).clamp(6, 60);
    writeln!(out, "{:<12} {:<code_w$} {:<obj_w$} FIX", "SEVERITY", "CODE", "OBJECT")?;
    for (obj, x) in &rows {
        writeln!(out, "{:<12} {:<code_w$} {:<obj_w$} {}", x.severity.name(), x.code, obj, line_bytes(&x.fix))?;
    }
    writeln!(out)?;
    writeln!(out, "CRIU 4.2's lines, in the order its dump meets them (it stops at the one marked >):")?;
    let first = report.criu_order.iter().copied().find(|&i| f[i].severity != Severity::Warning);
    for (i, x) in report.criu_order.iter().map(|&i| (i, &f[i])).filter(|(_, x)| !x.criu_message.is_empty()) {
        let mark = if Some(i) == first { '>' } else { ' ' };
        writeln!(out, "{mark} {:<code_w$} Error ({}): {}", x.code, x.criu_source, line_bytes(&x.criu_message))?;
    }
    writeln!(out)?;
    let count = |s: Severity| f.iter().filter(|x| x.severity == s).count();
    let options: Vec<String> = report.options().iter().map(|o| line_bytes(o)).collect();
    write!(
        out,
        "pid {pid}: {}; {} blocking, {} answered by options, {} warnings",
        verdict(report),
        count(Severity::Blocks),
        count(Severity::NeedsOption),
        count(Severity::Warning)
    )?;
    if !options.is_empty() {
        write!(out, "; options: {}", options.join(" "))?;
    }
    writeln!(out)
}

/// Bytes as a JSON string when UTF-8; else the lossy string and `<key>_hex`.
fn put_bytes(m: &mut serde_json::Map<String, serde_json::Value>, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            m.insert(key.into(), s.into());
        }
        Err(_) => {
            m.insert(key.into(), String::from_utf8_lossy(bytes).into_owned().into());
            m.insert(format!("{key}_hex"), bytes.iter().map(|b| format!("{b:02x}")).collect::<String>().into());
        }
    }
}

fn holder_json(h: &criurs::check::Holder) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("pid".into(), h.pid.into());
    m.insert("fd".into(), h.fd.into());
    put_bytes(&mut m, "comm", &h.comm);
    m.into()
}

fn object_json(o: &Object) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("kind".into(), o.kind_name().into());
    match o {
        Object::Caller => {}
        Object::Task { pid } => {
            m.insert("pid".into(), (*pid).into());
        }
        Object::Namespace { ns_id, kind, kid } => {
            m.insert("ns_id".into(), (*ns_id).into());
            m.insert("ns_kind".into(), kind.name().into());
            m.insert("kid".into(), (*kid).into());
        }
        Object::Mount { ns_id, mnt_id, path } => {
            m.insert("ns_id".into(), (*ns_id).into());
            m.insert("mnt_id".into(), (*mnt_id).into());
            put_bytes(&mut m, "path", path);
        }
        Object::Socket { ns_id, ino, holder, peer_ino, peer } => {
            m.insert("ns_id".into(), (*ns_id).into());
            m.insert("ino".into(), (*ino).into());
            if let Some(h) = holder {
                m.insert("holder".into(), holder_json(h));
            }
            m.insert("peer_ino".into(), (*peer_ino).into());
            m.insert("peer_holders".into(), peer.iter().map(holder_json).collect::<Vec<_>>().into());
        }
        Object::File { pid, fd, path } => {
            m.insert("pid".into(), (*pid).into());
            m.insert("fd".into(), (*fd).into());
            put_bytes(&mut m, "path", path);
        }
        Object::Family { ns_id, name } => {
            m.insert("ns_id".into(), (*ns_id).into());
            m.insert("family".into(), (*name).into());
        }
    }
    m.into()
}

pub fn print_json(pid: i32, report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    let mut doc = serde_json::Map::new();
    doc.insert("pid".into(), pid.into());
    doc.insert("verdict".into(), verdict(report).into());
    doc.insert("exit".into(), report.exit_code().into());
    let options: Vec<serde_json::Value> = report
        .options()
        .iter()
        .map(|o| {
            let mut m = serde_json::Map::new();
            put_bytes(&mut m, "option", o);
            m.remove("option").unwrap_or_default()
        })
        .collect();
    doc.insert("options".into(), options.into());
    let findings: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut m = serde_json::Map::new();
            m.insert("code".into(), f.code.into());
            m.insert("severity".into(), f.severity.name().into());
            m.insert("object".into(), object_json(&f.object));
            put_bytes(&mut m, "criu_message", &f.criu_message);
            m.insert("criu_source".into(), f.criu_source.into());
            match &f.option {
                Some(o) => put_bytes(&mut m, "option", o),
                None => {
                    m.insert("option".into(), serde_json::Value::Null);
                }
            }
            put_bytes(&mut m, "fix", &f.fix);
            m.into()
        })
        .collect();
    doc.insert("findings".into(), findings.into());
    doc.insert("criu_order".into(), report.criu_order.clone().into());
    serde_json::to_writer_pretty(&mut *out, &serde_json::Value::Object(doc))?;
    writeln!(out)
}
