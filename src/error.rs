//! The error type used everywhere inside criurs: an errno for the C
//! boundary plus a sentence naming what failed and why.

use std::fmt;

/// A failure with the errno C callers receive (negated) and a sentence
/// for `criurs_ctx_last_error()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    errno: i32,
    message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// `errno` is a positive errno value (e.g. `libc::ENOENT`).
    pub fn new(errno: i32, message: impl Into<String>) -> Self {
        Error { errno: errno.abs(), message: message.into() }
    }

    /// Invalid argument from the caller.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(libc::EINVAL, message)
    }

    /// Malformed data read from the kernel or a file.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(libc::EBADMSG, message)
    }

    /// Wraps an I/O error with what was being done: "read /proc/1/uid_map".
    pub fn io(err: &std::io::Error, what: impl fmt::Display) -> Self {
        let errno = err.raw_os_error().unwrap_or(libc::EIO);
        Self::new(errno, format!("{what}: {}", describe_errno(errno)))
    }

    /// Wraps a nix errno with what was being done.
    pub fn sys(err: nix::errno::Errno, what: impl fmt::Display) -> Self {
        Self::new(err as i32, format!("{what}: {}", describe_errno(err as i32)))
    }

    pub fn errno(&self) -> i32 {
        self.errno
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the sentence with an outer context ("namespace mnt:7: ...").
    pub fn context(mut self, outer: impl fmt::Display) -> Self {
        self.message = format!("{outer}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Adds context to any `Result<_, Error>`.
pub trait ResultExt<T> {
    fn context<D: fmt::Display>(self, outer: D) -> Result<T>;
    fn with_context<D: fmt::Display, F: FnOnce() -> D>(self, outer: F) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context<D: fmt::Display>(self, outer: D) -> Result<T> {
        self.map_err(|e| e.context(outer))
    }
    fn with_context<D: fmt::Display, F: FnOnce() -> D>(self, outer: F) -> Result<T> {
        self.map_err(|e| e.context(outer()))
    }
}

/// The C library's description of an errno, without the number.
pub fn describe_errno(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno)
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or("unknown error")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_keeps_errno_and_names_the_operation() {
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let e = Error::io(&io, "read /proc/9/uid_map");
        assert_eq!(e.errno(), libc::ENOENT);
        assert_eq!(e.message(), "read /proc/9/uid_map: No such file or directory");
    }

    #[test]
    fn context_prefixes_outer_sentence() {
        let e = Error::invalid("pid 0 is not a process").context("criurs_ctx_new");
        assert_eq!(e.message(), "criurs_ctx_new: pid 0 is not a process");
        assert_eq!(e.errno(), libc::EINVAL);
    }

    #[test]
    fn negative_errno_is_normalised() {
        assert_eq!(Error::new(-libc::EPERM, "x").errno(), libc::EPERM);
    }
}
