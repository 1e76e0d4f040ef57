//! The TLS vocabulary every other part can name without the TLS machinery: which library
//! ([`TlsBackend`]) and how a handshake failed ([`TlsError`], [`TlsErrorKind`]).

use std::fmt;

/// Which TLS library a [`TlsConnector`](super::TlsConnector) uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsBackend {
    /// The platform's library through `native-tls` (OpenSSL on Linux, Secure Transport on
    /// macOS, SChannel on Windows).
    NativeTls,
    /// `rustls` (pure Rust; the `ring` crypto provider unless the config says otherwise).
    Rustls,
}

impl TlsBackend {
    /// The crate's name: `"native-tls"` or `"rustls"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::NativeTls => "native-tls",
            Self::Rustls => "rustls",
        }
    }

    /// The backend a default [`TlsConnector`](super::TlsConnector) uses in this build: rustls when its feature is
    /// on, otherwise native-tls, otherwise none (then `wss://` fails with an error saying
    /// which feature to enable).
    pub fn default_for_build() -> Option<TlsBackend> {
        if cfg!(feature = "rustls") {
            Some(Self::Rustls)
        } else if cfg!(feature = "native-tls") {
            Some(Self::NativeTls)
        } else {
            None
        }
    }

    /// How a user makes this backend trust a private CA, for error messages.
    fn trust_advice(self) -> &'static str {
        match self {
            Self::NativeTls => {
                "pass a native_tls::TlsConnector that trusts it: \
                 aiowebsocket::builder(url).tls_connector(..), or \
                 ConnectOptions::tls(TlsConnector::native_tls(..))"
            }
            Self::Rustls => {
                "pass a rustls::ClientConfig whose root store has it: \
                 aiowebsocket::builder(url).rustls_config(..), or \
                 ConnectOptions::tls(TlsConnector::rustls(..))"
            }
        }
    }
}

impl TlsBackend {
    /// Where a client certificate is configured, for error messages.
    fn client_cert_advice(self) -> &'static str {
        match self {
            Self::NativeTls => "native_tls::TlsConnector::builder().identity(..)",
            Self::Rustls => "rustls::ClientConfig::builder()..with_client_auth_cert(..)",
        }
    }
}

impl fmt::Display for TlsBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of TLS failure a [`TlsError`] is: decides the advice in its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The server's certificate was not accepted (untrusted, expired, for another name):
    /// retrying cannot fix it.
    Certificate,
    /// The server did not answer with TLS: likely a plain server on this port.
    NotTls,
    /// The server refused our client certificate, or wanted one and got none: retrying
    /// cannot fix it. With TLS 1.3 the server says so after the client's side of the
    /// handshake is done, so this is found on the first read (the HTTP upgrade) and
    /// reported as the TLS failure it is.
    ClientCertificate,
    /// Anything else (protocol versions, alerts, the connection closing).
    Other,
}

/// A failed TLS handshake, worded the same for every backend and runtime: what failed, for
/// which host, the library's reason, and what to check. The library's error is the
/// [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct TlsError {
    server_name: String,
    backend: TlsBackend,
    kind: TlsErrorKind,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl TlsError {
    /// A TLS failure for `server_name` from `backend`: `source` is the library's error.
    pub fn new(
        server_name: &str,
        backend: TlsBackend,
        kind: TlsErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        TlsError {
            server_name: server_name.to_owned(),
            backend,
            kind,
            source: source.into(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> TlsErrorKind {
        self.kind
    }

    /// Whether the server's certificate, or ours, was refused.
    pub(crate) fn is_certificate(&self) -> bool {
        matches!(
            self.kind,
            TlsErrorKind::Certificate | TlsErrorKind::ClientCertificate
        )
    }

    /// The library that failed.
    pub fn backend(&self) -> TlsBackend {
        self.backend
    }

    /// A copy whose library error is kept as its text.
    pub(crate) fn duplicate(&self) -> TlsError {
        TlsError {
            server_name: self.server_name.clone(),
            backend: self.backend,
            kind: self.kind,
            source: self.source.to_string().into(),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.server_name;
        write!(
            f,
            "TLS handshake with {name} failed ({}): {}",
            self.backend, self.source
        )?;
        let trust = self.backend.trust_advice();
        match self.kind {
            TlsErrorKind::Certificate => write!(
                f,
                "; the server's certificate is not accepted for {name}: check that the URL's \
                 host name is the one in the certificate, and if a private CA signed it, {trust}"
            ),
            TlsErrorKind::NotTls => write!(
                f,
                "; the server did not answer with TLS: check the port, and use ws:// for a \
                 plain server"
            ),
            TlsErrorKind::ClientCertificate => write!(
                f,
                "; the server refused our client certificate (or required one and none was \
                 given): check the certificate and key in the TLS configuration and that the \
                 server trusts the CA that signed it ({})",
                self.backend.client_cert_advice()
            ),
            TlsErrorKind::Other => write!(
                f,
                "; check that the server speaks TLS on this port (use ws:// for a plain \
                 server) and that its certificate is trusted (for a private CA, {trust})"
            ),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
