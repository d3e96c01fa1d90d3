//! `process`: programs started for the app, whose output is streamed as events
//! (`process.stdout`, `process.stderr`: `{pid, line}`; `process.exit`: `{pid, code, signal}`),
//! which take input and can be killed, and which die with the app.

use crate::shell::{Run, command};
use crate::{Failure, Host, Outcome, lock};
use auroraview_overlay::plugins::Caller;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

/// The longest line an event carries; a longer one is sent in pieces.
const MAX_EVENT_LINE: u64 = 1 << 20;

struct Running {
    program: String,
    args: Vec<String>,
    stdin: Option<ChildStdin>,
    /// Set when the process has exited, before it is reaped (so its pid is never reused under us).
    exited: bool,
}

/// The processes this app started and that have not been reaped.
#[derive(Default)]
pub struct Table {
    running: Arc<Mutex<BTreeMap<u32, Running>>>,
}

impl Table {
    pub fn list(&self) -> Value {
        let running = lock(&self.running);
        Value::Array(
            running
                .iter()
                .filter(|(_, r)| !r.exited)
                .map(|(pid, r)| json!({"pid": pid, "program": r.program, "args": r.args}))
                .collect(),
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pid: u32,
    data: String,
    /// Closes the process's stdin after writing.
    #[serde(default)]
    close: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pid {
    pid: u32,
}

type SpawnJob = (Command, Sender<std::io::Result<Child>>);

/// Children are started from one thread that lives as long as the process: the kernel's
/// "kill me when my parent dies" signal follows the thread that forked, not the process.
fn spawner() -> &'static Mutex<Sender<SpawnJob>> {
    static SPAWNER: OnceLock<Mutex<Sender<SpawnJob>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = channel::<SpawnJob>();
        let _ = std::thread::Builder::new().name("auroraview-spawner".into()).spawn(move || {
            for (mut cmd, back) in rx {
                let _ = back.send(cmd.spawn());
            }
        });
        Mutex::new(tx)
    })
}

pub fn spawn(host: &Arc<Host>, caller: Caller, p: Run) -> Outcome {
    if p.stdin.is_some() || p.timeout_ms.is_some() {
        return Err(Failure::params(
            "process.spawn: stdin and timeout_ms belong to shell.execute; use process.write".into(),
        ));
    }
    let mut cmd = command(host, caller, "process.spawn", &p)?;
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; it makes the kernel kill the child when the app dies.
    unsafe {
        cmd.pre_exec(|| {
            #[cfg(target_os = "linux")]
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (back, result) = channel();
    lock(spawner()).send((cmd, back)).map_err(|_| Failure::plugin("process.spawn: the spawner has stopped"))?;
    let mut child = result
        .recv()
        .map_err(|_| Failure::plugin("process.spawn: the spawner has stopped"))?
        .map_err(|e| Failure::plugin(format!("process.spawn: cannot run {}: {e}", p.program)))?;
    let pid = child.id();
    lock(&host.processes.running).insert(
        pid,
        Running { program: p.program.clone(), args: p.args.clone(), stdin: child.stdin.take(), exited: false },
    );
    let stream = |pipe: Box<dyn Read + Send>, event: &'static str| {
        let host = host.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match (&mut reader).take(MAX_EVENT_LINE).read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                host.emit(event, json!({"pid": pid, "line": String::from_utf8_lossy(&buf)}));
            }
        })
    };
    let out = child.stdout.take().map(|o| stream(Box::new(o), "process.stdout"));
    let err = child.stderr.take().map(|e| stream(Box::new(e), "process.stderr"));
    let host = host.clone();
    std::thread::spawn(move || {
        // Waits without reaping, so a kill() meanwhile still names this process.
        // SAFETY: waitid with a zeroed siginfo it fills in.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT);
        }
        if let Some(r) = lock(&host.processes.running).get_mut(&pid) {
            r.exited = true;
        }
        let status = child.wait();
        for t in [out, err].into_iter().flatten() {
            let _ = t.join();
        }
        lock(&host.processes.running).remove(&pid);
        use std::os::unix::process::ExitStatusExt;
        let (code, signal) = status.map(|s| (s.code(), s.signal())).unwrap_or((None, None));
        host.emit("process.exit", json!({"pid": pid, "code": code, "signal": signal}));
    });
    Ok(json!({"pid": pid}))
}

pub fn write(host: &Host, caller: Caller, p: Input) -> Outcome {
    host.allow(caller, "process.write", "")?;
    let mut running = lock(&host.processes.running);
    let r = running.get_mut(&p.pid).filter(|r| !r.exited).ok_or_else(|| not_ours(p.pid))?;
    let stdin =
        r.stdin.as_mut().ok_or_else(|| Failure::plugin(format!("process.write: the stdin of {} is closed", p.pid)))?;
    stdin
        .write_all(p.data.as_bytes())
        .and_then(|_| stdin.flush())
        .map_err(|e| Failure::plugin(format!("process.write: {e}")))?;
    if p.close {
        r.stdin = None;
    }
    Ok(Value::Null)
}

pub fn kill(host: &Host, caller: Caller, p: Pid) -> Outcome {
    host.allow(caller, "process.kill", "")?;
    let running = lock(&host.processes.running);
    running.get(&p.pid).filter(|r| !r.exited).ok_or_else(|| not_ours(p.pid))?;
    // SAFETY: kill(2) on a child that is not reaped yet (the table holds it until it is), so the
    // pid names it and no other process.
    unsafe { libc::kill(p.pid as i32, libc::SIGKILL) };
    Ok(Value::Null)
}

fn not_ours(pid: u32) -> Failure {
    Failure::params(format!("no running process {pid} was started by process.spawn"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use auroraview_overlay::plugins::{Grant, Plugins, Vars};
    use std::time::Duration;

    #[test]
    fn output_streams_as_events_and_exit_comes_last() {
        let grants = Plugins { grants: [("process".to_string(), Grant::All(true))].into(), ..Default::default() };
        let host = Host::new(grants, Vars::default());
        let (tx, rx) = channel::<String>();
        let tx = Mutex::new(tx);
        host.set_page(Arc::new(move |l: &str| {
            let _ = lock(&tx).send(l.to_string());
        }));
        let run = Run {
            program: "sh".into(),
            args: vec!["-c".into(), "read x; echo got $x; echo oops >&2".into()],
            cwd: None,
            env: Default::default(),
            stdin: None,
            timeout_ms: None,
        };
        let pid = spawn(&host, Caller::Python, run).unwrap()["pid"].as_u64().unwrap() as u32;
        assert_eq!(host.processes.list()[0]["pid"], pid);
        write(&host, Caller::Python, Input { pid, data: "hello\n".into(), close: true }).unwrap();
        let mut lines = Vec::new();
        while !lines.iter().any(|l: &String| l.contains("process.exit")) {
            lines.push(rx.recv_timeout(Duration::from_secs(10)).unwrap());
        }
        let all = lines.join("\n");
        assert!(all.contains(r#""line":"got hello""#), "{all}");
        assert!(all.contains(r#""event":"process.stderr""#), "{all}");
        assert!(lines.last().unwrap().contains(r#""code":0"#), "{all}");
        assert!(kill(&host, Caller::Python, Pid { pid }).is_err());
    }
}
