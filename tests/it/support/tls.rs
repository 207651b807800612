//! For the `tls_*` tests: certificates made at test time with the `openssl` command (a CA,
//! server certificates for 127.0.0.1 and localhost, a client certificate), a server started
//! with them, and two clients: `curl` and Python's `ssl` (`tls_client.py` beside this file).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::clients::curl_command;
use super::{Builder, Json, Server, TempDir, repo_root, server, test_python};

/// A throwaway PKI in a temporary directory.
pub struct Pki {
    pub dir: TempDir,
}

/// A certificate and its key.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `openssl req` options for a new unencrypted P-256 key.
const NEW_EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (is it installed? scripts/setup installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// A CA (`ca.pem`), the server certificate `server` and the client certificate
    /// `client`, signed by the CA.
    pub fn new() -> Pki {
        let pki = Pki {
            dir: TempDir::new(),
        };
        let d = pki.dir.path();
        let ca = [
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=rsgi test CA",
        ];
        openssl(d, &[&["req", "-x509"][..], &NEW_EC_KEY, &ca].concat());
        pki.issue("server", "localhost", "server");
        pki.issue("client", "test client", "client");
        pki
    }

    /// Issues `<name>.pem`/`<name>.key` for `cn` (`server`: for 127.0.0.1 and localhost;
    /// `client`: for client authentication).
    pub fn issue(&self, name: &str, cn: &str, kind: &str) -> Pair {
        let d = self.dir.path();
        let ext = match kind {
            "server" => {
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
                 extendedKeyUsage=serverAuth\n"
            }
            _ => "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        };
        self.dir.write(&format!("{name}.ext"), ext);
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let extfile = format!("{name}.ext");
        let subj = format!("/CN={cn}");
        let request = ["-keyout", &key, "-out", &csr, "-subj", &subj];
        openssl(d, &[&["req"][..], &NEW_EC_KEY, &request].concat());
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &extfile,
            ],
        );
        self.pair(name)
    }

    /// The certificate and key issued as `name`.
    pub fn pair(&self, name: &str) -> Pair {
        Pair {
            cert: self.dir.join(&format!("{name}.pem")),
            key: self.dir.join(&format!("{name}.key")),
        }
    }

    /// The CA's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The server's certificate and key.
    pub fn server(&self) -> Pair {
        self.pair("server")
    }

    /// The client's certificate and key.
    pub fn client(&self) -> Pair {
        self.pair("client")
    }
}

/// The server's first TCP port, where its TLS clients connect.
pub fn port(server: &Server) -> u16 {
    server.addr().port()
}

/// `server(app)` serving TLS with the PKI's server certificate.
pub fn tls_server(app: &str, pki: &Pki) -> Builder {
    let pair = pki.server();
    server(app)
        .arg("--certfile")
        .arg(&pair.cert)
        .arg("--keyfile")
        .arg(&pair.key)
}

/// Runs `tls_client.py PORT CA args...` and parses its JSON.
pub fn py_client(port: u16, pki: &Pki, args: &[&str]) -> Json {
    let script = repo_root().join("tests/it/support/tls_client.py");
    let out = Command::new(test_python())
        .arg(script)
        .arg(port.to_string())
        .arg(pki.ca())
        .args(args)
        .output()
        .expect("run the Python TLS client");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tls_client.py failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("tls_client.py printed {text:?}: {e}"))
}

/// The client's error, if the connection failed.
pub fn client_error(result: &Json) -> Option<String> {
    result
        .get("error")
        .and_then(Json::as_str)
        .map(str::to_owned)
}

/// Runs `curl --cacert CA args...`; the caller judges the outcome.
pub fn curl(pki: &Pki, args: &[&str]) -> Output {
    curl_command()
        .arg("--cacert")
        .arg(pki.ca())
        .args(args)
        .output()
        .expect("run curl")
}
