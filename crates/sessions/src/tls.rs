//! The API's TLS: the configured certificate, or a self-signed one made into
//! `data_dir` on first start and kept for the next.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: no certificate in it")]
    NoCertificate(PathBuf),
    #[error("{0}: no private key in it")]
    NoKey(PathBuf),
    #[error("making a self-signed certificate: {0}")]
    Generate(String),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The server configuration for `cert`/`key`, or for the self-signed pair kept in
/// `data_dir` (made now if missing).
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
    data_dir: &Path,
) -> Result<Arc<ServerConfig>, TlsError> {
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert.to_owned(), key.to_owned()),
        _ => self_signed(data_dir)?,
    };
    let chain: Vec<CertificateDer<'static>> = {
        let pem = std::fs::read(&cert).map_err(io(&cert))?;
        rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<_, _>>()
            .map_err(io(&cert))?
    };
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert));
    }
    let key_der: PrivateKeyDer<'static> = {
        let pem = std::fs::read(&key).map_err(io(&key))?;
        rustls_pemfile::private_key(&mut pem.as_slice())
            .map_err(io(&key))?
            .ok_or_else(|| TlsError::NoKey(key.clone()))?
    };
    // ring: the one crypto provider of the build (rustls deprecates its default for
    // lacking post-quantum key exchange, which the aws-lc provider would bring with a
    // C build this project does without).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    Ok(Arc::new(config))
}

/// `data_dir/sessions-api.crt` and `.key`, made for `localhost` and `127.0.0.1` when
/// missing; the key is readable by the server's user only.
fn self_signed(data_dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = data_dir.join("sessions-api.crt");
    let key = data_dir.join("sessions-api.key");
    if cert.is_file() && key.is_file() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let made =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    write_private(&key, made.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert, made.cert.pem()).map_err(io(&cert))?;
    tracing::info!(cert = %cert.display(), "Sessions API: self-signed certificate made");
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_pair_is_made_once_and_reused() {
        let dir =
            std::env::temp_dir().join(format!("switchboard-sessions-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        server_config(None, None, &dir).expect("made");
        let cert = std::fs::read(dir.join("sessions-api.crt")).expect("cert");
        server_config(None, None, &dir).expect("reused");
        assert_eq!(
            std::fs::read(dir.join("sessions-api.crt")).expect("cert"),
            cert
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("sessions-api.key"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(server_config(
            Some(&dir.join("nope.crt")),
            Some(&dir.join("nope.key")),
            &dir
        )
        .is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
