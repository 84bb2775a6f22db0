//! The page, its script and its style sheet, embedded in the binary: no CDN, no build
//! step, nothing to install next to the executable.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

#[derive(Clone, Copy)]
pub(crate) struct Asset {
    body: &'static str,
    content_type: &'static str,
}

pub(crate) const INDEX_HTML: Asset = Asset {
    body: include_str!("../assets/index.html"),
    content_type: "text/html; charset=utf-8",
};
pub(crate) const APP_JS: Asset = Asset {
    body: include_str!("../assets/app.js"),
    content_type: "text/javascript; charset=utf-8",
};
pub(crate) const APP_CSS: Asset = Asset {
    body: include_str!("../assets/app.css"),
    content_type: "text/css; charset=utf-8",
};

pub(crate) fn page(a: Asset) -> Response {
    let mut res = a.body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    // Small files from the binary itself: always revalidate, so an upgrade shows at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}
