//! `--bench-in-process N`: the in-process round trip measured inside Rust — a request sent on a
//! channel, dispatched by Python, the response received on a channel — for the built-in `__echo__`
//! handler, sequentially and pipelined; then Python's own time for the same handler and codec, so
//! the runtime's overhead can be told apart. Prints one JSON object on stdout.

use super::{Launch, module};
use crate::rpc::source::ChannelSource;
use anyhow::Result;
use std::time::Instant;

pub fn in_process(n: usize, launch: Launch) -> Result<u8> {
    let (req_tx, req_rx) = crossbeam_channel::unbounded::<String>();
    let (resp_tx, resp_rx) = crossbeam_channel::unbounded::<String>();
    module::start(
        Box::new(ChannelSource(req_rx)),
        Box::new(move |line: &str| resp_tx.send(line.to_string()).map_err(std::io::Error::other)),
    )?;
    let request = |i: usize| format!(r#"{{"id":{i},"method":"__echo__","params":[{i}]}}"#);

    let driver = std::thread::spawn(move || {
        // Warm up (and wait for Python to start serving).
        for i in 0..1000 {
            req_tx.send(request(i)).unwrap();
            resp_rx.recv().unwrap();
        }
        let start = Instant::now();
        for i in 0..n {
            req_tx.send(request(i)).unwrap();
            resp_rx.recv().unwrap();
        }
        let sequential = start.elapsed();
        let start = Instant::now();
        for i in 0..n {
            req_tx.send(request(i)).unwrap();
        }
        for _ in 0..n {
            resp_rx.recv().unwrap();
        }
        let pipelined = start.elapsed();
        drop(req_tx);
        (sequential, pipelined)
    });
    // After serving ends, time the handler and codec alone in Python.
    let codec = format!(
        r#"
import time, json
from auroraview.webview import _router
reqs = ['{{"id":%d,"method":"__echo__","params":[%d]}}' % (i, i) for i in range({n})]
h = _router.handle
t = time.perf_counter()
for r in reqs:
    h(r)
el = time.perf_counter() - t
import os
# putenv: read back by Rust below.
os.environ["AURORAVIEW_BENCH_CODEC_US"] = str(el / {n} * 1e6)
"#
    );
    let code = super::run_then(launch, Some(codec))?;
    let (sequential, pipelined) = driver.join().map_err(|_| anyhow::anyhow!("bench driver panicked"))?;
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / n as f64;
    let codec_us: f64 =
        std::env::var("AURORAVIEW_BENCH_CODEC_US").ok().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    println!(
        r#"{{"calls":{n},"sequential_us":{:.3},"pipelined_us":{:.3},"pipelined_calls_per_s":{:.0},"handler_and_codec_us":{:.3}}}"#,
        per(sequential),
        per(pipelined),
        n as f64 / pipelined.as_secs_f64(),
        codec_us
    );
    Ok(code)
}
