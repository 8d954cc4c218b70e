//! The gateway's own answers: plain text pages that say what happened and what to do.

/// A response the gateway writes itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// Headers, `content-type` and `cache-control` included.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Page {
    fn text(status: u16, body: String) -> Self {
        Page {
            status,
            headers: vec![
                ("content-type".into(), "text/plain; charset=utf-8".into()),
                ("cache-control".into(), "no-store".into()),
                // Read as the text it is, never sniffed as a page of another type.
                ("x-content-type-options".into(), "nosniff".into()),
            ],
            body,
        }
    }

    /// A JSON body.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let mut page = Page::text(status, format!("{value:#}\n"));
        if let Some((_, content_type)) = page.headers.first_mut() {
            *content_type = "application/json".into();
        }
        page
    }

    fn with_retry_after(mut self, seconds: u64) -> Self {
        self.headers
            .push(("retry-after".into(), seconds.to_string()));
        self
    }

    /// 500: the configuration is missing or wrong. The page, served to every client, says no
    /// more: the setting and the reason go to the operator's log (`wrangler tail`), since a
    /// wrong setting can hold a secret.
    pub fn config_error() -> Self {
        Page::text(
            500,
            "500 Internal Server Error: the edge-session gateway is misconfigured.\n\n\
             Its log names the setting to fix (`wrangler tail`, or the terminal of `wrangler dev`).\n"
                .into(),
        )
    }

    /// 503: every origin is down.
    pub fn all_down(retry_after: u64) -> Self {
        Page::text(
            503,
            format!(
                "503 Service Unavailable: all origins are down.\n\n\
                 No origin server can take this request right now. Try again in {retry_after} seconds.\n"
            ),
        )
        .with_retry_after(retry_after)
    }

    /// 503: the chosen origin is down or could not be reached, and the request (safe to send
    /// again) cannot go elsewhere: failover is strict, or its other try failed too.
    pub fn origin_unavailable(retry_after: u64) -> Self {
        Page::text(
            503,
            format!(
                "503 Service Unavailable: the origin server for this request is unavailable.\n\n\
                 Try again in {retry_after} seconds.\n"
            ),
        )
        .with_retry_after(retry_after)
    }

    /// 502: the connection to the chosen origin failed, and the request cannot be tried
    /// elsewhere (it has a body, or is not idempotent). The runtime tells no connection refused
    /// from one lost once the request was sent ("Network connection lost."): the origin may
    /// have acted on it, so, as after a timeout, the client is told to check before sending it
    /// again, and no `Retry-After` invites it to.
    pub fn origin_lost() -> Self {
        Page::text(
            502,
            "502 Bad Gateway: the connection to the origin server for this request failed.\n\n\
             It may have received the request: check before sending it again.\n"
                .into(),
        )
    }

    /// 504: the origin got the request but sent no answer within `ORIGIN_TIMEOUT_MS`, and the
    /// request cannot be tried elsewhere (or its other try timed out too). A 504, not the 503 of
    /// an origin out of reach: the origin may have acted on the request, so the client is told
    /// to check before sending it again. No `Retry-After`: when a hung origin answers again is
    /// not known.
    pub fn origin_timeout() -> Self {
        Page::text(
            504,
            "504 Gateway Timeout: the origin server for this request did not answer in time.\n\n\
             It may have received the request: check before sending it again.\n"
                .into(),
        )
    }

    /// 502: the origin answered something the gateway cannot act on.
    pub fn bad_origin_answer(why: &str) -> Self {
        Page::text(
            502,
            format!("502 Bad Gateway: the origin's answer was refused: {why}.\n"),
        )
    }

    /// 500: something the gateway did not expect; details go to the log, not to the client.
    pub fn internal() -> Self {
        Page::text(
            500,
            "500 Internal Server Error: the gateway failed to handle this request.\n".into(),
        )
    }

    /// 431: the client's request headers are larger than `MAX_REQUEST_HEADER_BYTES`; refused
    /// here rather than passed to an origin that would refuse them by closing its connection.
    pub fn headers_too_large(max: usize) -> Self {
        Page::text(
            431,
            format!(
                "431 Request Header Fields Too Large: the request's headers and address are over \
                 {max} bytes.\n\nClear this site's cookies, or follow a shorter link, and try \
                 again.\n"
            ),
        )
    }

    /// 431 of a request that cookies other than the gateway's put over the limit: the browser
    /// is told to clear the site's cookies (`Clear-Site-Data`), which its visitor could
    /// otherwise only do by hand (see `Gateway::too_large`).
    pub fn cookies_too_large(max: usize) -> Self {
        let mut page = Page::text(
            431,
            format!(
                "431 Request Header Fields Too Large: this site's cookies make the request's \
                 headers over {max} bytes.\n\nThis browser has been asked to clear its cookies \
                 for this site and the sites of its domain: reload the page, and log in again if \
                 asked. If this page comes back, clear them by hand.\n"
            ),
        );
        page.headers
            .push(("clear-site-data".into(), "\"cookies\"".into()));
        page
    }

    /// 431 of a request whose session would crowd every request of its visitor: the page that
    /// ends it (see `Gateway::too_large`).
    pub fn session_too_large(max: usize) -> Self {
        Page::text(
            431,
            format!(
                "431 Request Header Fields Too Large: the request's headers are over {max} bytes.\n\n\
                 This browser's session is too large for this site's limit and has been ended: \
                 log in again.\n"
            ),
        )
    }

    /// 400: a GET or HEAD request with a body, which the runtime can neither forward nor build
    /// (it would be a 500 when the origin request is made).
    pub fn body_not_allowed(method: &str) -> Self {
        Page::text(
            400,
            format!("400 Bad Request: a {method} request cannot carry a body.\n"),
        )
    }

    /// 400: a header name that is not a token ([`super::headers::is_token`]): a byte above
    /// 0x7F, which the runtime cannot remove, or a separator.
    pub fn bad_header_name() -> Self {
        Page::text(
            400,
            "400 Bad Request: a header name holds a character HTTP does not allow in one.\n".into(),
        )
    }

    /// 400: a path holding a `.` or `..` segment in a form an origin's server may resolve (see
    /// [`super::headers::has_dot_segment`]).
    pub fn dot_segment() -> Self {
        Page::text(
            400,
            "400 Bad Request: the path holds an encoded . or .. segment.\n".into(),
        )
    }

    /// 302 to `location`, the request's own URL with the affinity value (URL mode, a new
    /// visitor's page load). Never cached; no `Referer` with the value to other sites.
    pub fn affinity_redirect(location: &str) -> Self {
        let mut page = Page::text(302, "302 Found\n".into());
        page.headers.push(("location".into(), location.into()));
        page.headers.push((
            "referrer-policy".into(),
            super::pipeline::URL_MODE_REFERRER_POLICY.into(),
        ));
        page
    }

    /// 404 under the operator prefix.
    pub fn not_found() -> Self {
        Page::text(404, "404 Not Found\n".into())
    }

    /// 401 under the operator prefix.
    pub fn unauthorized() -> Self {
        let mut page = Page::text(
            401,
            "401 Unauthorized: send `Authorization: Bearer <OPERATOR_TOKEN>`.\n".into(),
        );
        page.headers
            .push(("www-authenticate".into(), "Bearer realm=\"edge\"".into()));
        page
    }

    /// 405 under the operator prefix, for the endpoints that take GET and HEAD.
    pub fn method_not_allowed() -> Self {
        Page::allowing("GET, HEAD")
    }

    /// 405 for an endpoint that takes GET only (`/__edge/store/conformance`, which runs the
    /// suite: no HEAD).
    pub fn get_only() -> Self {
        Page::allowing("GET")
    }

    /// 405 for an endpoint that takes POST only (`/__edge/sessions/revoke`, the DBSC ones).
    pub fn post_only() -> Self {
        Page::allowing("POST")
    }

    /// 405 for a method the gateway never forwards (`TRACE`, `TRACK`, `CONNECT`: see
    /// [`super::pipeline::NOT_FORWARDED`]), whatever the path; `Allow` names the usual methods,
    /// which go to the origin.
    pub fn not_forwarded() -> Self {
        Page::allowing("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
    }

    fn allowing(methods: &str) -> Self {
        let mut page = Page::text(405, "405 Method Not Allowed\n".into());
        page.headers.push(("allow".into(), methods.into()));
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_say_what_to_do() {
        let p = Page::config_error();
        assert_eq!(p.status, 500);
        assert!(p.body.contains("Its log names the setting"));
        let p = Page::all_down(30);
        assert_eq!(p.status, 503);
        assert!(p.headers.contains(&("retry-after".into(), "30".into())));
        assert!(p.body.contains("all origins are down"));
        let p = Page::origin_timeout();
        assert_eq!(p.status, 504);
        assert!(p.body.starts_with("504 Gateway Timeout: "));
        assert!(p
            .headers
            .contains(&("cache-control".into(), "no-store".into())));
        assert!(!p.headers.iter().any(|(n, _)| n == "retry-after"));
        for p in [
            Page::all_down(30),
            Page::bad_origin_answer("why"),
            Page::internal(),
            Page::not_found(),
            Page::json(400, &serde_json::json!({})),
        ] {
            let nosniff = ("x-content-type-options".into(), "nosniff".into());
            assert!(p.headers.contains(&nosniff), "{}", p.body);
        }
        assert_eq!(
            Page::json(200, &serde_json::json!({"a": 1})).headers[0].1,
            "application/json"
        );
    }
}
