//! Just enough HTTP/1.1 framing for the relay to see where a request or a response ends,
//! so that it can drop, hold, repeat or reorder whole messages. The bytes pass unchanged.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// The largest head accepted; kiosk requests carry a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;
/// The largest body accepted; the server refuses batches far smaller.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// A whole HTTP message as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The start line and headers, through the empty line.
    pub head: Vec<u8>,
    /// The body as framed on the wire (chunked bodies keep their chunking).
    pub body: Vec<u8>,
}

impl Message {
    /// The bytes to write.
    pub fn bytes(&self) -> Vec<u8> {
        [self.head.as_slice(), self.body.as_slice()].concat()
    }

    /// The start line, such as `POST /api/kiosk/…/batches HTTP/1.1`.
    pub fn start_line(&self) -> String {
        let text = String::from_utf8_lossy(&self.head);
        text.lines().next().unwrap_or_default().to_owned()
    }

    fn header(&self, name: &str) -> Option<String> {
        String::from_utf8_lossy(&self.head).lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads one message; `None` when the peer closed before its first byte. A response
/// without a length runs to the end of the connection.
pub async fn read<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    response: bool,
) -> io::Result<Option<Message>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        if reader.read_until(b'\n', &mut head).await? == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(invalid("connection closed inside a message head"));
        }
        if head.len() > MAX_HEAD {
            return Err(invalid("message head too large"));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let mut message = Message { head, body: Vec::new() };

    let chunked = message.header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length = message.header("content-length").map(|v| v.parse::<usize>());
    if chunked {
        read_chunked(reader, &mut message.body).await?;
    } else if let Some(length) = length {
        let length = length.map_err(|_| invalid("bad content-length"))?;
        if length > MAX_BODY {
            return Err(invalid("body too large"));
        }
        message.body.resize(length, 0);
        reader.read_exact(&mut message.body).await?;
    } else if response && !bodiless(&message.start_line()) {
        reader.take(MAX_BODY as u64).read_to_end(&mut message.body).await?;
    }
    Ok(Some(message))
}

/// Whether a response with this status line never has a body.
fn bodiless(status_line: &str) -> bool {
    let code = status_line.split(' ').nth(1).unwrap_or_default();
    code.starts_with('1') || code == "204" || code == "304"
}

async fn read_chunked<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    body: &mut Vec<u8>,
) -> io::Result<()> {
    loop {
        let start = body.len();
        if reader.read_until(b'\n', body).await? == 0 {
            return Err(invalid("connection closed inside a chunked body"));
        }
        let line = String::from_utf8_lossy(&body[start..]).to_string();
        let size_text = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if body.len() + size > MAX_BODY {
            return Err(invalid("body too large"));
        }
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let at = body.len();
                if reader.read_until(b'\n', body).await? == 0 || body[at..].trim_ascii().is_empty()
                {
                    return Ok(());
                }
            }
        }
        let at = body.len();
        body.resize(at + size + 2, 0);
        reader.read_exact(&mut body[at..]).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8], response: bool) -> io::Result<Option<Message>> {
        read(&mut BufReader::new(bytes), response).await
    }

    #[tokio::test]
    async fn messages_end_where_their_framing_says() {
        let two = b"POST /a HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET /b HTTP/1.1\r\n\r\n";
        let mut reader = BufReader::new(&two[..]);
        let first = read(&mut reader, false).await.unwrap().unwrap();
        assert_eq!(first.start_line(), "POST /a HTTP/1.1");
        assert_eq!(first.body, b"abc");
        let second = read(&mut reader, false).await.unwrap().unwrap();
        assert_eq!(second.start_line(), "GET /b HTTP/1.1");
        assert!(second.body.is_empty());
        assert_eq!(read(&mut reader, false).await.unwrap(), None);
        assert_eq!([first.bytes(), second.bytes()].concat(), two);
    }

    #[tokio::test]
    async fn chunked_and_unframed_responses_are_read_whole() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let message = parse(chunked, true).await.unwrap().unwrap();
        assert_eq!(message.bytes(), chunked);
        let unframed = parse(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", true).await.unwrap();
        assert_eq!(unframed.unwrap().body, b"until the end");
        let empty = parse(b"HTTP/1.1 204 No Content\r\n\r\n", true).await.unwrap();
        assert!(empty.unwrap().body.is_empty());
        assert!(parse(b"POST / HTTP/1.1\r\ncontent-length: 9\r\n\r\nabc", false).await.is_err());
    }
}
