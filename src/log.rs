//! Leveled logging delivered to a callback held by the context. Silent
//! until a sink is set; levels are CRIU's.

use std::fmt;
use std::sync::Arc;

/// CRIU's log levels: a lower number is more important.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Level {
    Msg = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    pub fn from_u32(v: u32) -> Option<Level> {
        Some(match v {
            0 => Level::Msg,
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => return None,
        })
    }
}

/// Receives one formatted line: level and text (with its module prefix,
/// e.g. "mnt: ..."), without a trailing newline.
pub type Sink = Arc<dyn Fn(Level, &str) + Send + Sync>;

/// A level filter and an optional sink; cheap to clone into worker threads.
#[derive(Clone)]
pub struct Logger {
    max_level: Level,
    sink: Option<Sink>,
}

impl Default for Logger {
    fn default() -> Self {
        Logger { max_level: Level::Info, sink: None }
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("max_level", &self.max_level)
            .field("has_sink", &self.sink.is_some())
            .finish()
    }
}

impl Logger {
    pub fn new(max_level: Level, sink: Option<Sink>) -> Self {
        Logger { max_level, sink }
    }

    pub fn set_level(&mut self, level: Level) {
        self.max_level = level;
    }

    pub fn set_sink(&mut self, sink: Option<Sink>) {
        self.sink = sink;
    }

    pub fn enabled(&self, level: Level) -> bool {
        self.sink.is_some() && level <= self.max_level
    }

    /// Formats only when the line will be delivered.
    pub fn log(&self, level: Level, module: &str, args: fmt::Arguments<'_>) {
        if let Some(sink) = &self.sink {
            if level <= self.max_level {
                sink(level, &format!("{module}: {args}"));
            }
        }
    }

    pub fn error(&self, module: &str, args: fmt::Arguments<'_>) {
        self.log(Level::Error, module, args)
    }
    pub fn warn(&self, module: &str, args: fmt::Arguments<'_>) {
        self.log(Level::Warn, module, args)
    }
    pub fn info(&self, module: &str, args: fmt::Arguments<'_>) {
        self.log(Level::Info, module, args)
    }
    pub fn debug(&self, module: &str, args: fmt::Arguments<'_>) {
        self.log(Level::Debug, module, args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn filters_by_level_and_prefixes_module() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let sink: Sink = Arc::new(move |lvl, text| seen.lock().unwrap().push((lvl, text.to_string())));
        let log = Logger::new(Level::Warn, Some(sink));
        log.info("mnt", format_args!("hidden"));
        log.warn("mnt", format_args!("shown {}", 1));
        assert_eq!(*lines.lock().unwrap(), vec![(Level::Warn, "mnt: shown 1".to_string())]);
    }

    #[test]
    fn silent_without_sink() {
        assert!(!Logger::default().enabled(Level::Msg));
    }
}
