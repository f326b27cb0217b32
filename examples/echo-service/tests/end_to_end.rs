//! The echo service, unchanged, on each adapter: a real client connects
//! over TCP and is served (an echo, and a digest computed on the blocking
//! pool); then the governor shuts down: the client is told goodbye, its
//! connection's task has ended before `shutdown` returns, and the report
//! is clean.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use echo_service::{digest, Echo};
use governor_core::{Governor, Outcome};

/// A real client, on a thread of its own (blocking std sockets): sends two
/// lines, checks the replies, tells `served`, then reads until the
/// server's end and returns what came after the replies; it closes its
/// socket as it returns.
fn client(
    addr: SocketAddr,
    served: futures_channel::oneshot::Sender<()>,
) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        // A deadline, so that a hang fails the test instead of the CI job.
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        stream.write_all(b"hello\n").unwrap();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "hello\n");
        line.clear();
        stream.write_all(b"hash governor\n").unwrap();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, format!("{:016x}\n", digest("governor")));
        served.send(()).unwrap();
        let mut rest = String::new();
        while reader.read_line(&mut rest).unwrap() > 0 {}
        rest
    })
}

async fn serve_one_client(gov: Governor) {
    let echo = Echo::bind("127.0.0.1:0").unwrap();
    let addr = echo.local_addr().unwrap();
    let stats = echo.stats();
    gov.add_service("echo", echo).unwrap();
    gov.start().unwrap();
    let (served, is_served) = futures_channel::oneshot::channel();
    let client = client(addr, served);
    is_served.await.unwrap();
    assert_eq!(stats.open(), 1, "its connection's task is running");
    let report = gov.shutdown().await;
    // The connection's task has ended (its guard dropped) before
    // `shutdown` returned.
    assert_eq!(stats.open(), 0);
    assert_eq!((stats.accepted(), stats.lines()), (1, 2));
    assert_eq!(client.join().unwrap(), "bye: shutting down\n");
    let echo = report.service("echo").unwrap();
    assert_eq!(echo.last_outcome, Some(Outcome::Completed));
    assert!(echo.aborted_tasks.is_empty());
    assert!(!echo.timed_out);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn on_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        serve_one_client(
            governor_tokio::new()
                .unwrap()
                .shutdown_timeout(Duration::from_secs(10)),
        )
        .await
    });
}

#[test]
fn on_smol() {
    futures_lite::future::block_on(serve_one_client(
        governor_smol::new().shutdown_timeout(Duration::from_secs(10)),
    ));
}

#[test]
fn on_async_std() {
    futures_lite::future::block_on(serve_one_client(
        governor_std::new().shutdown_timeout(Duration::from_secs(10)),
    ));
}
