//! A raw TCP server on loopback, for what a mock server cannot do: answers cut short, stalled or
//! trickled, connections closed unanswered or reset, bytes no HTTP library would write.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Accepts connections on loopback and hands each to `serve` with its index (0 for the first),
/// on a task of its own. The server's `http://` URL, and the count of connections accepted.
pub async fn raw_server<F, Fut>(serve: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let index = count.fetch_add(1, SeqCst);
            tokio::spawn(serve(socket, index));
        }
    });
    (url, connections)
}

/// Reads from `socket` until `buffer` holds a request head (requests here have no body, or one
/// nobody reads), and takes the head out of `buffer`; `None` once the peer closes or fails.
pub async fn read_head(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<String> {
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..end]).to_string();
    buffer.drain(..end);
    Some(head)
}
