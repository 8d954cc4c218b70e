//! Conversions between web_sys requests, responses and headers and the pipeline's plain types;
//! building and sending an origin request.

use wasm_bindgen::prelude::wasm_bindgen;
use worker::js_sys;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, ReadableStream};

use super::Answer;
use crate::gateway::headers;
use crate::gateway::pages::Page;
use crate::gateway::pipeline::{self, Attempt};

/// Headers as name and value pairs, in order: one string from JavaScript (`name\nvalue\n`...;
/// neither a name nor a value can hold a line feed), not one boundary crossing per entry and
/// string.
pub(super) fn header_pairs(headers: &web_sys::Headers) -> Vec<(String, String)> {
    let text = header_text(headers);
    let mut out = Vec::new();
    let mut parts = text.split('\n');
    while let (Some(n), Some(v)) = (parts.next(), parts.next()) {
        out.push((n.to_owned(), v.to_owned()));
    }
    out
}

#[wasm_bindgen(inline_js = r"
export function header_text(headers) {
  let text = '';
  // forEach: the pairs iteration gives (each Set-Cookie apart), with no iterator result and
  // pair array made per header (about 15% less time in workerd).
  headers.forEach((value, name) => {
    text += name + '\n' + value + '\n';
  });
  return text;
}
export function headers_from_text(text) {
  const headers = new Headers();
  const parts = text.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
  return headers;
}
function edit(headers, text) {
  const parts = text.split('\n');
  let i = 0;
  for (; i < parts.length && parts[i] !== ''; i++) headers.delete(parts[i]);
  for (i++; i + 1 < parts.length; i += 2) headers.append(parts[i], parts[i + 1]);
}
export function request_to(url, method, body, headers, text, personal) {
  const cache = personal ? 'no-store' : undefined;
  const request = new Request(url, { method, headers, redirect: 'manual', body, cache });
  const h = request.headers;
  edit(h, text);
  // This deployment's tag and the URL's (entry.mjs): a request that comes back to the gateway
  // at this URL is a loop.
  const hop = globalThis[Symbol.for('edge-session.hop')];
  if (hop) h.set('x-session-hop', hop(request.url));
  // `no-store` has fetch add `Cache-Control: no-cache` to a request without one, which an origin
  // reads as never fresh (Express's, Koa's: a revalidation always answered whole): a
  // conditional request says `max-age=0` instead, as a browser's revalidation does.
  if (personal && !h.has('cache-control') && (h.has('if-none-match') || h.has('if-modified-since'))) {
    h.set('cache-control', 'max-age=0');
  }
  return request;
}
export function response_from(response, socket, text) {
  const answer = socket
    ? new Response(null, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
        webSocket: response.webSocket,
      })
    : new Response(response.body, response);
  edit(answer.headers, text);
  return answer;
}
// URL mode (`whole`, see pipeline::whole_pages): a part (206) of a page, which cannot be
// rewritten, is asked for again whole, without Range and If-Range, once.
function answer(request, whole, init) {
  if (!whole) return fetch(request, init);
  const again = new Request(request);
  return fetch(request, init).then((answer) => {
    const type = answer.headers.get('content-type');
    if (answer.status !== 206 || !/^\s*text\/html/i.test(type)) return answer;
    answer.body?.cancel();
    again.headers.delete('range');
    again.headers.delete('if-range');
    return fetch(again, init);
  });
}
// ORIGIN_TIMEOUT_MS (`ms`; 0, unset: no timer): the answer's status and headers must come within
// `ms` of the request's sending, or the fetch is aborted and fails with a TimeoutError. The
// timer is cleared when they come, so the body is never cut (AbortSignal.timeout would stay
// armed, and by the Fetch standard its firing during the body aborts it). A request body is
// streamed through a native identity stream (of the same length, kept in Content-Length), and
// the timer starts once its last byte was taken: a slow upload is the client's time, not the
// origin's (nginx buffers the body before its proxy_read_timeout starts). A length past 2^53,
// which no FixedLengthStream takes (its constructor throws: uncaught through the wasm, the
// instance is reset), streams as one of no length.
export function get(request, whole, ms) {
  if (!ms) return answer(request, whole);
  const abort = new AbortController();
  let timer;
  let settled = false; // an answer before the upload's end (a 413) arms nothing after it
  const arm = () => settled || (timer = setTimeout(() => abort.abort(), ms));
  const init = { signal: abort.signal };
  if (request.body) {
    const length = request.headers.get('content-length') ?? '';
    const sized = /^\d+$/.test(length) && Number(length) <= Number.MAX_SAFE_INTEGER;
    const pipe = sized ? new FixedLengthStream(Number(length)) : new IdentityTransformStream();
    request.body.pipeTo(pipe.writable).then(arm, () => {});
    init.body = pipe.readable;
  } else {
    arm();
  }
  return answer(request, whole, init).then(
    (response) => {
      settled = true;
      clearTimeout(timer);
      return response;
    },
    (error) => {
      settled = true;
      clearTimeout(timer);
      if (!abort.signal.aborted) throw error;
      const late = new Error(`no answer within ${ms} ms (ORIGIN_TIMEOUT_MS)`);
      late.name = 'TimeoutError';
      throw late;
    },
  );
}
// A request's body as text when it has at most `max` bytes, else null: refused unread by its
// Content-Length, or (sent without one) read to its end but kept no further than `max` bytes
// (answered before the end, such a body left the next request on the connection failing in
// workerd). Rejects when it cannot be read. Nothing of a body too long reaches the wasm memory.
export async function text_within(request, max) {
  if (Number(request.headers.get('content-length')) > max) return null;
  if (!request.body) return '';
  const reader = request.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return size > max ? null : text + decoder.decode();
    size += value.byteLength;
    if (size <= max) text += decoder.decode(value, { stream: true });
  }
}
export function send_then(request, whole, ms, waiting, done, failed) {
  return get(request, whole, ms).then((answer) => done(waiting, answer), (error) => failed(waiting, error));
}
")]
extern "C" {
    fn header_text(headers: &web_sys::Headers) -> String;
    #[wasm_bindgen(catch)]
    fn headers_from_text(text: &str) -> Result<web_sys::Headers, JsValue>;
    #[wasm_bindgen(catch)]
    fn request_to(
        url: &str,
        method: &str,
        body: Option<&ReadableStream>,
        headers: &web_sys::Headers,
        text: &str,
        personal: bool,
    ) -> Result<web_sys::Request, JsValue>;
    #[wasm_bindgen(catch)]
    fn response_from(
        response: &web_sys::Response,
        socket: bool,
        text: &str,
    ) -> Result<web_sys::Response, JsValue>;
    fn get(request: &web_sys::Request, whole: bool, ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = text_within)]
    fn text_within_js(request: &web_sys::Request, max: u32) -> js_sys::Promise;
    fn send_then(
        request: &web_sys::Request,
        whole: bool,
        ms: u32,
        waiting: &JsValue,
        done: &js_sys::Function,
        failed: &js_sys::Function,
    ) -> js_sys::Promise;
}

/// `pairs` as JavaScript Headers, in one boundary crossing when no name or value holds a line
/// feed (Headers refuses those anyway: then one `append` per pair, which throws as before).
fn js_headers(pairs: &[(String, String)]) -> Result<web_sys::Headers, JsValue> {
    if pairs
        .iter()
        .all(|(n, v)| !n.contains('\n') && !v.contains('\n'))
    {
        let mut text =
            String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
        for (n, v) in pairs {
            text.push_str(n);
            text.push('\n');
            text.push_str(v);
            text.push('\n');
        }
        return headers_from_text(&text);
    }
    let headers = web_sys::Headers::new()?;
    for (n, v) in pairs {
        headers.append(n, v)?;
    }
    Ok(headers)
}

/// The changes `c` as the text [`request_to`] and [`response_from`] apply in place to the copy
/// of the headers they make (`name\n`... for the deletions, an empty line, then
/// `name\nvalue\n`... for the appends): one boundary crossing; `None` when a name or a value
/// holds a line feed, which Headers refuses: then [`apply`] makes them one call each, and
/// throws as before.
fn change_text(c: &headers::Changes) -> Option<String> {
    let clean = |t: &str| !t.contains('\n');
    if !(c.delete.iter().all(|n| clean(n)) && c.append.iter().all(|(n, v)| clean(n) && clean(v))) {
        return None;
    }
    let mut text = String::new();
    for n in &c.delete {
        text.push_str(n);
        text.push('\n');
    }
    text.push('\n');
    for (n, v) in &c.append {
        text.push_str(n);
        text.push('\n');
        text.push_str(v);
        text.push('\n');
    }
    Some(text)
}

/// The changes `c`, one call each.
fn apply(headers: &web_sys::Headers, c: &headers::Changes) -> Result<(), JsValue> {
    for n in &c.delete {
        headers.delete(n)?;
    }
    for (n, v) in &c.append {
        headers.append(n, v)?;
    }
    Ok(())
}

/// A JavaScript error's message, for the log.
pub(super) fn error_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// A JavaScript error as a log line: `Name: message` (`TypeError: ...`), a thrown string as it is
/// (as `worker::Error`'s `Display` wrote them).
pub(super) fn error_line(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(e) => format!("{}: {}", String::from(e.name()), String::from(e.message())),
        None => error_text(e),
    }
}

/// Whether a failed origin fetch ran out of `ORIGIN_TIMEOUT_MS` (see [`send`]) rather than
/// failing to connect.
pub(super) fn timed_out(e: &JsValue) -> bool {
    e.dyn_ref::<js_sys::Error>()
        .is_some_and(|e| e.name() == "TimeoutError")
}

/// A page of the gateway's own as a response.
pub(super) fn page(p: &Page) -> Answer {
    let init = web_sys::ResponseInit::new();
    init.set_status(p.status);
    let headers = js_headers(&p.headers)?;
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_str_and_init(Some(&p.body), &init)
}

/// Drops a response's body unread.
pub(super) fn cancel(response: &web_sys::Response) {
    if let Some(body) = response.body() {
        let _ = body.cancel();
    }
}

/// The request for one attempt, streaming the client's body (if any) through. Its headers are
/// the client's (`client`, read by the pipeline as `pairs`) changed into the attempt's, in place
/// in the new request's copy of them.
pub(super) fn build(
    attempt: &Attempt,
    method: &str,
    body: Option<ReadableStream>,
    client: &web_sys::Headers,
    pairs: &[(String, String)],
) -> Result<web_sys::Request, JsValue> {
    let c = headers::changes(pairs, &attempt.headers);
    let text = change_text(&c);
    let request = request_to(
        &attempt.url,
        method,
        body.as_ref(),
        client,
        text.as_deref().unwrap_or(""),
        attempt.personal(),
    )?;
    if text.is_none() {
        apply(&request.headers(), &c)?;
    }
    Ok(request)
}

/// Sends a request to its origin and returns what `done(waiting, response)` returns when it
/// answers, or what `failed(waiting, error)` returns when it gives no answer (refused, reset, DNS...,
/// or not within `ms`: see [`send`]): no Rust future in between (`done` and `failed` are made
/// once per instance). `whole`: see [`pipeline::whole_pages`].
pub(super) fn send_and(
    request: &web_sys::Request,
    whole: bool,
    ms: u32,
    waiting: &JsValue,
    done: &js_sys::Function,
    failed: &js_sys::Function,
) -> js_sys::Promise {
    send_then(request, whole, ms, waiting, done, failed)
}

/// Sends a request to its origin; an error means no answer (refused, reset, DNS...). `whole`:
/// see [`pipeline::whole_pages`]. `ms` (`ORIGIN_TIMEOUT_MS`, 0 for none): the longest wait for
/// the answer's status and headers, counted from the sending (of a request body's last byte,
/// when it has one); past it the fetch is aborted and the error is a `TimeoutError`
/// ([`timed_out`]). The answer's body is not timed.
pub(super) async fn send(
    request: &web_sys::Request,
    whole: bool,
    ms: u32,
) -> Result<web_sys::Response, JsValue> {
    JsFuture::from(get(request, whole, ms)).await?.dyn_into()
}

/// The origin's response (of `status`) with the gateway's `headers` (its own, read as
/// `origin`, changed): the origin's response itself when nothing changes, else a copy (its body
/// streamed through, or its WebSocket handed to the client) whose headers are changed in place.
pub(super) fn respond(
    response: &web_sys::Response,
    status: u16,
    origin: &[(String, String)],
    headers: &[(String, String)],
) -> Answer {
    let c = headers::changes(origin, headers);
    if c.is_empty() {
        // Nothing to change: the origin's response itself, as a pass-through returns it (the
        // handle copied; `response.clone()` would be JavaScript's, a tee of the body).
        return Ok(Clone::clone(response));
    }
    let text = change_text(&c);
    // `webSocket` is the Workers extension of `ResponseInit`; the runtime joins the two ends.
    let socket = pipeline::hands_over_socket(status);
    let answer = response_from(response, socket, text.as_deref().unwrap_or(""))?;
    if text.is_none() {
        apply(&answer.headers(), &c)?;
    }
    Ok(answer)
}

/// A request body longer than the most a caller reads (see [`text_within`]).
pub(super) struct TooLarge;

/// A request's body as text when it has at most `max` bytes, `Ok(None)` when it cannot be read,
/// `Err(TooLarge)` when it is longer: then none of it is copied into the wasm memory, and no more
/// than `max` bytes of it are kept (it is not read at all when its `Content-Length` says so).
pub(super) async fn text_within(
    req: &web_sys::Request,
    max: usize,
) -> Result<Option<String>, TooLarge> {
    let max = u32::try_from(max).unwrap_or(u32::MAX);
    match JsFuture::from(text_within_js(req, max)).await {
        Ok(text) if text.is_null() => Err(TooLarge),
        Ok(text) => Ok(text.as_string()),
        Err(_) => Ok(None),
    }
}
