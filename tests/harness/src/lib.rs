//! Shared code of the test harnesses that `cargo xtask` drives: the `interop_client` (real
//! peers, `cargo xtask interop`) and the `autobahn_client` (the Autobahn TestSuite,
//! `cargo xtask autobahn`). Both run one job on the runtime named by `--runtime`
//! ([`RuntimeChoice`], [`OnRuntime`]); the interop client picks its TLS library with
//! [`tls_connector`].

use std::error::Error as StdError;
use std::sync::Arc;

use aiowebsocket::native_tls;

/// Any error, boxed.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The runtime a test client runs on (`--runtime tokio|smol|async-std`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeChoice {
    /// tokio, current-thread.
    Tokio,
    /// smol (`smol::block_on`).
    Smol,
    /// async-std.
    AsyncStd,
}

impl RuntimeChoice {
    /// Parses a `--runtime` value.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "tokio" => Ok(Self::Tokio),
            "smol" => Ok(Self::Smol),
            "async-std" | "async_std" => Ok(Self::AsyncStd),
            other => Err(format!(
                "unknown runtime {other:?}: use tokio, smol or async-std"
            )),
        }
    }

    /// Runs `job` on a fresh executor of this runtime, with the library's matching
    /// [`aiowebsocket::Runtime`]: the job is written once, generic over the runtime.
    pub fn block_on<J: OnRuntime>(self, job: J) -> Result<J::Output, String> {
        Ok(match self {
            Self::Tokio => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the tokio runtime: {e}"))?
                .block_on(job.run(aiowebsocket::tokio::TokioRuntime)),
            Self::Smol => smol::block_on(job.run(aiowebsocket::smol::SmolRuntime::new())),
            Self::AsyncStd => async_std::task::block_on(
                job.run(aiowebsocket::async_std::AsyncStdRuntime::default()),
            ),
        })
    }
}

/// A job written once for every runtime: see [`RuntimeChoice::block_on`].
pub trait OnRuntime {
    /// What the job returns.
    type Output;
    /// Runs the job with `rt` (its DNS, TCP and timer).
    fn run<R: aiowebsocket::Runtime>(
        self,
        rt: R,
    ) -> impl std::future::Future<Output = Self::Output>;
}

/// The TLS library a test client uses for `wss://` (`--tls native-tls|rustls`), trusting the
/// CA certificate in `ca_pem` (PEM) when given, else the system's roots.
///
/// `native_alpn`: the ALPN protocols a native-tls connector offers (a connector the user
/// builds is used as is, so it must offer `h2` itself for HTTP/2); rustls gets the
/// library's own ALPN offer and ignores it.
pub fn tls_connector(
    backend: &str,
    ca_pem: Option<&[u8]>,
    native_alpn: &[&str],
) -> Result<aiowebsocket::TlsConnector, BoxError> {
    match (backend, ca_pem) {
        ("native-tls", ca) => {
            let mut builder = native_tls::TlsConnector::builder();
            if let Some(pem) = ca {
                builder.add_root_certificate(native_tls::Certificate::from_pem(pem)?);
            }
            if !native_alpn.is_empty() {
                builder.request_alpns(native_alpn);
            }
            Ok(aiowebsocket::TlsConnector::native_tls(builder.build()?))
        }
        ("rustls", None) => Ok(aiowebsocket::TlsConnector::default()),
        ("rustls", Some(pem)) => {
            let config = aiowebsocket::rustls::ClientConfig::builder()
                .with_root_certificates(roots(&String::from_utf8_lossy(pem))?)
                .with_no_client_auth();
            Ok(aiowebsocket::TlsConnector::rustls(Arc::new(config)))
        }
        (other, _) => {
            Err(format!("unknown TLS library {other:?}: use native-tls or rustls").into())
        }
    }
}

type CertDer = aiowebsocket::rustls::pki_types::CertificateDer<'static>;

/// A root store holding the certificates in `pem`.
fn roots(pem: &str) -> Result<aiowebsocket::rustls::RootCertStore, BoxError> {
    use aiowebsocket::rustls::pki_types::pem::PemObject;
    let mut roots = aiowebsocket::rustls::RootCertStore::empty();
    for cert in CertDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert?)?;
    }
    Ok(roots)
}
