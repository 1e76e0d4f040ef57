//! The rustls backend: `futures-rustls` over any `futures-io` stream, on every runtime.
//!
//! The default configuration uses the process's default crypto provider if the
//! application installed one, else `ring`, and trusts the operating
//! system's roots (`rustls-native-certs`), or Mozilla's roots compiled into the binary with
//! the `webpki-roots` feature; it is built once per process.

use std::sync::{Arc, OnceLock};

use futures_io::{AsyncRead, AsyncWrite};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use super::{TlsBackend, TlsError, TlsErrorKind, TlsStream};
use crate::error::Error;

/// Runs the client handshake for `server_name` over `stream` with `config`; when `alpn` is
/// not empty and differs from the config's protocols, with a copy offering `alpn`.
pub(crate) async fn connect<S>(
    config: &Arc<ClientConfig>,
    server_name: &str,
    alpn: &[&[u8]],
    stream: S,
) -> Result<TlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(server_name.to_owned()).map_err(|e| {
        TlsError::new(server_name, TlsBackend::Rustls, TlsErrorKind::Other, e).into_error()
    })?;
    let offers_alpn = alpn.is_empty() || config.alpn_protocols.iter().eq(alpn.iter());
    let config = if offers_alpn {
        config.clone()
    } else {
        let mut copy = ClientConfig::clone(config);
        copy.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(copy)
    };
    let tls = futures_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| {
            let kind = classify(&e);
            TlsError::new(server_name, TlsBackend::Rustls, kind, e).into_error()
        })?;
    Ok(TlsStream::Rustls(Box::new(tls)))
}

/// The kind of a handshake failure, from the rustls error inside the I/O error.
fn classify(e: &std::io::Error) -> TlsErrorKind {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(
            rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::UnsupportedNameType,
        ) => TlsErrorKind::Certificate,
        Some(rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. }) => {
            TlsErrorKind::NotTls
        }
        _ => TlsErrorKind::Other,
    }
}

/// Whether `e` is the server's alert refusing our client certificate (or asking for one).
pub(crate) fn refuses_client_certificate(e: &std::io::Error) -> bool {
    use rustls::AlertDescription as A;
    matches!(
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::AlertReceived(
            A::CertificateRequired
                | A::BadCertificate
                | A::UnknownCA
                | A::CertificateUnknown
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
        ))
    )
}

/// The default configuration (see the module docs), built on first use.
pub(crate) fn default_config(server_name: &str) -> Result<Arc<ClientConfig>, Error> {
    static DEFAULT: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    match DEFAULT.get_or_init(build_default) {
        Ok(config) => Ok(config.clone()),
        Err(reason) => Err(TlsError::new(
            server_name,
            TlsBackend::Rustls,
            TlsErrorKind::Other,
            reason.clone(),
        )
        .into_error()),
    }
}

fn build_default() -> Result<Arc<ClientConfig>, String> {
    // The process default when the application installed one (e.g. aws-lc-rs for its
    // post-quantum key exchange); otherwise ring, which needs no C toolchain beyond
    // ring's own and builds everywhere rustls does. rustls 0.23.48 deprecates ring's
    // provider for lacking post-quantum groups; it remains supported and is what this
    // crate depends on.
    let provider = match rustls::crypto::CryptoProvider::get_default() {
        Some(installed) => installed.clone(),
        #[allow(deprecated)]
        None => Arc::new(rustls::crypto::ring::default_provider()),
    };
    let roots = root_store()?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("rustls refused its default protocol versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Mozilla's roots, bundled (feature `webpki-roots`).
#[cfg(feature = "webpki-roots")]
fn root_store() -> Result<rustls::RootCertStore, String> {
    Ok(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
}

/// The operating system's roots. Certificates the store cannot parse are skipped; no
/// usable root at all is an error that says what to do.
#[cfg(not(feature = "webpki-roots"))]
fn root_store() -> Result<rustls::RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (_added, _skipped) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = match found.errors.first() {
            Some(e) => format!(": {e}"),
            None => String::new(),
        };
        return Err(format!(
            "no trusted root certificate found in the operating system's store{why}; install \
             the CA certificates (ca-certificates), enable the `webpki-roots` feature for \
             Mozilla's bundled roots, or pass your own rustls::ClientConfig"
        ));
    }
    Ok(roots)
}
