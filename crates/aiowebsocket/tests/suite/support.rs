//! What the suite's tests share: the harness (a fresh executor, a time bound), certificates
//! of a private CA, the two TLS libraries behind one trait, and message helpers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aiowebsocket::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use aiowebsocket::{
    native_tls, rustls, ClientBuilder, Message, TlsBackend, TlsConnector, WebSocketStream,
};
use futures_io::{AsyncRead, AsyncWrite};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::runtimes::TestRuntime;
use crate::servers::ServerTls;

/// A test that has not ended after this long fails (a hang is a failure, not a stuck run).
pub const LIMIT: Duration = Duration::from_secs(30);

/// Runs `test` on a fresh executor of `R`, failing it after [`LIMIT`].
pub fn run<R: TestRuntime>(test: impl Future<Output = ()>) {
    // On the heap: a debug build's futures are large, and some executors keep theirs on the
    // stack of the test thread.
    let test = Box::pin(test);
    R::block_on(async {
        if R::timeout(LIMIT, test).await.is_none() {
            panic!("the test took more than {LIMIT:?} on {}", R::NAME);
        }
    });
}

// ---------------------------------------------------------------------------------------
// Messages

/// Sends `msg` and expects it back unchanged (skipping the pongs of keepalive pings).
pub async fn round_trip<S>(ws: &mut WebSocketStream<S>, msg: Message)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.send(msg.clone()).await.expect("send");
    let echoed = loop {
        let reply = ws.recv().await.expect("a reply").expect("no error");
        if !reply.is_pong() {
            break reply;
        }
    };
    assert_eq!(echoed, msg);
}

/// An unmasked server frame.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut out = vec![(u8::from(fin) << 7) | opcode, payload.len() as u8];
    out.extend_from_slice(payload);
    out
}

/// `len` bytes that do not compress (xorshift).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

// ---------------------------------------------------------------------------------------
// Certificates

/// A private certificate authority, generated at run time.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate signed by a [`Ca`], with its key.
pub struct Leaf {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub key_pem: String,
    key_der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        Ca { issuer }
    }

    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Leaf {
        self.leaf(names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate (mutual TLS) for `name`.
    pub fn client(&self, name: &str) -> Leaf {
        self.leaf(&[name], ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, names[0].as_str());
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &*self.issuer)
            .expect("leaf certificate");
        Leaf {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        }
    }
}

impl Leaf {
    /// The key, for rustls.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key_der.clone()).into()
    }

    /// The certificate and key, for native-tls.
    pub fn identity(&self) -> native_tls::Identity {
        native_tls::Identity::from_pkcs8(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
            .expect("identity")
    }
}

// ---------------------------------------------------------------------------------------
// TLS libraries

/// A TLS library the client can use, as a test sees it: how to configure it, what its
/// errors advise, and a test server of the same library.
pub trait Backend: 'static {
    /// Its name in error messages.
    const NAME: &'static str;
    const KIND: TlsBackend;
    /// The builder setter its advice names.
    const SETTER: &'static str;
    /// The `TlsConnector` constructor its advice names.
    const CONNECTOR: &'static str;

    /// A connector that trusts `ca` and, with `identity`, presents that client certificate.
    fn connector(ca: &Ca, identity: Option<&Leaf>) -> TlsConnector;

    /// `b` with this library trusting `ca`, through the builder's own setter.
    fn trusting(b: ClientBuilder, ca: &Ca, identity: Option<&Leaf>) -> ClientBuilder;

    /// `b` with this library trusting the operating system's roots only.
    fn system_roots(b: ClientBuilder) -> ClientBuilder;

    /// A test server of this library with `leaf`.
    fn server(leaf: &Leaf) -> ServerTls;
}

/// The platform's library through native-tls (OpenSSL here).
pub struct NativeTls;

impl NativeTls {
    fn native(ca: &Ca, identity: Option<&Leaf>) -> native_tls::TlsConnector {
        let root = native_tls::Certificate::from_pem(ca.cert_pem().as_bytes()).expect("CA");
        let mut builder = native_tls::TlsConnector::builder();
        builder.add_root_certificate(root);
        if let Some(leaf) = identity {
            builder.identity(leaf.identity());
        }
        builder.build().expect("native-tls connector")
    }
}

impl Backend for NativeTls {
    const NAME: &'static str = "native-tls";
    const KIND: TlsBackend = TlsBackend::NativeTls;
    const SETTER: &'static str = ".tls_connector(..)";
    const CONNECTOR: &'static str = "TlsConnector::native_tls(..)";

    fn connector(ca: &Ca, identity: Option<&Leaf>) -> TlsConnector {
        TlsConnector::native_tls(Self::native(ca, identity))
    }

    fn trusting(b: ClientBuilder, ca: &Ca, identity: Option<&Leaf>) -> ClientBuilder {
        b.tls_connector(Self::native(ca, identity))
    }

    fn system_roots(b: ClientBuilder) -> ClientBuilder {
        b.tls_connector(native_tls::TlsConnector::new().expect("native-tls connector"))
    }

    fn server(leaf: &Leaf) -> ServerTls {
        ServerTls::Native(native_tls::TlsAcceptor::new(leaf.identity()).expect("acceptor"))
    }
}

/// rustls (ring).
pub struct Rustls;

impl Rustls {
    fn config(ca: &Ca, identity: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der()).expect("CA");
        let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
        let config = match identity {
            Some(leaf) => builder
                .with_client_auth_cert(vec![leaf.cert_der.clone()], leaf.key())
                .expect("client certificate"),
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }
}

impl Backend for Rustls {
    const NAME: &'static str = "rustls";
    const KIND: TlsBackend = TlsBackend::Rustls;
    const SETTER: &'static str = ".rustls_config(..)";
    const CONNECTOR: &'static str = "TlsConnector::rustls(..)";

    fn connector(ca: &Ca, identity: Option<&Leaf>) -> TlsConnector {
        TlsConnector::rustls(Self::config(ca, identity))
    }

    fn trusting(b: ClientBuilder, ca: &Ca, identity: Option<&Leaf>) -> ClientBuilder {
        b.rustls_config(Self::config(ca, identity))
    }

    /// The build's default TLS: rustls when compiled in (as here), with the system's roots.
    fn system_roots(b: ClientBuilder) -> ClientBuilder {
        assert_eq!(
            b.tls_backend(),
            Some(TlsBackend::Rustls),
            "the build's default"
        );
        b
    }

    fn server(leaf: &Leaf) -> ServerTls {
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.cert_der.clone()], leaf.key())
            .expect("server config");
        ServerTls::Rustls(futures_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// A rustls server that requires a client certificate signed by `ca` (native-tls cannot
/// ask for one).
pub fn server_requiring_client_certificates(leaf: &Leaf, ca: &Ca) -> ServerTls {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der()).expect("CA");
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .expect("client verifier");
    let config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![leaf.cert_der.clone()], leaf.key())
        .expect("server config");
    ServerTls::Rustls(futures_rustls::TlsAcceptor::from(Arc::new(config)))
}
