//! What keeps a one-time secret through Ctrl-C, SIGTERM, SIGHUP and SIGQUIT, and a file-size
//! limit: once a create may have been sent, the first signal waits for its result to be
//! written; SIGXFSZ is ignored, so a write past the limit fails instead of killing the tool.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Set once a request that returns a one-time secret may have been sent: from then on the
/// first Ctrl-C or SIGTERM waits for its result to be written.
pub static SECRET_IN_FLIGHT: AtomicBool = AtomicBool::new(false);

/// The exit code of a signal that arrived while a one-time secret was in flight (0: none).
pub static INTERRUPTED: AtomicU8 = AtomicU8::new(0);

/// Ends when the command must stop: at the first Ctrl-C (exit code 130) or SIGTERM (143), or,
/// once a one-time secret may be in flight, at the second. The first then only says that the
/// command finishes writing what the create returned.
pub async fn interrupted() -> u8 {
    // Streams made once: a signal between two `ctrl_c()` futures would be missed. A closed
    // terminal (SIGHUP) or SIGQUIT would kill the process as surely as SIGTERM.
    #[cfg(unix)]
    let mut streams = {
        use tokio::signal::unix::{signal, SignalKind};
        [
            (signal(SignalKind::interrupt()).ok(), 130),
            (signal(SignalKind::terminate()).ok(), 143),
            (signal(SignalKind::hangup()).ok(), 129),
            (signal(SignalKind::quit()).ok(), 131),
        ]
    };
    loop {
        #[cfg(unix)]
        let code = {
            let [int, term, hup, quit] = &mut streams;
            tokio::select! {
                Some(()) = async { int.0.as_mut()?.recv().await } => int.1,
                Some(()) = async { term.0.as_mut()?.recv().await } => term.1,
                Some(()) = async { hup.0.as_mut()?.recv().await } => hup.1,
                Some(()) = async { quit.0.as_mut()?.recv().await } => quit.1,
            // No signal handling to be had: nothing interrupts the command but the default.
            else => std::future::pending::<u8>().await,
            }
        };
        #[cfg(not(unix))]
        let code = {
            let _ = tokio::signal::ctrl_c().await;
            130
        };
        if !SECRET_IN_FLIGHT.load(Ordering::SeqCst) {
            return code;
        }
        if INTERRUPTED.swap(code, Ordering::SeqCst) != 0 {
            eprintln!(
                "error: interrupted again: the create was abandoned; it may have taken effect, \
                 and the one-time secret it returned is lost (list the apps to check)"
            );
            return code;
        }
        eprintln!(
            "interrupted: finishing the create first, so that its one-time secret is not lost \
             (interrupt again to abandon it)"
        );
    }
}

/// A write past a file-size limit (`ulimit -f`) kills the process with SIGXFSZ by default,
/// after the create and before its secret is stored; ignored, the write fails with an error
/// and the secret goes to stderr instead.
pub fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: setting a standard signal's disposition to "ignore" before any other thread runs.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
