//! What the live view serves: the page (`GET /`, one self-contained HTML file with its
//! CSS and JavaScript, compiled into the binary, so it works in an offline classroom)
//! and the state (`GET /api/state`, the hub's JSON). The page polls the state twice a
//! second, which is all "live" needs here and keeps the server free of long-lived
//! connections.
//!
//! **Safety.** Read-only: no request changes anything. When the view listens on
//! anything but loopback, the page and the API need a random token in the query string
//! (`?token=...`), compared in constant time: students' addresses and messages are not
//! for every machine on the LAN. Only requests for a name of this server are answered
//! (`host`: DNS rebinding). The page puts customer text into the DOM only as text,
//! and its Content-Security-Policy forbids any script but its own.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::host::Hosts;
use super::http::{HttpRequest, HttpResponse};
use super::hub::Hub;

const PAGE_HTML: &str = include_str!("page.html");
const PAGE_CSS: &str = include_str!("page.css");
const PAGE_JS: &str = include_str!("page.js");

/// A state bigger than this is large (hundreds of customers with long messages): at
/// most [`LARGE_AT_ONCE`] are being sent at once, so viewers that never read cannot
/// make the server hold many copies of it for the reply deadline.
const LARGE_BODY: usize = 256 * 1024;

/// Large states being sent at once; more get a 503, and the page asks again.
const LARGE_AT_ONCE: usize = 4;

/// The view's routes and what they serve.
pub(super) struct Site {
    hub: Hub,
    token: Option<String>,
    hosts: Hosts,
    page: String,
    csp: String,
    /// Large responses being sent now.
    large: Arc<AtomicUsize>,
}

impl Site {
    /// The site of `hub`, asking for `token` if there is one, for requests to `hosts`.
    pub(super) fn new(hub: Hub, token: Option<String>, hosts: Hosts) -> io::Result<Site> {
        let nonce = new_token()?;
        Ok(Site {
            hub,
            token,
            hosts,
            page: page(&nonce),
            csp: format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
                 connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; \
                 frame-ancestors 'none'"
            ),
            large: Arc::default(),
        })
    }

    /// The answer to a request line that needs no more reading: a missing or wrong
    /// token, known before the headers arrive. `None`: read on and [`Site::route`].
    pub(super) fn refuse_early(&self, request: &HttpRequest) -> Option<HttpResponse> {
        (!self.authorized(request)).then(|| self.answer(request))
    }

    fn authorized(&self, request: &HttpRequest) -> bool {
        match &self.token {
            None => true,
            Some(token) => request
                .token
                .is_some_and(|given| same(given.as_bytes(), token.as_bytes())),
        }
    }

    /// The answer to `request`, sent with `host` as its Host header.
    pub(super) fn route(&self, request: &HttpRequest, host: Option<&str>) -> HttpResponse {
        if !self.hosts.allow(host) {
            return HttpResponse::text(
                403,
                "Forbidden",
                "这个地址不是本服务器:请用 IP 地址或 localhost 打开实时视图。\n\
                 Not a name of this server: open the live view by its IP address or localhost.",
            );
        }
        self.answer(request)
    }

    fn answer(&self, request: &HttpRequest) -> HttpResponse {
        if request.method != "GET" && request.method != "HEAD" {
            return HttpResponse::text(405, "Method Not Allowed", "只读页面 (read-only)");
        }
        let authorized = self.authorized(request);
        match request.path {
            "/" | "/index.html" | "/api/state" if !authorized => HttpResponse::text(
                403,
                "Forbidden",
                "需要访问令牌:请使用 shop-server 启动时打印的完整地址 (live view on ...?token=...)。\n\
                 A token is required: use the full URL that shop-server printed.",
            ),
            "/" | "/index.html" => HttpResponse {
                status: 200,
                reason: "OK",
                content_type: "text/html; charset=utf-8",
                body: self.page.clone().into_bytes(),
                csp: Some(self.csp.clone()),
                hold: None,
            },
            "/api/state" => {
                let body = self.hub.state_json().into_bytes();
                let hold = match body.len() > LARGE_BODY {
                    false => None,
                    true => match Large::take(&self.large) {
                        Some(large) => Some(Box::new(large) as Box<dyn Send>),
                        None => return HttpResponse::text(503, "Service Unavailable", "忙 (busy)"),
                    },
                };
                HttpResponse {
                    status: 200,
                    reason: "OK",
                    content_type: "application/json; charset=utf-8",
                    body,
                    csp: None,
                    hold,
                }
            }
            "/favicon.ico" => HttpResponse::text(404, "Not Found", ""),
            _ => HttpResponse::text(404, "Not Found", "没有这个页面 (not found)"),
        }
    }
}

/// A place among the large responses being sent; dropping it frees the place.
struct Large(Arc<AtomicUsize>);

impl Large {
    fn take(count: &Arc<AtomicUsize>) -> Option<Large> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < LARGE_AT_ONCE).then_some(n + 1)
            })
            .ok()
            .map(|_| Large(count.clone()))
    }
}

impl Drop for Large {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The page with its stylesheet and script inlined: one self-contained file.
fn page(nonce: &str) -> String {
    PAGE_HTML
        .replace("/*STYLE*/", PAGE_CSS)
        .replace("/*SCRIPT*/", PAGE_JS)
        .replace("__NONCE__", nonce)
}

/// 16 random bytes from the operating system, in hex.
pub(super) fn new_token() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares without stopping at the first difference, so the time taken does not tell
/// an attacker how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"", b"a"));
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn large_responses_are_few_at_once() {
        let count = Arc::default();
        let taken: Vec<Large> = (0..LARGE_AT_ONCE)
            .map(|_| Large::take(&count).expect("a place"))
            .collect();
        assert!(Large::take(&count).is_none(), "all places taken");
        drop(taken);
        assert_eq!(count.load(Ordering::Relaxed), 0);
        assert!(Large::take(&count).is_some());
    }

    #[test]
    fn the_page_is_one_self_contained_file() {
        let page = page("n0nce");
        assert!(page.contains("<style nonce=\"n0nce\">"));
        assert!(page.contains("<script nonce=\"n0nce\">"));
        assert!(!page.contains("/*STYLE*/") && !page.contains("/*SCRIPT*/"));
        for external in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!page.contains(external), "{external}");
        }
        // Customer data reaches the DOM only as text.
        assert!(!page.contains("innerHTML"));
        assert!(!page.contains("insertAdjacentHTML"));
        assert!(!page.contains("document.write"));
    }
}
