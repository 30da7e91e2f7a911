//! The relay between the kiosk and the server, on loopback: it passes HTTP messages whole
//! and, when armed, does one thing wrong with the next request whose start line names
//! the filtered route (the kiosk's batch uploads). It can also cut the network.
//!
//! It relays plain HTTP: the server serves plain HTTP on loopback and the kiosk accepts
//! `http://` for a local test. Through TLS a byte relay sees only records: it could drop
//! or delay bytes, but a duplicated or reordered request would be refused by TLS itself
//! (sequence numbers and keys are per connection), so the server's answer to a replayed
//! batch would never be exercised. Terminating TLS in the relay would work too, at the
//! price of a certificate chain the kiosk trusts for the relay; plain HTTP tests the same
//! exactly-once logic with less machinery. TLS itself is the demo's to exercise.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::http::{self, Message};

/// What the relay does wrong with the next matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Swallows the request and closes the kiosk's connection.
    DropRequest,
    /// Forwards the request, swallows the answer, closes the kiosk's connection.
    DropResponse,
    /// Waits before forwarding and again before answering.
    Delay {
        /// Before forwarding.
        request: Duration,
        /// Before answering.
        response: Duration,
    },
    /// Forwards the request twice and answers with one of the two answers.
    Duplicate {
        /// Whether the kiosk gets the second answer.
        answer_second: bool,
    },
    /// Closes the kiosk's connection and keeps the request; delivers it (answer
    /// discarded) after a later matching request with another body was answered.
    Reorder,
    /// Holds the request and reports [`Report::Held`]; forwards it (answer discarded) or
    /// drops it as the holder decides, then closes the kiosk's connection.
    Hold,
    /// Forwards the request and reports [`Report::Forwarded`] before reading the answer.
    SignalForwarded,
}

/// What the relay tells whoever armed it.
#[derive(Debug)]
pub enum Report {
    /// A request is held: send `true` to forward it, `false` to drop it.
    Held(oneshot::Sender<bool>),
    /// The request was written to the server; its answer is not read yet.
    Forwarded,
    /// The fault is complete; `reached_server` says whether the server answered.
    Done {
        /// Whether a copy of the request reached the server and was answered.
        reached_server: bool,
    },
}

type Armed = (Fault, mpsc::UnboundedSender<Report>);

struct Shared {
    target: SocketAddr,
    filter: String,
    open: AtomicBool,
    cuts: watch::Sender<u64>,
    armed: Mutex<Option<Armed>>,
    stale: Mutex<Option<(Message, mpsc::UnboundedSender<Report>)>>,
}

/// A relay listening on loopback.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Relay {
    /// Relays from a free loopback port to `target`; faults apply to requests whose start
    /// line contains `filter`.
    pub async fn start(target: SocketAddr, filter: &str) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            filter: filter.to_owned(),
            open: AtomicBool::new(true),
            cuts: watch::channel(0).0,
            armed: Mutex::new(None),
            stale: Mutex::new(None),
        });
        let accepting = shared.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if !accepting.open.load(Ordering::SeqCst) {
                    continue; // the network is down: the connection dies at once
                }
                let shared = accepting.clone();
                let mut cuts = shared.cuts.subscribe();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = relay(&shared, inbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Ok(Self { addr, shared })
    }

    /// Where the kiosk connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Arms `fault` for the next matching request; reports come on the returned channel.
    pub fn arm(&self, fault: Fault) -> mpsc::UnboundedReceiver<Report> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.shared.armed) = Some((fault, tx));
        rx
    }

    /// Takes back a fault that has not fired.
    pub fn disarm(&self) {
        lock(&self.shared.armed).take();
    }

    /// Cuts the network: open connections die, new ones are dropped.
    pub fn cut(&self) {
        self.shared.open.store(false, Ordering::SeqCst);
        self.shared.cuts.send_modify(|n| *n += 1);
    }

    /// Restores the network.
    pub fn restore(&self) {
        self.shared.open.store(true, Ordering::SeqCst);
    }

    /// Delivers a request held back by [`Fault::Reorder`] now, if one is.
    pub async fn deliver_stale(&self) {
        let stale = lock(&self.shared.stale).take();
        if let Some((message, report)) = stale {
            let reached_server = exchange(self.shared.target, &message).await.is_ok();
            let _ = report.send(Report::Done { reached_server });
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking relay task leaves plain data behind; it is still usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends one request on a connection of its own and reads the answer.
async fn exchange(target: SocketAddr, request: &Message) -> io::Result<Message> {
    let mut upstream = TcpStream::connect(target).await?;
    upstream.write_all(&request.bytes()).await?;
    let mut reader = BufReader::new(upstream);
    http::read(&mut reader, true).await?.ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
}

/// Relays one kiosk connection until it closes or a fault closes it. Returning closes it.
async fn relay(shared: &Shared, inbound: TcpStream) -> io::Result<()> {
    let (reader, mut writer) = inbound.into_split();
    let mut reader = BufReader::new(reader);
    while let Some(request) = http::read(&mut reader, false).await? {
        if !shared.open.load(Ordering::SeqCst) {
            return Ok(());
        }
        let matches = request.start_line().contains(&shared.filter);
        let armed = if matches { lock(&shared.armed).take() } else { None };
        let Some((fault, report)) = armed else {
            let answer = exchange(shared.target, &request).await?;
            writer.write_all(&answer.bytes()).await?;
            if matches {
                deliver_stale_after(shared, &request).await;
            }
            continue;
        };

        let done = |reached_server| {
            let _ = report.send(Report::Done { reached_server });
        };
        match fault {
            Fault::DropRequest => {
                done(false);
                return Ok(());
            }
            Fault::DropResponse => {
                done(exchange(shared.target, &request).await.is_ok());
                return Ok(());
            }
            Fault::Delay { request: before, response: after } => {
                tokio::time::sleep(before).await;
                let answer = exchange(shared.target, &request).await;
                done(answer.is_ok());
                tokio::time::sleep(after).await;
                writer.write_all(&answer?.bytes()).await?;
            }
            Fault::Duplicate { answer_second } => {
                let first = exchange(shared.target, &request).await;
                let second = exchange(shared.target, &request).await;
                done(first.is_ok() && second.is_ok());
                let answer = if answer_second { second? } else { first? };
                writer.write_all(&answer.bytes()).await?;
            }
            Fault::Reorder => {
                *lock(&shared.stale) = Some((request, report));
                return Ok(());
            }
            Fault::Hold => {
                let (release, released) = oneshot::channel();
                let _ = report.send(Report::Held(release));
                let reached = match released.await {
                    Ok(true) => exchange(shared.target, &request).await.is_ok(),
                    _ => false,
                };
                done(reached);
                return Ok(());
            }
            Fault::SignalForwarded => {
                let mut upstream = TcpStream::connect(shared.target).await?;
                upstream.write_all(&request.bytes()).await?;
                let _ = report.send(Report::Forwarded);
                let answer = http::read(&mut BufReader::new(upstream), true).await;
                done(matches!(answer, Ok(Some(_))));
                match answer {
                    Ok(Some(answer)) => writer.write_all(&answer.bytes()).await?,
                    _ => return Ok(()),
                }
            }
        }
    }
    Ok(())
}

/// Delivers a request held back by [`Fault::Reorder`] once a matching request with
/// another body has passed it.
async fn deliver_stale_after(shared: &Shared, passed: &Message) {
    let stale = {
        let mut stale = lock(&shared.stale);
        if stale.as_ref().is_some_and(|(held, _)| held.body != passed.body) {
            stale.take()
        } else {
            None
        }
    };
    if let Some((message, report)) = stale {
        let reached_server = exchange(shared.target, &message).await.is_ok();
        let _ = report.send(Report::Done { reached_server });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A loopback HTTP server that answers each request with its body and keeps the
    /// bodies it saw, in order.
    async fn echo() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let (reader, mut writer) = stream.into_split();
                    let mut reader = BufReader::new(reader);
                    while let Ok(Some(request)) = http::read(&mut reader, false).await {
                        lock(&log).push(String::from_utf8_lossy(&request.body).into_owned());
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                            request.body.len()
                        );
                        let answer = [head.as_bytes(), &request.body].concat();
                        if writer.write_all(&answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    /// Sends one request through the relay; the answer's body, or `None` when the
    /// connection closed without one.
    async fn ask(relay: &Relay, path: &str, body: &str) -> Option<String> {
        let mut stream = TcpStream::connect(relay.addr()).await.ok()?;
        let head = format!("POST {path} HTTP/1.1\r\ncontent-length: {}\r\n\r\n", body.len());
        stream.write_all(format!("{head}{body}").as_bytes()).await.ok()?;
        let answer = http::read(&mut BufReader::new(stream), true).await.ok()??;
        Some(String::from_utf8_lossy(&answer.body).into_owned())
    }

    async fn setup() -> (Relay, Arc<Mutex<Vec<String>>>) {
        let (target, seen) = echo().await;
        (Relay::start(target, "/batches").await.unwrap(), seen)
    }

    fn seen(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
        lock(log).clone()
    }

    async fn done(reports: &mut mpsc::UnboundedReceiver<Report>) -> bool {
        match reports.recv().await {
            Some(Report::Done { reached_server }) => reached_server,
            other => panic!("expected done, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn unarmed_it_passes_requests_and_other_routes_pass_while_armed() {
        let (relay, log) = setup().await;
        assert_eq!(ask(&relay, "/k/batches", "a").await.as_deref(), Some("a"));
        let _reports = relay.arm(Fault::DropRequest);
        assert_eq!(ask(&relay, "/k/heartbeat", "h").await.as_deref(), Some("h"));
        assert_eq!(seen(&log), ["a", "h"]);
    }

    #[tokio::test]
    async fn a_dropped_request_never_reaches_the_server() {
        let (relay, log) = setup().await;
        let mut reports = relay.arm(Fault::DropRequest);
        assert_eq!(ask(&relay, "/k/batches", "a").await, None);
        assert!(!done(&mut reports).await);
        assert!(seen(&log).is_empty());
        assert_eq!(ask(&relay, "/k/batches", "b").await.as_deref(), Some("b"), "fires once");
    }

    #[tokio::test]
    async fn a_dropped_response_follows_a_processed_request() {
        let (relay, log) = setup().await;
        let mut reports = relay.arm(Fault::DropResponse);
        assert_eq!(ask(&relay, "/k/batches", "a").await, None);
        assert!(done(&mut reports).await);
        assert_eq!(seen(&log), ["a"]);
    }

    #[tokio::test]
    async fn a_delayed_request_arrives_late_but_whole() {
        let (relay, log) = setup().await;
        let delay = Fault::Delay {
            request: Duration::from_millis(150),
            response: Duration::from_millis(100),
        };
        let mut reports = relay.arm(delay);
        let started = Instant::now();
        assert_eq!(ask(&relay, "/k/batches", "a").await.as_deref(), Some("a"));
        assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
        assert!(done(&mut reports).await);
        assert_eq!(seen(&log), ["a"]);
    }

    #[tokio::test]
    async fn a_duplicated_request_reaches_the_server_twice_and_is_answered_once() {
        let (relay, log) = setup().await;
        let mut reports = relay.arm(Fault::Duplicate { answer_second: true });
        assert_eq!(ask(&relay, "/k/batches", "a").await.as_deref(), Some("a"));
        assert!(done(&mut reports).await);
        assert_eq!(seen(&log), ["a", "a"]);
    }

    #[tokio::test]
    async fn a_reordered_request_arrives_after_a_later_one() {
        let (relay, log) = setup().await;
        let mut reports = relay.arm(Fault::Reorder);
        assert_eq!(ask(&relay, "/k/batches", "first").await, None);
        // The same bytes again (a retry) do not release it; other bytes do.
        assert_eq!(ask(&relay, "/k/batches", "first").await.as_deref(), Some("first"));
        assert_eq!(ask(&relay, "/k/batches", "second").await.as_deref(), Some("second"));
        assert!(done(&mut reports).await);
        assert_eq!(seen(&log), ["first", "second", "first"]);
    }

    #[tokio::test]
    async fn a_held_request_is_forwarded_or_dropped_as_released() {
        let (relay, log) = setup().await;
        for (forward, expected) in [(false, 0), (true, 1)] {
            let mut reports = relay.arm(Fault::Hold);
            let asking = ask(&relay, "/k/batches", "held");
            let holding = async {
                let Some(Report::Held(release)) = reports.recv().await else { panic!("not held") };
                assert!(seen(&log).is_empty(), "held, not forwarded");
                release.send(forward).unwrap();
            };
            let (answer, ()) = tokio::join!(asking, holding);
            assert_eq!(answer, None);
            assert_eq!(done(&mut reports).await, forward);
            assert_eq!(seen(&log).len(), expected);
        }
    }

    #[tokio::test]
    async fn a_forwarded_request_is_signalled_before_its_answer() {
        let (relay, log) = setup().await;
        let mut reports = relay.arm(Fault::SignalForwarded);
        assert_eq!(ask(&relay, "/k/batches", "a").await.as_deref(), Some("a"));
        assert!(matches!(reports.recv().await, Some(Report::Forwarded)));
        assert!(done(&mut reports).await);
        assert_eq!(seen(&log), ["a"]);
    }

    #[tokio::test]
    async fn a_cut_network_refuses_everything_until_restored() {
        let (relay, log) = setup().await;
        relay.cut();
        assert_eq!(ask(&relay, "/k/batches", "a").await, None);
        assert_eq!(ask(&relay, "/k/heartbeat", "b").await, None);
        assert!(seen(&log).is_empty());
        relay.restore();
        assert_eq!(ask(&relay, "/k/batches", "c").await.as_deref(), Some("c"));
        assert_eq!(seen(&log), ["c"]);
    }
}
