//! SOCKS5 (RFC 1928) with user name/password authentication (RFC 1929), client side,
//! without I/O.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Credentials, Progress, ProxyError, ProxyScheme, Socks5Reply, TargetAddr};
use crate::redact::shorten;

const VERSION: u8 = 0x05;
const AUTH_VERSION: u8 = 0x01;
const METHOD_NONE: u8 = 0x00;
const METHOD_USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xFF;
const CMD_CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;
/// Longest reply: VER REP RSV ATYP, a length byte and 255 bytes of name, 2 bytes of port.
const MAX_REPLY: usize = 4 + 1 + 255 + 2;

/// Opens a tunnel through a SOCKS5 proxy: method negotiation, optional user name/password
/// authentication, then `CONNECT`.
///
/// The bytes, in order (`|` separates messages; the next is sent only after the answer):
///
/// ```text
/// greeting   05 01 00                 (no credentials: offer "no authentication")
///            05 02 00 02              (credentials: offer "none" and user/password)
/// answer     05 MM                    (MM = 00: none, 02: user/password, FF: none acceptable)
/// auth       01 ULEN USER PLEN PASS   (only when MM = 02)
/// answer     01 ST                    (ST = 00: accepted; 05 in the version byte is accepted too)
/// connect    05 01 00 03 LEN NAME PORT(2)    (a name: resolved by the proxy)
///            05 01 00 01 A B C D PORT(2)     (IPv4)
///            05 01 00 04 16 bytes PORT(2)    (IPv6)
/// reply      05 REP 00 ATYP BND.ADDR BND.PORT(2)
/// ```
///
/// A non-zero `REP` fails at once with [`ProxyError::Socks5ConnectFailed`] (see
/// [`Socks5Reply`]), without waiting for the rest of the reply. The reply's bound address is
/// parsed by its type (4, 16, or length-byte-prefixed bytes), so at most 262 bytes are ever
/// held; anything after the reply is returned in [`Progress::Done`]. A reserved byte that is
/// not zero is tolerated.
///
/// `Debug` hides the password, and shows only the lengths of the bytes to send and
/// received (during authentication the bytes to send hold the user name and password).
#[derive(Clone)]
pub struct Socks5Handshake {
    target: TargetAddr,
    port: u16,
    credentials: Option<Credentials>,
    /// Whether the proxy resolves names (socks5h): only for naming the scheme in errors.
    remote_dns: bool,
    out: Vec<u8>,
    input: Vec<u8>,
    state: State,
    bound: Option<(TargetAddr, u16)>,
}

#[derive(Clone, Debug)]
enum State {
    /// Waiting for the method selection.
    Method,
    /// Waiting for the user/password answer.
    Auth,
    /// Waiting for the CONNECT reply.
    Connect,
    Done,
    Failed(ProxyError),
}

impl fmt::Debug for Socks5Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socks5Handshake")
            .field("target", &self.target)
            .field("port", &self.port)
            .field("credentials", &self.credentials)
            .field("remote_dns", &self.remote_dns)
            .field("out_len", &self.out.len())
            .field("input_len", &self.input.len())
            .field("state", &self.state)
            .field("bound", &self.bound)
            .finish()
    }
}

/// Enough bytes of `input` for the current message, or none yet.
enum Need {
    More,
    Failed(ProxyError),
}

impl Socks5Handshake {
    /// A handshake to `target:port`.
    ///
    /// `remote_dns` says whether names may be sent to the proxy (`socks5h://`). With
    /// `remote_dns == false` (`socks5://`) the caller must resolve the name first and pass
    /// a [`TargetAddr::Ip`]; a [`TargetAddr::Domain`] is refused with
    /// [`ProxyError::InvalidTarget`] (so a name never leaks to the proxy by
    /// mistake). IP addresses are sent as such either way.
    ///
    /// With `credentials`, both "no authentication" and user name/password are offered
    /// (the proxy chooses); without, only "no authentication".
    ///
    /// Errors: [`ProxyError::InvalidTarget`] for a name that is empty or longer
    /// than 255 bytes; [`ProxyError::InvalidCredentials`] for a user name or
    /// password longer than 255 bytes. Empty ones are sent with length 0.
    pub fn new(
        target: TargetAddr,
        port: u16,
        remote_dns: bool,
        credentials: Option<Credentials>,
    ) -> Result<Socks5Handshake, ProxyError> {
        if let TargetAddr::Domain(name) = &target {
            let invalid = |reason| ProxyError::InvalidTarget {
                host: shorten(name),
                reason,
            };
            if !remote_dns {
                return Err(invalid(
                    "a socks5:// proxy is given IP addresses: resolve the name first, or use \
                     socks5h:// to let the proxy resolve it",
                ));
            }
            if name.is_empty() {
                return Err(invalid("the host is empty"));
            }
            if name.len() > 255 {
                return Err(invalid("a SOCKS5 domain name is at most 255 bytes"));
            }
        }
        if let Some(c) = &credentials {
            if c.username().len() > 255 {
                return Err(ProxyError::InvalidCredentials {
                    reason: "a SOCKS5 user name is at most 255 bytes (RFC 1929)",
                });
            }
            if c.password().len() > 255 {
                return Err(ProxyError::InvalidCredentials {
                    reason: "a SOCKS5 password is at most 255 bytes (RFC 1929)",
                });
            }
        }
        let out = if credentials.is_some() {
            vec![VERSION, 2, METHOD_NONE, METHOD_USER_PASS]
        } else {
            vec![VERSION, 1, METHOD_NONE]
        };
        Ok(Socks5Handshake {
            target,
            port,
            credentials,
            remote_dns,
            out,
            input: Vec::new(),
            state: State::Method,
            bound: None,
        })
    }

    /// Bytes to write to the proxy now (empty while waiting for its answer).
    pub fn bytes_to_send(&self) -> &[u8] {
        &self.out
    }

    /// Marks the first `n` bytes of [`bytes_to_send`](Self::bytes_to_send) as written
    /// (clamped to what is there).
    pub fn consume_output(&mut self, n: usize) {
        let n = n.min(self.out.len());
        self.out.drain(..n);
    }

    /// Whether the tunnel is open.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The address and port the proxy reports it bound for the tunnel (`BND.ADDR`,
    /// `BND.PORT`), once done. Informational only; often `0.0.0.0:0`. A name that is not
    /// UTF-8 is decoded lossily.
    pub fn bound_address(&self) -> Option<(&TargetAddr, u16)> {
        self.bound.as_ref().map(|(a, p)| (a, *p))
    }

    /// Feeds bytes read from the proxy. Answers may arrive split anywhere; whatever
    /// completes a message is acted on at once (the next message appears in
    /// [`bytes_to_send`](Self::bytes_to_send)). Once done, further bytes are returned as
    /// they are in `Done { rest }`; once failed, the same error is returned again.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        match &self.state {
            State::Done => {
                return Ok(Progress::Done {
                    rest: data.to_vec(),
                })
            }
            State::Failed(e) => return Err(e.clone()),
            _ => {}
        }
        self.input.extend_from_slice(data);
        loop {
            let step = match self.state {
                State::Method => self.method_answer(),
                State::Auth => self.auth_answer(),
                State::Connect => self.connect_reply(),
                State::Done | State::Failed(_) => Err(Need::More),
            };
            match step {
                Ok(true) => {
                    // The tunnel is open: the rest belongs to the target.
                    self.state = State::Done;
                    return Ok(Progress::Done {
                        rest: std::mem::take(&mut self.input),
                    });
                }
                Ok(false) => continue,
                Err(Need::More) => return Ok(Progress::NeedMore),
                Err(Need::Failed(e)) => {
                    self.input = Vec::new();
                    self.out = Vec::new();
                    self.state = State::Failed(e.clone());
                    return Err(e);
                }
            }
        }
    }

    /// The error for a connection closed before the tunnel was open.
    pub fn closed_error(&self) -> ProxyError {
        ProxyError::Closed {
            scheme: self.scheme(),
            during: match self.state {
                State::Method => "during method negotiation (after our greeting)",
                State::Auth => "during user name/password authentication",
                State::Connect => "before answering CONNECT",
                State::Done | State::Failed(_) => "after the handshake ended",
            },
        }
    }

    fn scheme(&self) -> ProxyScheme {
        if self.remote_dns {
            ProxyScheme::Socks5h
        } else {
            ProxyScheme::Socks5
        }
    }

    fn protocol(&self, reason: String) -> Need {
        Need::Failed(ProxyError::Protocol {
            scheme: self.scheme(),
            reason,
        })
    }

    /// Checks the version byte of an answer as soon as it arrives.
    fn check_version(&self, expected: &[u8], what: &str) -> Result<(), Need> {
        let Some(&v) = self.input.first() else {
            return Err(Need::More);
        };
        if expected.contains(&v) {
            return Ok(());
        }
        let hint = if v == b'H' {
            "it looks like an HTTP answer: use an http:// proxy URL for an HTTP proxy"
        } else if v == 0x00 || v == 0x04 {
            "it may be a SOCKS4 proxy, which is not supported"
        } else {
            "the proxy does not speak SOCKS5"
        };
        Err(self.protocol(format!(
            "the {what} starts with version byte {v:#04x}, not {:#04x}; {hint}",
            expected.first().copied().unwrap_or_default()
        )))
    }

    /// The method selection (`05 MM`). Ok(false): moved on; never done here.
    fn method_answer(&mut self) -> Result<bool, Need> {
        self.check_version(&[VERSION], "method selection")?;
        let Some(&method) = self.input.get(1) else {
            return Err(Need::More);
        };
        self.input.drain(..2);
        match method {
            METHOD_NONE => {
                self.queue_connect();
                self.state = State::Connect;
            }
            METHOD_USER_PASS => {
                let Some(c) = &self.credentials else {
                    return Err(self.protocol(
                        "the proxy chose user name/password authentication (0x02), which we \
                         did not offer: put credentials in the proxy URL"
                            .to_owned(),
                    ));
                };
                let (user, pass) = (c.username().as_bytes(), c.password().as_bytes());
                // Lengths checked in `new`.
                self.out.push(AUTH_VERSION);
                self.out.push(user.len() as u8);
                self.out.extend_from_slice(user);
                self.out.push(pass.len() as u8);
                self.out.extend_from_slice(pass);
                self.state = State::Auth;
            }
            NO_ACCEPTABLE => {
                return Err(Need::Failed(ProxyError::Socks5NoAcceptableMethod {
                    credentials_offered: self.credentials.is_some(),
                }))
            }
            other => {
                return Err(self.protocol(format!(
                    "the proxy chose authentication method {other:#04x}, which we did not offer"
                )))
            }
        }
        Ok(false)
    }

    /// The user/password answer (`01 ST`).
    fn auth_answer(&mut self) -> Result<bool, Need> {
        // RFC 1929 says 0x01; some servers answer with the SOCKS version, 0x05.
        self.check_version(&[AUTH_VERSION, VERSION], "authentication answer")?;
        let Some(&status) = self.input.get(1) else {
            return Err(Need::More);
        };
        self.input.drain(..2);
        if status != 0 {
            return Err(Need::Failed(ProxyError::Socks5AuthFailed { status }));
        }
        self.queue_connect();
        self.state = State::Connect;
        Ok(false)
    }

    fn queue_connect(&mut self) {
        self.out.extend_from_slice(&[VERSION, CMD_CONNECT, 0x00]);
        match &self.target {
            TargetAddr::Ip(IpAddr::V4(a)) => {
                self.out.push(ATYP_IPV4);
                self.out.extend_from_slice(&a.octets());
            }
            TargetAddr::Ip(IpAddr::V6(a)) => {
                self.out.push(ATYP_IPV6);
                self.out.extend_from_slice(&a.octets());
            }
            TargetAddr::Domain(d) => {
                // Length checked in `new`.
                self.out.push(ATYP_DOMAIN);
                self.out.push(d.len() as u8);
                self.out.extend_from_slice(d.as_bytes());
            }
        }
        self.out.extend_from_slice(&self.port.to_be_bytes());
    }

    /// The CONNECT reply. Ok(true): complete and successful.
    fn connect_reply(&mut self) -> Result<bool, Need> {
        self.check_version(&[VERSION], "CONNECT reply")?;
        let Some(&rep) = self.input.get(1) else {
            return Err(Need::More);
        };
        if let Some(reply) = Socks5Reply::from_code(rep) {
            return Err(Need::Failed(ProxyError::Socks5ConnectFailed {
                target: self.target.authority(self.port),
                reply,
            }));
        }
        let Some(&atyp) = self.input.get(3) else {
            return Err(Need::More);
        };
        let addr_len = match atyp {
            ATYP_IPV4 => 4,
            ATYP_IPV6 => 16,
            ATYP_DOMAIN => match self.input.get(4) {
                Some(&n) => 1 + usize::from(n),
                None => return Err(Need::More),
            },
            other => {
                return Err(self.protocol(format!(
                    "the CONNECT reply has address type {other:#04x}; only 0x01 (IPv4), 0x03 \
                     (name) and 0x04 (IPv6) exist"
                )))
            }
        };
        let total = 4 + addr_len + 2;
        debug_assert!(total <= MAX_REPLY);
        let Some(reply) = self.input.get(..total) else {
            return Err(Need::More);
        };
        let addr = &reply[4..4 + addr_len];
        let bound = match atyp {
            ATYP_IPV4 => {
                let mut o = [0u8; 4];
                o.copy_from_slice(addr);
                TargetAddr::Ip(IpAddr::V4(Ipv4Addr::from(o)))
            }
            ATYP_IPV6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(addr);
                TargetAddr::Ip(IpAddr::V6(Ipv6Addr::from(o)))
            }
            _ => TargetAddr::Domain(String::from_utf8_lossy(&addr[1..]).into_owned()),
        };
        let port = u16::from_be_bytes([reply[total - 2], reply[total - 1]]);
        self.bound = Some((bound, port));
        self.input.drain(..total);
        Ok(true)
    }
}
