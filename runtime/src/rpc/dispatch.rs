//! Who reads the next message. Python worker threads all call [`Dispatcher::recv`]; one of them,
//! the leader, reads, and keeps reading without any thread hand-off while messages keep coming.
//! When the leader spends longer than `takeover_after` in one handler, a watchdog hands leadership
//! to a waiting follower, so a slow handler never delays the calls behind it.
//!
//! Nothing here knows Python: `blocking` is how the caller gives up the GIL while it waits.

use super::source::{Message, Next, Source};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

struct State {
    leader: Option<ThreadId>,
    in_handler: bool,
    epoch: u64,
    since: Instant,
    waiting_followers: usize,
    closed: bool,
    watchdog_parked: bool,
}

pub struct Dispatcher<S> {
    source: S,
    state: Mutex<State>,
    followers: Condvar,
    watchdog: Condvar,
    takeover_after: Duration,
}

impl<S: Source> Dispatcher<S> {
    pub fn new(source: S, takeover_after: Duration) -> Self {
        Dispatcher {
            source,
            state: Mutex::new(State {
                leader: None,
                in_handler: false,
                epoch: 0,
                since: Instant::now(),
                waiting_followers: 0,
                closed: false,
                watchdog_parked: false,
            }),
            followers: Condvar::new(),
            watchdog: Condvar::new(),
            takeover_after,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next message for this thread to handle, or `None` once the source has ended. The flag
    /// is true when no follower is left waiting: the caller should start another worker.
    pub fn recv(&self, blocking: &dyn Fn(&mut (dyn FnMut() + Send))) -> (Option<Message>, bool) {
        let me = std::thread::current().id();
        let mut st = self.lock();
        loop {
            if st.closed {
                return (None, false);
            }
            if st.leader.is_some_and(|l| l != me) {
                st.waiting_followers += 1;
                drop(st);
                blocking(&mut || {
                    let mut s = self.lock();
                    while s.leader.is_some_and(|l| l != me) && !s.closed {
                        s = self.followers.wait(s).unwrap_or_else(|e| e.into_inner());
                    }
                });
                st = self.lock();
                st.waiting_followers -= 1;
                continue;
            }
            st.leader = Some(me);
            st.in_handler = false;
            drop(st);
            let mut next = self.source.try_next();
            if matches!(next, Next::Empty) {
                blocking(&mut || next = self.source.next());
            }
            st = self.lock();
            match next {
                Next::Message(m) => {
                    st.in_handler = true;
                    st.epoch += 1;
                    st.since = Instant::now();
                    if st.watchdog_parked {
                        self.watchdog.notify_one();
                    }
                    return (Some(m), st.waiting_followers == 0);
                }
                Next::Closed => {
                    st.closed = true;
                    st.leader = None;
                    self.followers.notify_all();
                    self.watchdog.notify_all();
                    return (None, false);
                }
                Next::Empty => continue,
            }
        }
    }

    /// Runs until closed: hands leadership over when the leader is stuck in one handler. Ticks
    /// only while messages flow; parks after a quiet period.
    pub fn run_watchdog(&self) {
        let mut st = self.lock();
        let mut seen_epoch = st.epoch;
        loop {
            if st.closed {
                return;
            }
            if !st.in_handler {
                if st.epoch == seen_epoch {
                    st.watchdog_parked = true;
                    st = self.watchdog.wait(st).unwrap_or_else(|e| e.into_inner());
                    st.watchdog_parked = false;
                } else {
                    seen_epoch = st.epoch;
                    st = self.watchdog.wait_timeout(st, self.takeover_after).unwrap_or_else(|e| e.into_inner()).0;
                }
                continue;
            }
            seen_epoch = st.epoch;
            let deadline = st.since + self.takeover_after;
            let now = Instant::now();
            if now < deadline {
                st = self.watchdog.wait_timeout(st, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
                continue;
            }
            // The leader is still in the handler it started before the deadline.
            st.leader = None;
            st.in_handler = false;
            self.followers.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::source::ChannelSource;
    use crossbeam_channel::unbounded;
    use std::sync::Arc;

    fn direct(f: &mut (dyn FnMut() + Send)) {
        f()
    }

    #[test]
    fn slow_handler_hands_over_leadership() {
        let (tx, rx) = unbounded();
        let (out_tx, out_rx) = unbounded();
        let d = Arc::new(Dispatcher::new(ChannelSource(rx), Duration::from_millis(5)));
        let wd = {
            let d = d.clone();
            std::thread::spawn(move || d.run_watchdog())
        };
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (d, out_tx) = (d.clone(), out_tx.clone());
                std::thread::spawn(move || {
                    while let (Some(Message::Text(m)), _) = d.recv(&direct) {
                        if m == "slow" {
                            std::thread::sleep(Duration::from_millis(500));
                        }
                        out_tx.send(m).unwrap();
                    }
                })
            })
            .collect();
        tx.send("slow".to_string()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        tx.send("fast".to_string()).unwrap();
        assert_eq!(out_rx.recv().unwrap(), "fast");
        assert_eq!(out_rx.recv().unwrap(), "slow");
        drop(tx);
        for w in workers {
            w.join().unwrap();
        }
        wd.join().unwrap();
    }

    #[test]
    fn closing_source_ends_every_worker_and_asks_for_spares() {
        let (tx, rx) = unbounded();
        let d = Arc::new(Dispatcher::new(ChannelSource(rx), Duration::from_millis(50)));
        tx.send("a".into()).unwrap();
        // A lone worker is told to start a spare.
        assert_eq!(d.recv(&direct), (Some(Message::Text("a".into())), true));
        drop(tx);
        assert_eq!(d.recv(&direct), (None, false));
        assert_eq!(d.recv(&direct), (None, false));
    }
}
