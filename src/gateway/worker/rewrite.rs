//! URL mode: HTML answers rewritten as they stream, with workerd's `HTMLRewriter` (which the
//! `worker` crate does not expose: declared here). Which URLs carry the affinity value is
//! decided in Rust, by `rewrite_url` of the pure core, called back from the element handlers.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{js_sys, web_sys};

use crate::affinity::url::{rewrite_url, Written};
use crate::gateway::pipeline::refresh_carrying;

#[wasm_bindgen(inline_js = r#"
export function rewrite_html(response, decide, base, param, value) {
  // A <base href> that is not the same site (by the same decision as links) takes every
  // relative link elsewhere: after it, no link carries the value. A browser resolves every link
  // of the page against the first <base href>, wherever it stands, so such a base after links
  // that already carry the value (user content injected into the body) is taken out.
  let elsewhere = false;
  let carried = false;
  // What `decide` answered for each URL of this page (the same link often appears more than
  // once: a product's image and title, a menu in the header and the footer): the call into the
  // wasm is about a third of what a link costs (bench/url-mode.mjs). At most 1024 URLs of at
  // most 2048 characters are kept. `refresh`: `url` is the content of a
  // <meta http-equiv="refresh">, its URL after the delay (always asked).
  const known = new Map();
  const same = (url, refresh) => {
    if (refresh) return decide(base, url, param, value, true) ?? null;
    let out = known.get(url);
    if (out === undefined) {
      out = decide(base, url, param, value, false) ?? null;
      if (known.size < 1024 && url.length <= 2048) known.set(url, out);
    }
    return out;
  };
  const carry = (url, refresh) => {
    const out = elsewhere ? null : same(url, refresh);
    if (out != null) carried = true;
    return out;
  };
  const attr = (name) => ({ element(el) {
    const url = el.getAttribute(name);
    const out = url === null ? undefined : carry(url);
    if (out != null) el.setAttribute(name, out);
  } });
  // How many buttons submitting a form to another site the page has had so far; the forms (by
  // id) that such a button outside them names in its `form` attribute; and the ids of the GET
  // forms given the hidden field.
  let away = 0;
  const awayIds = new Set();
  const carrying = new Set();
  // Which form a browser's parser gives the fields that follow (the HTML standard's "form
  // element pointer"): a form's start tag sets it, unless it is set already (the browser then
  // ignores that start tag, and the fields after it belong to the form still set: user content
  // that leaves a form to another site open before a page's own form), and only a `</form>`
  // clears it, not the end of an element around the form (`<div><form></div>`), which the
  // rewriter reports as the form's end. A hidden field goes in only where the browser gives it
  // to its own form: at that form's `</form>`, the pointer still on it. Forms in a <template>,
  // in SVG or in MathML set no pointer.
  const HTML_NS = 'http://www.w3.org/1999/xhtml';
  let pointer = null;
  let templates = 0;
  const form = { element(el) {
    const action = el.getAttribute('action');
    const target = action === null || action.trim() === '' ? base : action;
    const parsed = el.namespaceURI === HTML_NS && templates === 0;
    const own = parsed && pointer === null;
    const self = {};
    if (own) pointer = self;
    let give = false;
    const before = away;
    const id = el.getAttribute('id');
    // `method` is GET unless it is `post` or `dialog`, in any case and with no spaces around:
    // anything else is invalid, and read as GET.
    const method = (el.getAttribute('method') || '').toLowerCase();
    if (method !== 'post' && method !== 'dialog') {
      // A GET form replaces its action's query: the value goes in a hidden field, which goes
      // with every submission of the form, also by a button whose formaction leads to another
      // site. So it is added at the form's end, once its buttons are seen, and only when none
      // leads elsewhere, nor one named the form from before it.
      give = own && carry(target) != null && !awayIds.has(id);
    } else if (action !== null && action.trim() !== '') {
      const out = carry(action);
      if (out != null) el.setAttribute('action', out);
    }
    if (!parsed) return;
    el.onEndTag((end) => {
      // Only at its `</form>`: a form ended by an element around it stays the browser's form
      // for the fields and buttons after it, one of which may submit it elsewhere.
      if (give && end.name === 'form' && pointer === self && away === before) {
        end.before(`<input type="hidden" name="${param}" value="${value}">`, { html: true });
        if (id !== null) carrying.add(id);
      }
      if (end.name === 'form' && templates === 0) pointer = null;
    });
  } };
  const template = { element(el) {
    if (el.namespaceURI !== HTML_NS) return;
    templates++;
    el.onEndTag((end) => {
      if (end.name === 'template') templates--;
    });
  } };
  // A button that takes its form's fields, a hidden field too, where the value must not go.
  const leave = (el) => {
    away++;
    const owner = el.getAttribute('form');
    if (owner === null) return;
    awayIds.add(owner);
    // A form earlier in the page, its hidden field given: the button no longer submits it (a
    // `form` attribute naming no element leaves it without a form).
    if (carrying.has(owner)) el.setAttribute('form', '');
  };
  const submitter = { element(el) {
    const url = el.getAttribute('formaction');
    if (url.trim() === '' || (!elsewhere && same(url) != null)) return;
    leave(el);
  } };
  // A link's pings to other sites go: each ping carries the link's URL (`Ping-To`, the value
  // in it) whatever the referrer policy, and the page's (`Ping-From`) from a page not served
  // over TLS. Pings to the same site stay (the gateway takes the value out of both headers).
  const pings = { element(el) {
    const kept = el.getAttribute('ping').split(/[\t\n\f\r ]+/)
      .filter((url) => url !== '' && !elsewhere && same(url) != null);
    if (kept.length > 0) el.setAttribute('ping', kept.join(' '));
    else el.removeAttribute('ping');
  } };
  // No Referer with the value to other sites, whatever the page asks.
  const policy = (name) => ({ element(el) {
    const p = (el.getAttribute(name) || '').trim().toLowerCase();
    if (p !== 'no-referrer' && p !== 'same-origin') el.setAttribute(name, 'same-origin');
  } });
  // An <iframe srcdoc> is a document of its own, whose requests send this page's URL as their
  // Referer and which may ask for a weaker policy: its markup, an attribute's value whose
  // character references only a browser decodes, cannot be rewritten here. It goes (the frame
  // loads its `src`, or nothing).
  const srcdoc = { element(el) {
    el.removeAttribute('srcdoc');
  } };
  // A <noscript>'s content is text to the rewriter, as to a browser running scripts, but
  // markup to one without, which the handlers above never see. It is rewritten on its own by the
  // handlers that keep the value from other sites (referrer policies, pings, srcdoc), and the
  // start tags of a <base> and a <form> there, which would take this page's links or fields
  // carrying the value elsewhere, are written as text. Markup the rewriter cannot read
  // (workerd's HTMLRewriter stops where it cannot tell how a browser would) is all text, and so
  // is, passed on as it streams, the content of a <noscript> in a <noscript> (read again at each
  // level, nested start tags would cost the square of the page) and the rest of one past
  // NOSCRIPT_HELD characters (held whole, it would stop the page's streaming and take memory
  // without bound).
  const NOSCRIPT_HELD = 65536;
  const text = (markup) => markup.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
  const inner = async (markup) => {
    try {
      return await guard(new HTMLRewriter(), true).transform(new Response(markup)).text();
    } catch {
      return text(markup);
    }
  };
  const noscript = (nested) => {
    let held = '';
    let plain = nested;
    return { async text(t) {
      if (plain || held.length + t.text.length > NOSCRIPT_HELD) {
        t.replace(text(held + t.text), { html: true });
        held = '';
        plain = nested || !t.lastInTextNode;
        return;
      }
      held += t.text;
      if (!t.lastInTextNode) return t.remove();
      const markup = await inner(held);
      held = '';
      t.replace(markup.replace(/<(?=(base|form)([\t\n\f\r />]|$))/gi, '&lt;'), { html: true });
    } };
  };
  // MathML's <mglyph> and <malignmark> stay MathML in an <mi>, <mo>, <mn>, <ms> or <mtext>,
  // where a browser reads a <style> as an element and an <img> after it as HTML, with its
  // referrer policy; workerd's HTMLRewriter reads that <style> as text, which the handlers here
  // never see. They go, with their content (MathML Core has neither).
  const unread = { element(el) {
    el.remove();
  } };
  // The handlers that keep the value from other sites, in the page and in its <noscript>s.
  const guard = (rewriter, nested = false) => rewriter
    .on('mglyph', unread)
    .on('malignmark', unread)
    .on('noscript', noscript(nested))
    .on('iframe[srcdoc]', srcdoc)
    .on('a[ping]', pings)
    .on('area[ping]', pings)
    .on('[referrerpolicy]', policy('referrerpolicy'))
    .on('meta[name="referrer" i]', policy('content'));
  // A charset that only the page's markup names, other than UTF-8 (`<meta charset="windows-1252">`
  // and a Content-Type without one): the rewriter reads the page as UTF-8, and a link it
  // rewrote would lose its other characters. After such a declaration no link carries the
  // value, as after a <base href> to another site.
  const named = /;\s*charset\s*=/i.test(response.headers.get('content-type') || '');
  const UTF_8 = /^(utf-?8|unicode-1-1-utf-8|unicode11utf8|unicode20utf8|x-unicode20utf8)$/;
  const charset = (label) => {
    if (!named && !UTF_8.test(label.trim().replace(/^["']|["']$/g, '').trim().toLowerCase())) {
      elsewhere = true;
    }
  };
  return guard(new HTMLRewriter())
    .on('meta[charset]', { element(el) {
      charset(el.getAttribute('charset'));
    } })
    .on('meta[http-equiv="content-type" i][content]', { element(el) {
      const label = /charset\s*=\s*([^;]*)/i.exec(el.getAttribute('content'));
      if (label !== null) charset(label[1]);
    } })
    .on('base[href]', { element(el) {
      if (same(el.getAttribute('href')) != null) return;
      if (carried) el.remove();
      elsewhere = true;
    } })
    .on('a[href]', attr('href'))
    .on('area[href]', attr('href'))
    .on('iframe[src]', attr('src'))
    .on('frame[src]', attr('src'))
    .on('template', template)
    .on('form', form)
    .on('button[formaction]', attr('formaction'))
    .on('input[formaction]', attr('formaction'))
    .on('[formaction]', submitter)
    // A redirect after a delay, written the usual way (`0; url=/next`), as the header is.
    .on('meta[http-equiv="refresh" i][content]', { element(el) {
      const out = carry(el.getAttribute('content'), true);
      if (out != null) el.setAttribute('content', out);
    } })
    // A button that posts a GET form sends its fields in the body, where the gateway cannot
    // take the value out before the origin sees it: such a form gets no hidden field.
    .on('[formmethod="post" i]', { element: leave })
    .transform(response);
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn rewrite_html(
        response: &web_sys::Response,
        decide: &js_sys::Function,
        base: &str,
        param: &str,
        value: &str,
    ) -> Result<web_sys::Response, JsValue>;
}

type Decide = Closure<dyn Fn(String, String, String, String, bool) -> Option<String>>;

thread_local! {
    /// One callback for every answer (it holds nothing of a request): never one leaked per
    /// request, though the rewriting outlives the call that starts it.
    static DECIDE: Decide = Closure::new(
        |base: String, url: String, param: String, value: String, refresh: bool| {
            if refresh {
                refresh_carrying(&base, &url, &param, &value, Written::Html)
            } else {
                rewrite_url(&base, &url, &param, &value, Written::Html)
            }
        },
    );
}

/// `response` with its same-site URLs carrying `param=value`, rewritten as it streams.
pub(super) fn html(
    response: &web_sys::Response,
    base: &str,
    param: &str,
    value: &str,
) -> Result<web_sys::Response, JsValue> {
    DECIDE.with(|decide| {
        rewrite_html(
            response,
            decide.as_ref().unchecked_ref(),
            base,
            param,
            value,
        )
    })
}
