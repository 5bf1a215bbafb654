//! The hand-over of one dump's datagrams from the thread that receives
//! them to the thread that parses them, in the buffers they were
//! received in: no copy, and the parser gives each buffer back for the
//! receiver to reuse, so a dump of any size cycles through a few.
//!
//! The parser is woken for a batch of datagrams, not for each: it
//! parses one several times faster than the kernel fills the next, so
//! a wake-up per datagram (a futex call on the receiving thread, the
//! kernel's critical path, and a context switch on the parsing one) was
//! paid for every ~250 sockets.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Datagrams queued before the parser is woken (the last ones of a dump
/// wake it at once, when the receiver closes the pipe).
const BATCH: usize = 8;

/// One datagram: the dump's sequence number and its bytes.
pub(crate) type Datagram = (u32, Vec<u8>);

#[derive(Default)]
struct State {
    full: VecDeque<Datagram>,
    spare: Vec<Vec<u8>>,
    /// The receiver is done: no more datagrams will come.
    closed: bool,
    /// The parser stopped (an error): datagrams are no longer kept.
    abandoned: bool,
}

#[derive(Default)]
pub(crate) struct Pipe {
    state: Mutex<State>,
    ready: Condvar,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic on the other side is reported by its join; the queue
        // itself is always consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Receiver: queues a datagram, and returns an emptied buffer to
    /// receive the next one into, if the parser has given one back.
    pub fn send(&self, seq: u32, datagram: Vec<u8>) -> Option<Vec<u8>> {
        let mut s = self.lock();
        if s.abandoned {
            return Some(datagram);
        }
        s.full.push_back((seq, datagram));
        let wake = s.full.len() >= BATCH;
        let spare = s.spare.pop();
        drop(s);
        if wake {
            self.ready.notify_one();
        }
        spare
    }

    /// Receiver: no more datagrams (the dump ended or failed).
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Parser: waits for a batch (or the close) and moves what is queued
    /// into `out`; false once the pipe is closed and empty.
    pub fn take(&self, out: &mut VecDeque<Datagram>) -> bool {
        let mut s = self.lock();
        while s.full.len() < BATCH && !s.closed {
            s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.full.is_empty() {
            return false;
        }
        std::mem::swap(&mut s.full, out);
        true
    }

    /// Parser: a buffer it is done with, for the receiver to reuse.
    pub fn give_back(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        self.lock().spare.push(buffer);
    }

    /// Parser: it stopped; what comes later is dropped.
    pub fn abandon(&self) {
        let mut s = self.lock();
        s.abandoned = true;
        s.full.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_arrive_in_order_in_batches_and_buffers_come_back() {
        let pipe = Pipe::default();
        let got = std::thread::scope(|scope| {
            let parser = scope.spawn(|| {
                let mut got = Vec::new();
                let mut batch = VecDeque::new();
                let mut batches = 0;
                while pipe.take(&mut batch) {
                    batches += 1;
                    for (seq, d) in batch.drain(..) {
                        got.push((seq, d[0]));
                        pipe.give_back(d);
                    }
                }
                (got, batches)
            });
            let mut reused = 0;
            for i in 0..10u8 {
                let mut buf = Vec::with_capacity(8);
                buf.push(i);
                if let Some(spare) = pipe.send(7, buf) {
                    assert!(spare.is_empty() && spare.capacity() >= 8);
                    reused += 1;
                }
            }
            pipe.close();
            let (got, batches) = parser.join().unwrap();
            assert!(batches <= 10 / BATCH + 1, "{batches} wake-ups for 10 datagrams");
            assert!(reused <= 10);
            got
        });
        assert_eq!(got, (0..10u8).map(|i| (7, i)).collect::<Vec<_>>());
    }

    #[test]
    fn a_closed_pipe_ends_the_parser_and_an_abandoned_one_keeps_nothing() {
        let pipe = Pipe::default();
        pipe.send(1, vec![1]);
        pipe.close();
        let mut batch = VecDeque::new();
        assert!(pipe.take(&mut batch), "the last datagrams come without a full batch");
        assert_eq!(batch.len(), 1);
        batch.clear();
        assert!(!pipe.take(&mut batch));
        let pipe = Pipe::default();
        pipe.abandon();
        assert_eq!(pipe.send(1, vec![9]), Some(vec![9]), "handed straight back");
        pipe.close();
        assert!(!pipe.take(&mut batch));
    }
}
