//! Bytes a target controls (socket names, mount paths, sources, options,
//! filesystem names), made safe for an operator's terminal.
//!
//! Every byte that could move the cursor, start an escape sequence, break
//! a row or a column, or be mistaken for another byte is written as
//! `\xHH`, like `findmnt -r`: control bytes (C0, DEL), space, the
//! backslash itself, bytes that are not UTF-8, and the UTF-8 of C1
//! controls and of the invisible format characters that reorder or hide
//! text (bidi overrides, zero-width marks). Everything else is printed as
//! it is. Decoding `\xHH` gives back the exact bytes, so two different
//! inputs never print the same: a real newline prints `\x0a`, the four
//! characters `\012` print `\x5c012`.

use std::fmt;

/// Writes `bytes` escaped; padding (`{:<40}`) counts the escaped text.
pub struct Esc<'a>(pub &'a [u8]);

/// An ASCII byte that may go out as it is.
fn plain_ascii(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'\\'
}

/// A character that changes how the text around it shows, without
/// showing itself: C1 controls, bidi embeddings and isolates, zero-width
/// marks, the byte order mark, and the line and paragraph separators.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{00ad}' | '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

fn hex(out: &mut dyn fmt::Write, b: u8) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.write_str("\\x")?;
    out.write_char(DIGITS[(b >> 4) as usize] as char)?;
    out.write_char(DIGITS[(b & 15) as usize] as char)
}

/// Appends the escaped form of `bytes` to `out`.
pub fn escape_into(out: &mut dyn fmt::Write, bytes: &[u8]) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        let mut start = 0;
        for (i, c) in valid.char_indices() {
            let keep = if c.is_ascii() { plain_ascii(c as u8) } else { !invisible(c) };
            if !keep {
                out.write_str(&valid[start..i])?;
                for &b in &valid.as_bytes()[i..i + c.len_utf8()] {
                    hex(out, b)?;
                }
                start = i + c.len_utf8();
            }
        }
        out.write_str(&valid[start..])?;
        for &b in chunk.invalid() {
            hex(out, b)?;
        }
    }
    Ok(())
}

/// The common case: nothing to escape, and the bytes are the text.
fn as_plain(bytes: &[u8]) -> Option<&str> {
    if bytes.iter().all(|&b| plain_ascii(b)) {
        // All ASCII: valid UTF-8.
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = as_plain(self.0) {
            return f.pad(s);
        }
        let mut s = String::with_capacity(self.0.len() + 8);
        escape_into(&mut s, self.0)?;
        f.pad(&s)
    }
}

/// A unix socket's address as `ss` shows it: `*` unbound, `@name`
/// abstract (leading NUL), else the path. A bound name that would read
/// as one of those (a relative path `*` or starting with `@`) has that
/// first byte escaped, so the three never look alike.
pub struct UnixName<'a>(pub &'a [u8]);

impl fmt::Display for UnixName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(self.0.len() + 8);
        match self.0 {
            [] => s.push('*'),
            [0, rest @ ..] => {
                s.push('@');
                escape_into(&mut s, rest)?;
            }
            [first @ (b'@' | b'*'), rest @ ..] => {
                hex(&mut s, *first)?;
                escape_into(&mut s, rest)?;
            }
            name => escape_into(&mut s, name)?,
        }
        f.pad(&s)
    }
}

/// Target bytes inside double quotes, as `ss -p` quotes a command name:
/// escaped as [`Esc`], and the quote itself as `\x22`, so a name cannot
/// close its quotes and forge another entry.
pub struct Quoted<'a>(pub &'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        f.write_char('"')?;
        for (i, part) in self.0.split(|&b| b == b'"').enumerate() {
            if i > 0 {
                hex(f, b'"')?;
            }
            escape_into(f, part)?;
        }
        f.write_char('"')
    }
}

/// A line of our own (an error, a log line) that may quote target bytes:
/// control characters escaped, so it stays one line and sends no escape
/// sequence; spaces and backslashes kept for reading.
pub fn line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if invisible(c) {
            let mut buf = [0u8; 4];
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                let _ = hex(&mut out, b);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Our own sentence that quotes target bytes (a finding's message or
/// fix): as [`line`], and bytes that are not UTF-8 as `\xHH`.
pub fn line_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&line(chunk.valid()));
        for &b in chunk.invalid() {
            let _ = hex(&mut out, b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(b: &[u8]) -> String {
        Esc(b).to_string()
    }

    #[test]
    fn plain_text_is_kept() {
        assert_eq!(esc(b"/var/lib/data"), "/var/lib/data");
        assert_eq!(esc("/srv/caf\u{e9}".as_bytes()), "/srv/caf\u{e9}");
        assert_eq!(format!("{:<8}|", Esc(b"/tmp")), "/tmp    |");
    }

    #[test]
    fn a_backslash_and_a_newline_never_print_the_same() {
        assert_eq!(esc(b"lit\\134eral"), "lit\\x5c134eral");
        assert_eq!(esc(b"lit\neral"), "lit\\x0aeral");
        assert_eq!(esc(b"lit\\x0aeral"), "lit\\x5cx0aeral");
        assert_ne!(esc(b"lit\\x0aeral"), esc(b"lit\neral"));
    }

    #[test]
    fn controls_spaces_and_stray_bytes_are_hex() {
        assert_eq!(esc(b"\x1b[31mX\tY Z\x7f"), "\\x1b[31mX\\x09Y\\x20Z\\x7f");
        assert_eq!(esc(b"a\xffb\xc3"), "a\\xffb\\xc3");
        // C1 control (U+009B, CSI) and a right-to-left override.
        assert_eq!(esc("a\u{9b}b\u{202e}c".as_bytes()), "a\\xc2\\x9bb\\xe2\\x80\\xaec");
        assert_eq!(format!("{:<12}|", Esc(b"a b")), "a\\x20b      |");
    }

    #[test]
    fn unix_names_as_ss_shows_them_without_look_alikes() {
        assert_eq!(UnixName(b"").to_string(), "*");
        assert_eq!(UnixName(b"\0sock").to_string(), "@sock");
        assert_eq!(UnixName(b"@sock").to_string(), "\\x40sock");
        assert_eq!(UnixName(b"*").to_string(), "\\x2a");
        assert_eq!(UnixName(b"/run/a b").to_string(), "/run/a\\x20b");
        let forged = UnixName(b"\0\x1b[31mX\nu_str LISTEN 0 0 forged row").to_string();
        assert!(!forged.contains('\n') && !forged.contains('\x1b') && !forged.contains(' '), "{forged}");
    }

    #[test]
    fn lines_stay_one_line() {
        assert_eq!(line("open /a\nb: No such file"), "open /a\\x0ab: No such file");
        assert_eq!(line("x\x1b[2Jy"), "x\\x1b[2Jy");
    }
}
