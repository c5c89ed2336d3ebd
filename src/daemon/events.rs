//! The events log of the live daemon: EVE JSON lines written off the packet path.
//!
//! Workers hand alerts to an [`EventHandle`], which queues a copy (at most
//! [`EVENT_QUEUE_CAPACITY`]) and never waits; a full queue drops the alert and counts it
//! (`tamperwatch_events_dropped_total`). One writer thread owns the file, opened in
//! append mode (`-` is stdout), encodes events as EVE lines into a batch, and writes
//! the batch whenever its queue runs empty (or the batch reaches
//! [`MAX_BATCH_BYTES`]), so an event reaches the file within milliseconds while a
//! burst costs one write per batch, not per event. [`EventWriter::reopen`] reopens the
//! file after log rotation; [`EventWriter::close`] writes everything queued.
//!
//! The file gets whole lines or nothing: when a write fails part-way (disk full), the
//! file is cut back to the end of the last whole line, every event not written whole
//! is counted as dropped, and the next batch tries again, so writing resumes by itself
//! when space comes back. Nothing here logs an alert's content.

use std::fs::File;

use crate::sink::store::address::AddressPolicy;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::DaemonError;
use lines::{Batch, Output};

mod lines;
use crate::detect::alert::Alert;
use crate::sink::metrics::Metrics;
use crate::sink::{AlertSink, SinkError};

/// Alerts waiting for the writer, at most.
pub const EVENT_QUEUE_CAPACITY: usize = 4096;
/// A batch is written once it holds this many bytes, even if more events wait.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

enum Message {
    Alert(Box<Alert>),
    Reopen,
}

/// Where events go: stdout, or a file opened for appending.
enum Destination {
    Stdout,
    File(String),
}

impl Destination {
    fn open(&self) -> std::io::Result<Output> {
        match self {
            Destination::Stdout => Ok(Output::Stdout(std::io::stdout())),
            Destination::File(path) => Ok(Output::File {
                file: append(path)?,
                torn: false,
            }),
        }
    }
}

fn append(path: &str) -> std::io::Result<File> {
    crate::sink::privacy::append_private(std::path::Path::new(path))
}

/// The writer thread and the queue into it.
pub struct EventWriter {
    tx: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<()>>,
    metrics: Arc<Metrics>,
}

/// A worker's end of the events queue.
pub struct EventHandle {
    tx: SyncSender<Message>,
    metrics: Arc<Metrics>,
}

impl EventWriter {
    /// Opens `path` (`-` for stdout) and starts the writer thread.
    pub fn open(
        path: &str,
        metrics: Arc<Metrics>,
        policy: AddressPolicy,
    ) -> Result<EventWriter, DaemonError> {
        let destination = if path == "-" {
            Destination::Stdout
        } else {
            Destination::File(path.to_owned())
        };
        let out = destination.open().map_err(|e| DaemonError::Events {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let (tx, rx) = sync_channel(EVENT_QUEUE_CAPACITY);
        let thread_metrics = Arc::clone(&metrics);
        let thread = std::thread::Builder::new()
            .name("tw-events".into())
            .spawn(move || write_events(rx, out, destination, &thread_metrics, policy))
            .map_err(|e| DaemonError::Thread {
                what: "events writer",
                reason: e.to_string(),
            })?;
        Ok(EventWriter {
            tx: Some(tx),
            thread: Some(thread),
            metrics,
        })
    }

    /// A handle for one worker.
    pub fn handle(&self) -> Option<EventHandle> {
        self.tx.as_ref().map(|tx| EventHandle {
            tx: tx.clone(),
            metrics: Arc::clone(&self.metrics),
        })
    }

    /// Reopens the file (after rotation); events stay in order.
    pub fn reopen(&self) {
        if let Some(tx) = &self.tx {
            if tx.try_send(Message::Reopen).is_err() {
                tracing::warn!("events: queue full, reopen skipped");
            }
        }
    }

    /// Writes what is queued, flushes and stops the thread. Workers' handles must be
    /// gone first, or this waits for them.
    pub fn close(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("events writer thread panicked");
            }
        }
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

impl AlertSink for EventHandle {
    fn record(&mut self, alert: &Alert) -> Result<(), SinkError> {
        match self.tx.try_send(Message::Alert(Box::new(alert.clone()))) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.metrics.add_events_dropped(1);
                Ok(())
            }
        }
    }

    /// The writer flushes on its own as soon as its queue is empty.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The writer thread: encode what arrives, write when nothing more is waiting.
fn write_events(
    rx: Receiver<Message>,
    out: Output,
    destination: Destination,
    metrics: &Metrics,
    policy: AddressPolicy,
) {
    let mut sink = LineSink {
        out,
        batch: Batch::default(),
        dropped_in_run: 0,
    };
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        // Bounded, so a steady stream of alerts still gets written.
        let mut budget = EVENT_QUEUE_CAPACITY;
        while let Some(message) = next.take() {
            match message {
                Message::Alert(alert) => {
                    if !sink.batch.push(&alert, &policy) {
                        metrics.add_events_dropped(1);
                    }
                    if sink.batch.bytes.len() >= MAX_BATCH_BYTES {
                        sink.write(metrics);
                    }
                }
                Message::Reopen => {
                    sink.write(metrics);
                    match destination.open() {
                        Ok(out) => sink.out = out,
                        Err(e) => {
                            tracing::warn!(error = %e, "events: reopen failed; still writing to the old file")
                        }
                    }
                }
            }
            budget -= 1;
            if budget > 0 {
                next = rx.try_recv().ok();
            }
        }
        sink.write(metrics);
    }
    sink.write(metrics);
}

/// The output and the batch on its way to it.
struct LineSink {
    out: Output,
    batch: Batch,
    /// Events dropped since writes started failing (0 while they succeed).
    dropped_in_run: u64,
}

impl LineSink {
    /// Writes the batch; counts every event not written whole as dropped and logs the
    /// first failure of a run and the recovery after it.
    fn write(&mut self, metrics: &Metrics) {
        if self.batch.ends.is_empty() {
            return;
        }
        let (whole, error) = self.out.write_lines(&self.batch);
        let dropped = (self.batch.ends.len() - whole) as u64;
        self.batch.clear();
        match error {
            None if self.dropped_in_run > 0 => {
                tracing::info!(
                    dropped = self.dropped_in_run,
                    "events: writing again after failed writes"
                );
                self.dropped_in_run = 0;
            }
            None => {}
            Some(e) => {
                metrics.add_events_dropped(dropped);
                if self.dropped_in_run == 0 {
                    tracing::error!(error = %e, "events: write failed; events are being lost");
                }
                self.dropped_in_run += dropped.max(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::detect::alert::{AlertRule, Category};
    use crate::sink::metrics::ContentGroups;
    use crate::time::Timestamp;

    fn alert(flow_id: u64) -> Alert {
        Alert {
            timestamp: Timestamp::from_secs_micros(1_795_341_600, 0),
            flow_id,
            src: "198.51.100.7:51234".parse().expect("addr"),
            dest: "203.0.113.10:80".parse().expect("addr"),
            rule: AlertRule {
                signature_id: 100501,
                rule: "recon.secret-file-read".into(),
                signature: "Secret file read".into(),
                category: Category::Recon,
                severity: 2,
            },
            http: None,
            upload: None,
            evidence: "/.env".into(),
            crs: None,
        }
    }

    fn metrics() -> Arc<Metrics> {
        Arc::new(Metrics::new(ContentGroups::default()).expect("metrics"))
    }

    fn lines(path: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn wait_for_lines(path: &std::path::Path, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = lines(path);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A writer on `path` that keeps addresses, with fresh metrics.
    fn open_writer(path: &std::path::Path) -> EventWriter {
        EventWriter::open(
            path.to_str().expect("utf-8"),
            metrics(),
            AddressPolicy::keep(),
        )
        .expect("open")
    }

    #[test]
    fn appends_to_an_existing_file_and_flushes_without_being_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"earlier\":1}\n").expect("seed");
        let writer = open_writer(&path);
        let mut handle = writer.handle().expect("handle");
        handle.record(&alert(7)).expect("record");
        let got = wait_for_lines(&path, 2);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], "{\"earlier\":1}");
        assert!(got[1].contains("\"flow_id\":7"), "{}", got[1]);
        drop(handle);
        writer.close();
    }

    #[test]
    fn reopen_follows_a_rotated_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let writer = open_writer(&path);
        let mut handle = writer.handle().expect("handle");
        handle.record(&alert(1)).expect("record");
        assert_eq!(wait_for_lines(&path, 1).len(), 1);
        let rotated = dir.path().join("events.jsonl.1");
        std::fs::rename(&path, &rotated).expect("rotate");
        writer.reopen();
        handle.record(&alert(2)).expect("record");
        let fresh = wait_for_lines(&path, 1);
        assert_eq!(fresh.len(), 1);
        assert!(fresh[0].contains("\"flow_id\":2"));
        assert_eq!(lines(&rotated).len(), 1);
        drop(handle);
        writer.close();
    }

    #[test]
    fn close_writes_everything_queued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let writer = open_writer(&path);
        let mut handle = writer.handle().expect("handle");
        for i in 0..1000 {
            handle.record(&alert(i)).expect("record");
        }
        drop(handle);
        writer.close();
        assert_eq!(lines(&path).len(), 1000);
    }

    #[test]
    fn an_unwritable_path_is_refused_naming_the_key() {
        let err = match EventWriter::open(
            "/nonexistent-dir/events.jsonl",
            metrics(),
            AddressPolicy::keep(),
        ) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("opened a file in a missing directory"),
        };
        assert!(
            err.starts_with("events.path /nonexistent-dir/events.jsonl: "),
            "{err}"
        );
    }
}
