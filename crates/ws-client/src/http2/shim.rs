//! TEMPORARY: the RFC 8441 request and response of ws-handshake (`build_h2`, `H2Request`,
//! `Response::from_h2`) are being written on another branch; this stands in for them,
//! through the HTTP/1.1 request and checks, until it is merged. Delete after the merge.

use ws_handshake::{
    accept_key, Accepted, ClientRequest, HandshakeError, Limits, RequestBuilder, Response,
    ResponseParser, Target,
};

/// Headers of the HTTP/1.1 upgrade that HTTP/2 does not carry.
const HTTP1_ONLY: [&str; 4] = ["host", "upgrade", "connection", "sec-websocket-key"];

/// The extended CONNECT of RFC 8441 for a request.
pub(crate) struct H2Request {
    request: ClientRequest,
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
}

pub(crate) fn build_h2(builder: RequestBuilder) -> Result<H2Request, HandshakeError> {
    let request = builder.build()?;
    let head = String::from_utf8_lossy(request.as_bytes()).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let mut authority = String::new();
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        if name == "host" {
            authority = value;
        } else if !HTTP1_ONLY.contains(&name.as_str()) {
            headers.push((name, value));
        }
    }
    Ok(H2Request {
        request,
        authority,
        path,
        headers,
    })
}

impl H2Request {
    pub(crate) fn scheme(&self) -> &str {
        if self.request.target().secure {
            "https"
        } else {
            "http"
        }
    }

    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn protocol(&self) -> &str {
        "websocket"
    }

    pub(crate) fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    #[allow(dead_code)]
    pub(crate) fn target(&self) -> &Target {
        self.request.target()
    }

    /// The HTTP/1.1 checks, on the answer dressed as a `101`.
    pub(crate) fn check(&self, response: &Response) -> Result<Accepted, HandshakeError> {
        if !(200..300).contains(&response.status()) {
            return self.request.check(response);
        }
        let mut head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
             sec-websocket-accept: {}\r\n",
            accept_key(self.request.key().as_bytes())
        );
        for (name, value) in response.headers() {
            if !matches!(name, "upgrade" | "connection" | "sec-websocket-accept") {
                head.push_str(&format!("{name}: {}\r\n", String::from_utf8_lossy(value)));
            }
        }
        head.push_str("\r\n");
        let dressed = ResponseParser::new(Limits::default())
            .feed(head.as_bytes())?
            .ok_or_else(|| HandshakeError::MalformedHead {
                reason: "incomplete".into(),
            })?;
        self.request.check(&dressed)
    }
}

pub(crate) fn response_from_h2(
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: &[u8],
) -> Result<Response, HandshakeError> {
    let mut head = format!("HTTP/1.1 {status} \r\n").into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(&value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(body);
    ResponseParser::new(Limits::default())
        .feed(&head)?
        .ok_or_else(|| HandshakeError::MalformedHead {
            reason: "incomplete".into(),
        })
}
