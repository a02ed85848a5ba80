//! Stopping `pdf-seal seal` on SIGINT (Ctrl-C) or SIGTERM without leaving its temporary
//! output behind.
//!
//! The temporary file beside the destination is a full copy of the document. When one of
//! these signals arrives, a thread started by [`remove_partial_output_on_signals`] deletes it
//! and ends the process with 128 plus the signal's number, as shells report a command stopped
//! by a signal: 130 for SIGINT, 143 for SIGTERM.
//!
//! SIGKILL cannot be caught, and a power cut or the out-of-memory killer give no warning: the
//! process then ends at once and its `.pdf-seal-*.partial` file stays beside the destination.
//! Such a file is never the output (the destination is replaced only by a complete file) and
//! may be deleted.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};

/// The temporary output that a stop removes, while there is one.
#[derive(Clone, Debug, Default)]
pub struct PartialOutput(Arc<Mutex<Option<PathBuf>>>);

impl PartialOutput {
    /// Records `path` as the temporary output, until the returned guard settles or is dropped.
    pub fn track(&self, path: &Path) -> Tracked {
        *self.lock() = Some(path.to_path_buf());
        Tracked(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Option<PathBuf>> {
        // A panic elsewhere does not make the path wrong.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A temporary output that a stop would remove.
#[derive(Debug)]
pub struct Tracked(PartialOutput);

impl Tracked {
    /// Runs `rename`, which turns the temporary file into the output, with stops held off,
    /// and forgets the file: a stop during the rename then finds either the complete output
    /// in place or the temporary file still to remove, never a half of each.
    pub fn settle<T>(self, rename: impl FnOnce() -> T) -> T {
        let mut slot = self.0.lock();
        let outcome = rename();
        *slot = None;
        outcome
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        *self.0.lock() = None;
    }
}

/// A signal that asks the command to stop.
#[derive(Clone, Copy, Debug)]
enum Stop {
    Interrupt,
    Terminate,
}

impl Stop {
    fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    /// 128 plus the signal's number.
    fn exit_code(self) -> i32 {
        match self {
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }
}

/// Handles SIGINT and SIGTERM from now on: on either, the file `partial` tracks is removed
/// and the process exits with 130 or 143. The handlers are in place when this returns, so a
/// temporary file made after it is never left behind by these signals.
pub fn remove_partial_output_on_signals(partial: PartialOutput) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("starting the signal handler")?;
    let (mut interrupt, mut terminate) = {
        let _inside = runtime.enter();
        let interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
        let terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
        (interrupt, terminate)
    };

    let waiting = move || {
        let stop = runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => Stop::Interrupt,
                _ = terminate.recv() => Stop::Terminate,
            }
        });
        stop_now(stop, &partial)
    };
    thread::Builder::new()
        .name("pdf-seal-signals".to_owned())
        .spawn(waiting)
        .context("starting the signal handler")?;
    Ok(())
}

/// Removes the temporary output and ends the process. The lock is held until the end, so that
/// the command cannot rename the file in the meantime.
fn stop_now(stop: Stop, partial: &PartialOutput) -> ! {
    let slot = partial.lock();
    let removed = slot
        .as_deref()
        .is_some_and(|path| fs::remove_file(path).is_ok());

    match removed {
        true => eprintln!(
            "pdf-seal: stopped by {}; the partial output was removed",
            stop.name()
        ),
        false => eprintln!("pdf-seal: stopped by {}", stop.name()),
    }
    std::process::exit(stop.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracked_file_is_forgotten_once_settled_or_dropped() {
        let partial = PartialOutput::default();

        let settled = partial.track(Path::new("a.partial")).settle(|| 7);
        let tracked_then = partial.lock().clone();
        drop(partial.track(Path::new("b.partial")));

        assert_eq!(settled, 7);
        assert_eq!(tracked_then, None);
        assert_eq!(*partial.lock(), None);
    }

    #[test]
    fn the_file_is_tracked_until_then() {
        let partial = PartialOutput::default();

        let tracked = partial.track(Path::new("a.partial"));

        assert_eq!(partial.lock().as_deref(), Some(Path::new("a.partial")));
        drop(tracked);
    }
}
