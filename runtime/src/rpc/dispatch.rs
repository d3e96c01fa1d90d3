//! Who reads the next message. Python worker threads all call [`Dispatcher::recv`]; one of them,
//! the leader, reads, and keeps reading without any thread hand-off while messages keep coming.
//! When the leader spends longer than `takeover_after` in one handler, a watchdog hands leadership
//! to a waiting follower, so a slow handler never delays the calls behind it; when calls are
//! already waiting, it does so after [`QUICK`], so handlers that sleep or block start the calls
//! behind them at once instead of one per `takeover_after`.
//!
//! Nothing here knows Python: `blocking` is how the caller gives up the GIL while it waits.

use super::source::{Message, Next, Source};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// How long a handler runs before the calls waiting behind it get another worker.
const QUICK: Duration = Duration::from_micros(100);

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
        // How long a handler runs before the watchdog looks: QUICK while handlers block with calls
        // waiting behind them, doubling up to `takeover_after` while handlers finish sooner.
        let mut interval = QUICK.min(self.takeover_after);
        let mut taken_over = None;
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
            let long = self.takeover_after;
            if st.epoch != seen_epoch {
                // The handler looked at last finished on its own: handlers are quicker than the
                // look, so look less often (fast calls cost no wake-ups beyond one per `long`).
                if taken_over != Some(seen_epoch) {
                    interval = (interval * 2).min(long);
                }
                seen_epoch = st.epoch;
            }
            let ran = st.since.elapsed();
            if ran < interval {
                st = self.watchdog.wait_timeout(st, interval - ran).unwrap_or_else(|e| e.into_inner()).0;
                continue;
            }
            let pending = self.source.pending();
            if ran < long && !pending {
                st = self.watchdog.wait_timeout(st, long - ran).unwrap_or_else(|e| e.into_inner()).0;
                continue;
            }
            if pending {
                // Calls wait behind a handler that sleeps or blocks: start them at once, and look
                // quickly while that goes on.
                interval = QUICK;
            }
            taken_over = Some(st.epoch);
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

    /// With calls waiting, a handler that blocks hands over long before `takeover_after` (here
    /// far longer than the test may take).
    #[test]
    fn calls_waiting_behind_a_blocked_handler_start_at_once() {
        let (tx, rx) = unbounded();
        let (out_tx, out_rx) = unbounded();
        let (release_tx, release_rx) = unbounded::<()>();
        let d = Arc::new(Dispatcher::new(ChannelSource(rx), Duration::from_secs(600)));
        let wd = {
            let d = d.clone();
            std::thread::spawn(move || d.run_watchdog())
        };
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (d, out_tx, release_rx) = (d.clone(), out_tx.clone(), release_rx.clone());
                std::thread::spawn(move || {
                    while let (Some(Message::Text(m)), _) = d.recv(&direct) {
                        if m == "blocks" {
                            release_rx.recv().unwrap();
                        }
                        out_tx.send(m).unwrap();
                    }
                })
            })
            .collect();
        tx.send("blocks".to_string()).unwrap();
        tx.send("waits".to_string()).unwrap();
        assert_eq!(out_rx.recv_timeout(Duration::from_secs(60)).unwrap(), "waits");
        release_tx.send(()).unwrap();
        assert_eq!(out_rx.recv().unwrap(), "blocks");
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
