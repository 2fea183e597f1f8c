//! A static file server for `www/`, on 127.0.0.1 only.
//!
//! It answers GET/HEAD with the right MIME types (`application/wasm` is
//! needed for streaming compilation), no caching, and the page's
//! Content-Security-Policy as a header too, so the worker (whose script
//! gets no `<meta>`) runs under the same policy as the page.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{anyhow, bail, Context, Result};
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

/// The policy of `www/index.html`'s `<meta http-equiv>`; a test keeps the
/// two identical.
pub const CSP: &str = "default-src 'self'; connect-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'none'";

const THREADS: usize = 4;

pub struct StaticServer {
    server: Arc<Server>,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl StaticServer {
    /// Serve `root` on 127.0.0.1:`port` (0: any free port).
    pub fn start(root: &Path, port: u16, log: bool) -> Result<StaticServer> {
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot serve {}: no such folder", root.display()))?;
        let server = Server::http(("127.0.0.1", port))
            .map_err(|e| anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .context("the server has no IP address")?;
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let threads = (0..THREADS)
            .map(|_| {
                let (server, stopping, root) = (server.clone(), stopping.clone(), root.clone());
                std::thread::spawn(move || loop {
                    match server.recv() {
                        Ok(rq) => {
                            if let Err(e) = respond(&root, rq, log) {
                                eprintln!("serve: {e}");
                            }
                        }
                        Err(_) if stopping.load(Ordering::SeqCst) => break,
                        Err(e) => eprintln!("serve: {e}"),
                    }
                })
            })
            .collect();
        Ok(StaticServer {
            server,
            addr,
            stopping,
            threads,
        })
    }

    /// `http://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in &self.threads {
            self.server.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Block until the process is killed.
    pub fn wait(mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shutdown();
        }
    }
}

/// `cargo xtask serve`: serve until Ctrl-C.
pub fn serve_forever(root: &Path, port: u16) -> Result<()> {
    let server = StaticServer::start(root, port, true)?;
    println!("flowlens: serving {} at {}", root.display(), server.url());
    println!("flowlens: press Ctrl-C to stop");
    server.wait();
    Ok(())
}

/// `cargo xtask serve --check`: serve `root` on a free port, fetch what a
/// browser fetches first (the page, its script, the worker, the wasm glue
/// and module, and the models' manifest when one is published) once each,
/// check status and MIME type, and stop.
pub fn check(root: &Path) -> Result<()> {
    let mut wanted = vec![
        ("/", "text/html"),
        ("/main.js", "text/javascript"),
        ("/worker.js", "text/javascript"),
        ("/pkg/flowlens.js", "text/javascript"),
        ("/pkg/flowlens_bg.wasm", "application/wasm"),
    ];
    if root.join("models/manifest.json").is_file() {
        wanted.push(("/models/manifest.json", "application/json"));
    }
    let server = StaticServer::start(root, 0, false)?;
    println!(
        "xtask serve --check: serving {} at {}",
        root.display(),
        server.url()
    );
    let result = wanted.iter().try_for_each(|(path, mime)| {
        let (status, content_type, bytes) = http_get(server.addr, path)?;
        if status != 200 {
            bail!("GET {path}: status {status}, expected 200");
        }
        if !content_type.starts_with(mime) {
            bail!("GET {path}: Content-Type `{content_type}`, expected {mime}");
        }
        if *path == "/pkg/flowlens_bg.wasm" && !bytes.starts_with(b"\0asm") {
            bail!("GET {path}: not a WebAssembly module");
        }
        println!(
            "  GET {path:<24} 200 {content_type} ({} bytes)",
            bytes.len()
        );
        Ok(())
    });
    server.stop();
    result?;
    println!("xtask serve --check: the page is served");
    Ok(())
}

/// One `GET` on 127.0.0.1: status, Content-Type and body. HTTP/1.0, so
/// the server sends the body as it is (tiny_http answers HTTP/1.1 requests
/// for files over 32 KiB in chunks).
fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("GET {path}: no end of headers in the reply"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("GET {path}: no status in `{head}`"))?;
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Ok((status, content_type, raw[split + 4..].to_vec()))
}

fn respond(root: &Path, rq: Request, log: bool) -> io::Result<()> {
    let (status, file) = match rq.method() {
        Method::Get | Method::Head => match resolve(root, rq.url()) {
            Some(path) => match File::open(&path) {
                Ok(f) => (200, Some((f, path))),
                Err(_) => (404, None),
            },
            None => (404, None),
        },
        _ => (405, None),
    };
    if log {
        println!("{} {} {status}", rq.method(), rq.url());
    }
    let mut headers = vec![
        header("Cache-Control", "no-cache"),
        header("X-Content-Type-Options", "nosniff"),
        header("Content-Security-Policy", CSP),
        header("Referrer-Policy", "no-referrer"),
        header("Cross-Origin-Resource-Policy", "same-origin"),
    ];
    match file {
        Some((f, path)) => {
            headers.push(header("Content-Type", mime_type(&path)));
            let mut response = Response::from_file(f);
            for h in headers {
                response.add_header(h);
            }
            rq.respond(response)
        }
        None => {
            headers.push(header("Content-Type", "text/plain; charset=utf-8"));
            let text = if status == 405 {
                "method not allowed\n"
            } else {
                "not found\n"
            };
            let mut response = Response::from_string(text).with_status_code(StatusCode(status));
            for h in headers {
                response.add_header(h);
            }
            rq.respond(response)
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    // Both are ASCII constants or MIME types chosen below.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

/// The file under `root` that `url` names, if any; `None` for anything that
/// tries to leave `root`.
fn resolve(root: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(path)?;
    let mut out = root.to_path_buf();
    for part in decoded.split('/').filter(|p| !p.is_empty()) {
        let mut comps = Path::new(part).components();
        match (comps.next(), comps.next()) {
            (Some(Component::Normal(c)), None) if !part.contains('\\') => out.push(c),
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    // Symlinks must not lead out of root either.
    let real = out.canonicalize().ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn mime_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn www() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("root")
            .join("www")
    }

    #[test]
    fn index_html_declares_the_same_policy() {
        let html = std::fs::read_to_string(www().join("index.html")).expect("index.html");
        let needle = format!("http-equiv=\"Content-Security-Policy\" content=\"{CSP}\"");
        assert!(
            html.contains(&needle),
            "www/index.html CSP differs from serve::CSP"
        );
    }

    #[test]
    fn paths_stay_inside_root() {
        let root = www().canonicalize().expect("www");
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(
            resolve(&root, "/style.css?v=1"),
            Some(root.join("style.css"))
        );
        assert_eq!(resolve(&root, "/../Cargo.toml"), None);
        assert_eq!(resolve(&root, "/%2e%2e/Cargo.toml"), None);
        assert_eq!(resolve(&root, "/nope.js"), None);
    }

    #[test]
    fn serves_with_mime_types_and_policy() {
        let server = StaticServer::start(&www(), 0, false).expect("start");
        let head = |path: &str| {
            let (status, mime, _) = http_get(server.addr, path).expect("GET");
            (status, mime)
        };
        assert_eq!(head("/style.css").0, 200);
        assert!(head("/style.css").1.starts_with("text/css"));
        assert!(head("/main.js").1.starts_with("text/javascript"));
        assert_eq!(head("/missing").0, 404);
        // Bigger than tiny_http's chunking threshold: the body arrives whole.
        let (status, _, bytes) = http_get(server.addr, "/models/manifest.json").expect("GET");
        if status == 200 {
            assert!(
                bytes.len() > 32 * 1024,
                "the manifest is no longer over 32 KiB"
            );
            assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
        }
        let mut s = TcpStream::connect(server.addr).expect("connect");
        write!(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out
            .to_ascii_lowercase()
            .contains("content-security-policy: default-src 'self'"));
        server.stop();
    }
}
