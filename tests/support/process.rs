//! Running a command with a deadline, so that a hang fails one check instead of the whole run.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What a finished (or stopped) command left behind.
pub struct Finished {
    /// `None` when the command could not start or was killed at its deadline.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
    /// Set when the command had to be killed at its deadline, or could not start at all.
    pub failure: Option<String>,
}

impl Finished {
    /// The exit code, when the command exited by itself.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|status| status.code())
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// How it ended, in words: "exit 2", "killed by a signal", "timed out after 60 s".
    pub fn ending(&self) -> String {
        match (&self.failure, self.status) {
            (Some(failure), _) => failure.clone(),
            (None, Some(status)) => match status.code() {
                Some(code) => format!("exit {code}"),
                None => "killed by a signal".to_owned(),
            },
            (None, None) => "no exit status".to_owned(),
        }
    }
}

/// Runs `command` with no standard input, killing it when it is still running after `limit`.
pub fn run(command: &mut Command, limit: Duration) -> Finished {
    let started = Instant::now();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawned = spawn(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            return Finished {
                status: None,
                stdout: Vec::new(),
                stderr: Vec::new(),
                elapsed: started.elapsed(),
                failure: Some(format!(
                    "could not start {:?}: {err}",
                    command.get_program()
                )),
            };
        }
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn Read + Send>),
    );

    let mut status = None;
    let mut failure = None;
    loop {
        match child.try_wait() {
            Ok(Some(done)) => {
                status = Some(done);
                break;
            }
            Ok(None) if started.elapsed() < limit => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                failure = Some(format!(
                    "timed out after {} s and was killed",
                    limit.as_secs()
                ));
                break;
            }
            Err(err) => {
                let _ = child.kill();
                failure = Some(format!("could not wait for it: {err}"));
                break;
            }
        }
    }
    let elapsed = started.elapsed();

    // A grandchild may still hold a pipe open after a kill: wait a little, then give up on it.
    let grace = Duration::from_secs(2);
    Finished {
        status,
        stdout: stdout.recv_timeout(grace).unwrap_or_default(),
        stderr: stderr.recv_timeout(grace).unwrap_or_default(),
        elapsed,
        failure,
    }
}

/// Reads a pipe to its end on a thread of its own, so that a chatty child never blocks on it.
fn drain(pipe: Option<Box<dyn Read + Send>>) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = sender.send(bytes);
    });
    receiver
}

#[test]
fn a_command_past_its_deadline_is_killed() {
    let ran = run(Command::new("sleep").arg("30"), Duration::from_millis(300));

    assert!(
        ran.status.is_none(),
        "sleep 30 should not have exited by itself"
    );
    assert!(ran.ending().starts_with("timed out"), "{}", ran.ending());
    assert!(
        ran.elapsed < Duration::from_secs(5),
        "killed only after {:?}",
        ran.elapsed
    );
}

#[test]
fn a_program_still_open_for_writing_is_started_once_it_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("true-copy");
    std::fs::copy("/bin/true", &program).unwrap();
    // A write handle, as a forked child holds one between its fork and its exec.
    let writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&program)
        .unwrap();
    let busy = Command::new(&program).spawn().map(|_| ()).unwrap_err();
    assert_eq!(busy.raw_os_error(), Some(26), "{busy}");
    let closer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        drop(writer);
    });

    let status = spawn(&mut Command::new(&program)).unwrap().wait().unwrap();

    closer.join().unwrap();
    assert!(status.success());
}

/// Runs `openssl` with `args` in `dir`, for the test PKIs, and asserts that it succeeded.
pub fn openssl(dir: &Path, args: &[&str]) {
    let ran = run(
        Command::new("openssl").args(args).current_dir(dir),
        Duration::from_secs(60),
    );
    assert_eq!(
        ran.code(),
        Some(0),
        "openssl {args:?}: {}",
        ran.stderr_text()
    );
}

/// Spawns `command`, whose program may be a copy that this test process just wrote (the
/// Functions host tests lay the binary out as a deployed app). While another test thread
/// forks, the child holds every open file of the process until it execs, the copy's write
/// handle included, and an exec of the copy in that window fails with "Text file busy"
/// (ETXTBSY). The window is short, so the spawn is tried again for up to two seconds.
pub fn spawn(command: &mut Command) -> std::io::Result<Child> {
    const ETXTBSY: i32 = 26;
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match command.spawn() {
            Err(err) if err.raw_os_error() == Some(ETXTBSY) && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20));
            }
            spawned => return spawned,
        }
    }
}
