//! `SessionStore` for JavaScript (feature `store`): sessions in Workers KV, in Durable Objects
//! or in memory, with async methods returning Promises. Thin wrappers over
//! [`crate::store::Sessions`]; the platform calls are in `crate::store::{kv, durable}`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Promise, Reflect};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::cookie::{cookie_header, cookie_spec};
use super::{
    call_now, call_option_number as option_number, js_error, json_or_invalid, parse,
    read_call_options, seconds, CallOption, CallOptions,
};
use crate::cookie::{cache, SetCookie, MAX_PRESENTED};
use crate::error::Error;
use crate::keys::KeyRing;
use crate::store::durable::{self, DurableStore};
use crate::store::kv::KvStore;
use crate::store::memory::MemoryStore;
use crate::store::{AnyStore, Consistency, Session as CoreSession, Sessions};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The part of a Workers KV namespace binding the store uses. */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  /** With `expirationTtl` (seconds from now), or `expiration` (seconds since the epoch) for a key written back as it was listed. */
  put(key: string, value: string, options?: { expirationTtl?: number; expiration?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  /** Each key with its `expiration` (seconds since the epoch), as Workers KV lists them. */
  list(options?: { prefix?: string; cursor?: string }): Promise<{ keys: { name: string; expiration?: number }[]; list_complete: boolean; cursor?: string }>;
}

/** The part of a Durable Object namespace binding the store uses. Its class must answer with `handleSessionObject`. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: any): { fetch(url: string, init?: { method?: string; body?: string }): Promise<Response> };
}

/** The part of a Durable Object's `ctx.storage` a session object uses. */
export interface DurableObjectStorageLike {
  get(key: string): Promise<unknown>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<boolean>;
  list(options?: { prefix?: string; limit?: number }): Promise<Map<string, unknown>>;
  deleteAll(): Promise<void>;
  setAlarm(scheduledTimeMs: number): Promise<void>;
}

/** Options of `new SessionStore(...)`. Give `kv` or `durableObject`, not both; with neither, sessions live in memory (tests). */
export type SessionStoreConfig = SessionStoreOptions & (
  | {
      /** Workers KV: eventually consistent (~60 s to other locations), last write wins, 1 write/s per key. Given as `undefined` or `null` (a misspelt binding): `invalid_config`. */
      kv: KvNamespaceLike;
      durableObject?: never;
    }
  | {
      /** Durable Objects, one per session: strongly consistent, compare-and-set (`conflict`). */
      durableObject: DurableObjectNamespaceLike;
      kv?: never;
    }
  | { kv?: never; durableObject?: never }
);

/** The options of `SessionStoreConfig` besides its store. */
export interface SessionStoreOptions {
  /** The keyring (as for `SessionTokens`): the first key signs the cookie and seals records, all keys open. */
  keys: KeyConfig[];
  /** A session ends this long after its last write (default 1800; 2 to 4294967295). */
  idleTimeoutSeconds?: number;
  /** A session ends this long after its creation (default 86400, or `idleTimeoutSeconds` if longer; at least that, at most 4294967295). */
  absoluteTimeoutSeconds?: number;
  /** An unchanged session is rewritten (touched) at most this often (default 60, or half `idleTimeoutSeconds` if less; less than that). */
  touchIntervalSeconds?: number;
  /** Largest session data, in bytes of JSON, the subject's bytes counted with it (default 16384, at most 65536); a subject is at most 1024 bytes. */
  maxDataBytes?: number;
  /** Separates unrelated stores sharing a keyring (default "session"). */
  purpose?: string;
  /** A store operation slower than this fails with `store_unavailable` (default 5000; 1 to 2147483647, the longest a timer waits). */
  timeoutMs?: number;
  /** The session cookie's name, read by `load(request)` and written by `setCookie` (default "__Host-sid", as at the gateway). */
  cookieName?: string;
  /** The session cookie's attributes (default: Path=/, Secure, HttpOnly, SameSite=Lax); `Max-Age` is the session's absolute timeout. */
  cookieOptions?: Omit<CookieOptions, "maxAge">;
}

/** Where `load`, `find` and `update` take the session cookie from: its value, the request (or headers) carrying it, or the text of a Cookie header (`request.headers.get("cookie")`: a text with a `=`, which no value of the cookie has; a header holding nothing but a nameless cookie, which a sibling subdomain can set, would read as a value: pass the request or its headers where you can); of several cookies of its name, the first of the first four that names a live session. */
export type SessionCookieSource = string | Request | Headers | { headers: { get(name: string): string | null } } | null | undefined;

/** A response whose headers can change (not one returned by `fetch`, whose headers are immutable): `applyCookies` and `clearCookies` append the `Set-Cookie` and make it private. */
export interface ResponseLike {
  headers: {
    append(name: string, value: string): void;
    get(name: string): string | null;
    set(name: string, value: string): void;
    delete(name: string): void;
  };
}

/** Session data: a JSON object. Its objects come back with their members in name order (`set("cart", { b: 1, a: 2 })`,
 * then `get("cart")` gives `{ a: 2, b: 1 }`): JSON leaves that order open; keep an order in an array. */
export type SessionData = { [name: string]: unknown };

/** What `commit` did: nothing, a touch (idle timeout extended), a write (with a new id, and a cookie to send, when the subject of a stored session changed), or the first write (send the cookie). */
export type CommitResult = "unchanged" | "touched" | "written" | "created";

/** Codes of the store's errors, as `error.code` (besides those of the cookie: `bad_signature`, `expired`, `malformed`...); `invalid_claims` is a value `session.set` or `session.data` cannot keep (no JSON form, a lone surrogate, 128 levels deep, or data that is not an object), or, at `commit`, data nested more than 127 deep; `randomness_unavailable` when the runtime gives no `crypto.getRandomValues` for a new session id. */
export type StoreErrorCode = "conflict" | "store_unavailable" | "too_large" | "invalid_config" | "invalid_claims" | "randomness_unavailable";

export interface NowOptions {
  /** The current time in seconds since the epoch (default: the clock); at most 10^11 (a time in milliseconds is refused). */
  now?: number;
}

/** Options of `store.update(cookie, change, options)`. */
export interface UpdateOptions extends NowOptions {
  /** How many more times to start again on `conflict` (default 10). */
  retries?: number;
}

/** The methods of `SessionStore` declared here: `update` in both its forms, the cookie writers generic over the response they return. */
export interface SessionStore {
  /**
   * Loads the session named by the cookie (as for `load`; or a new one), calls
   * `change(session)` (and awaits it when it returns a promise), commits, and on `conflict`
   * starts again (up to `retries` more times, default 10); a session another request ended
   * meanwhile (a logout, a revocation, a login's new id), or whose id a login renewed before
   * it was loaded (`session.renewed`), rejects with `conflict` at once, never a new session
   * holding this change alone (its cookie would replace the login's).
   * Resolves to the committed session
   * (send its cookie: a change of its subject gives it a new id, as `commit` does). Options:
   * `update(cookie, change, { retries, now })`; the older positional form
   * `update(cookie, change, retries, { now })` still works (a `{ now }` after options is
   * refused, `invalid_config`: it would not be read).
   */
  update(cookie: SessionCookieSource, change: (session: Session) => unknown, options?: UpdateOptions | null): Promise<Session>;
  /** `update` in its older positional form: `retries`, then `{ now }`. */
  update(cookie: SessionCookieSource, change: (session: Session) => unknown, retries: number | null | undefined, options?: NowOptions | null): Promise<Session>;
  /**
   * Appends the session's `Set-Cookie` to `response` when there is one to send (see
   * `setCookie`), and then makes `response` private, so that no shared cache (a CDN) hands
   * the cookie and the page to other visitors: its `no-store` or `private` stays; otherwise
   * `public` and `s-maxage` give way to `private` and its other directives stay
   * (`public, max-age=600` becomes `private, max-age=600`); the fields a CDN obeys in place of
   * `Cache-Control` (`CDN-Cache-Control`, `Cloudflare-CDN-Cache-Control`,
   * `Vercel-CDN-Cache-Control`, `Surrogate-Control`, `Edge-Control`) are removed. With no
   * cookie to send (the client knows the session), `response` is left untouched: its
   * caching is the app's (a page that shows the session says `private` itself). Returns
   * `response`; headers that cannot change (a `fetch` response's) throw `invalid_config`.
   */
  applyCookies<R extends ResponseLike>(response: R, session: Session, options?: NowOptions | null): R;
  /**
   * Appends the `Set-Cookie` that deletes the session cookie to `response` (after
   * `destroy`, at logout) and makes `response` private, as `applyCookies` does; returns
   * `response`.
   */
  clearCookies<R extends ResponseLike>(response: R): R;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "SessionStoreConfig")]
    pub type SessionStoreConfig;
    #[wasm_bindgen(typescript_type = "NowOptions")]
    pub type NowOptions;
    /// `update`'s options, or (the older form) its retries.
    #[wasm_bindgen(typescript_type = "UpdateOptions | number")]
    pub type UpdateOptions;
    /// What `session.data = ...` takes: `object`, as `sign` takes its claims.
    #[wasm_bindgen(typescript_type = "object")]
    pub type SessionData;
    #[wasm_bindgen(typescript_type = "DurableObjectStorageLike")]
    pub type DurableObjectStorageLike;
    #[wasm_bindgen(typescript_type = "SessionCookieSource")]
    pub type SessionCookieSource;
    #[wasm_bindgen(typescript_type = "ResponseLike")]
    pub type ResponseLike;
    #[wasm_bindgen(method, getter, catch)]
    fn headers(this: &ResponseLike) -> Result<ResponseHeaders, JsValue>;
    type ResponseHeaders;
    #[wasm_bindgen(method, catch)]
    fn append(this: &ResponseHeaders, name: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &ResponseHeaders, name: &str) -> Result<Option<String>, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn set(this: &ResponseHeaders, name: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = delete)]
    fn remove(this: &ResponseHeaders, name: &str) -> Result<(), JsValue>;
}

/// The time of a call's options `{ now }`, read once in JavaScript ([`read_call_options`]: a
/// getter that throws is thrown, not through the wasm's frames; another name is refused).
fn now(options: Option<NowOptions>) -> Result<u64, JsValue> {
    read_call_options(
        &options.map_or(JsValue::UNDEFINED, Into::into),
        CallOptions::Now,
    )?;
    call_now()
}

fn config_error(message: impl Into<String>) -> JsValue {
    js_error(Error::config(message))
}

/// Sessions kept in Workers KV, in Durable Objects or in memory: a signed session-id cookie,
/// records encrypted at rest, idle and absolute timeouts, throttled touches, compare-and-set.
#[wasm_bindgen]
pub struct SessionStore {
    inner: Rc<Sessions<AnyStore>>,
    /// The session cookie's name and attributes.
    cookie: SetCookie,
}

#[wasm_bindgen]
impl SessionStore {
    /// Checks the configuration; throws `invalid_config` naming what is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(config: SessionStoreConfig) -> Result<SessionStore, JsValue> {
        // Any other name, own or inherited, is refused; the known ones are read as JavaScript
        // reads them (a class's getters too, which `for...in` does not list).
        let (keys, settings, timeout_ms) = super::config::store_config(&config)?;
        let get = |name: &str| Reflect::get(&config, &name.into());
        let (kv, durable) = (get("kv")?, get("durableObject")?);
        // Given but empty (`kv: env.SESIONS`, a misspelt binding): never the memory store, whose
        // sessions and revocations one isolate alone would see.
        // Of another kind (a binding's name as a string, the other kind of binding): refused
        // here, not a store_unavailable at each call, as if the store were down.
        for (setting, binding, methods) in [
            ("kv", &kv, &["get", "put", "delete", "list"][..]),
            ("durableObject", &durable, &["idFromName", "get"][..]),
        ] {
            if binding.is_null()
                || binding.is_undefined() && Reflect::has(&config, &setting.into())?
            {
                return Err(js_error(Error::config_of(
                    setting,
                    format!("{setting} is undefined or null: is the binding's name right? (Leave it out for the memory store.)"),
                )));
            }
            if !binding.is_undefined()
                && !methods
                    .iter()
                    .all(|&m| Reflect::get(binding, &m.into()).is_ok_and(|f| f.is_function()))
            {
                return Err(js_error(Error::config_of(
                    setting,
                    format!("{setting} must be a binding with {}", methods.join(", ")),
                )));
            }
        }
        let cookie_name = get("cookieName")?;
        let cookie_name = match cookie_name.as_string() {
            Some(name) => name,
            None if cookie_name.is_undefined() => DEFAULT_COOKIE_NAME.to_owned(),
            None => {
                return Err(js_error(Error::config_of(
                    "cookieName",
                    "cookieName must be a string",
                )))
            }
        };
        let cookie_options = get("cookieOptions")?;
        if !(cookie_options.is_object()
            || cookie_options.is_undefined()
            || cookie_options.is_null())
        {
            return Err(js_error(Error::config_of(
                "cookieOptions",
                "cookieOptions must be an object",
            )));
        }
        let (cookie, max_age) = cookie_spec(&cookie_name, cookie_options)?;
        if max_age.is_some() {
            return Err(js_error(Error::config_of(
                "cookieOptions",
                "cookieOptions: maxAge is the store's own (idleTimeoutSeconds, absoluteTimeoutSeconds)",
            )));
        }
        cookie.check().map_err(js_error)?;
        let timeout = timeout_ms.unwrap_or(crate::store::DEFAULT_TIMEOUT_MS);
        let store = match (kv.is_undefined(), durable.is_undefined()) {
            (false, false) => {
                return Err(js_error(Error::config_of(
                    "kv",
                    "give kv or durableObject, not both",
                )))
            }
            (false, true) => AnyStore::Kv(KvStore::new(kv).with_timeout(timeout)),
            (true, false) => AnyStore::Durable(DurableStore::new(durable).with_timeout(timeout)),
            (true, true) => AnyStore::Memory(MemoryStore::new()),
        };
        let ring = KeyRing::from_config(&keys).map_err(js_error)?;
        let inner = Sessions::new(store, &ring, settings).map_err(js_error)?;
        Ok(SessionStore {
            inner: Rc::new(inner),
            cookie,
        })
    }

    /// `"strong"` (Durable Objects, memory) or `"eventual"` (KV).
    #[wasm_bindgen(getter, unchecked_return_type = "\"strong\" | \"eventual\"")]
    pub fn consistency(&self) -> String {
        match crate::store::Backend::consistency(self.inner.store()) {
            Consistency::Strong => "strong".into(),
            Consistency::Eventual => "eventual".into(),
        }
    }

    /// The session named by the cookie (its value, or the request or headers carrying it), or
    /// a new empty one when there is none or it names nothing valid (`renewed` when it names
    /// one a login or a logout of the same browser ended a moment ago). Of several cookies of its
    /// name (a name without `__Host-` can be planted by a sibling subdomain, ahead of the
    /// client's own), the first of the first four that names a live session. Rejects only when
    /// the store fails (`store_unavailable`), and with `invalid_config` for a cookie source or
    /// options it cannot take (`load(42)`, `load(request, { nwo: 1 })`).
    #[wasm_bindgen(unchecked_return_type = "Promise<Session>")]
    pub fn load(&self, cookie: SessionCookieSource, options: Option<NowOptions>) -> Promise {
        let (sessions, now) = (self.inner.clone(), now(options));
        let cookies = self.cookie_values(&cookie);
        future_to_promise(async move {
            let cookies = cookies?;
            let s = sessions
                .load_or_renewed(cookies.iter().map(String::as_str), now?)
                .await
                .map_err(js_error)?;
            Ok(Session::loaded(s).into())
        })
    }

    /// The session named by the cookie (its value, or the request or headers carrying it), or
    /// `undefined` when there is no cookie, or the session ended or is unknown. Of several
    /// cookies of its name, the first of the first four that names a live session (`undefined`
    /// when none does and one named an ended or unknown session). Rejects with the reason
    /// otherwise (the first cookie's): `bad_signature`, `wrong_purpose` (a token of another
    /// purpose under the same keys), `expired`, `not_yet_valid`, `malformed` (cookie or record),
    /// `unknown_key`, `store_unavailable`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Session | undefined>")]
    pub fn find(&self, cookie: SessionCookieSource, options: Option<NowOptions>) -> Promise {
        let (sessions, now) = (self.inner.clone(), now(options));
        let cookies = self.cookie_values(&cookie);
        future_to_promise(async move {
            // The options first: a misspelt one is refused with a cookie or without.
            let now = now?;
            let cookies = cookies?;
            let s = sessions
                .load_first(cookies.iter().map(String::as_str), now)
                .await
                .map_err(js_error)?;
            Ok(s.map_or(JsValue::UNDEFINED, |s| Session::wrap(s).into()))
        })
    }

    /// Stores the session's changes: written when its data or subject changed, touched when
    /// unchanged for `touchIntervalSeconds`, otherwise nothing. A stored session whose subject
    /// changed since it was loaded (a login without `regenerate`, another user, a subject
    /// cleared) gets a new id as `regenerate` gives it (`"written"`; no session fixation): send
    /// its cookie (`setCookie`, `applyCookies`); the old one names nothing. Rejects with
    /// `conflict` when another request saved other data or subject first, or ended the session
    /// (Durable Objects): load it again and redo the change; and when the session is `renewed`
    /// (a login of the same browser since the request was sent) and changed but not logged in:
    /// drop the change. A touch beaten by another
    /// request's write resolves to `"unchanged"` (that write extended the session), and a
    /// change of a session other requests only touched meanwhile is stored all the same (a
    /// page's requests at once). On KV, which takes one write per second per key, a change so
    /// refused rejects with `store_unavailable` (its message ends in `429 Too Many Requests`):
    /// to retry it, wait a little over a second and `update` again, which makes the change to
    /// the session as stored then; committing this `Session` again would put its data, loaded
    /// before the other write, over that write (KV checks no version). What is set on the
    /// session while the promise is pending is kept, as a change for the next `commit`. Two commits of one `Session` at once: on Durable Objects the second
    /// to reach the store rejects with `conflict`, and the `Session` stays as the first stored it
    /// (never at an older version), what was set on it kept: commit it again to store the rest.
    #[wasm_bindgen(unchecked_return_type = "Promise<CommitResult>")]
    pub fn commit(&self, session: &Session, options: Option<NowOptions>) -> Promise {
        let (sessions, cell, now) = (self.inner.clone(), session.inner.clone(), now(options));
        let renewed = session.renewed;
        future_to_promise(async move {
            let mut s = cell.borrow().clone();
            over_a_login(renewed, &s)?;
            let key = s.store_key().to_owned();
            // Put back on an error too: a login at commit may have claimed the old id (a
            // version on) before it failed.
            let commit = sessions.commit(&mut s, now?).await;
            cell.borrow_mut().settle(&key, s);
            Ok(commit_name(commit.map_err(js_error)?).into())
        })
    }

    /// `store.update(cookie, change, options)`: declared for TypeScript, with its older
    /// positional form, in `TS_TYPES` above (one signature would take both forms at once).
    #[wasm_bindgen(skip_typescript)]
    pub fn update(
        &self,
        cookie: SessionCookieSource,
        #[wasm_bindgen(unchecked_param_type = "(session: Session) => unknown")]
        change: js_sys::Function,
        options: Option<UpdateOptions>,
        #[wasm_bindgen(js_name = positionalOptions)] positional_options: Option<NowOptions>,
    ) -> Promise {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let (retries, now) = match update_options(&options, positional_options) {
            Ok((retries, now)) => (retries, Ok(now)),
            Err(e) => (0, Err(e)),
        };
        let sessions = self.inner.clone();
        let cookies = self.cookie_values(&cookie);
        future_to_promise(async move {
            let (cookies, now) = (cookies?, now?);
            let (mut tries, mut stored) = (0, None);
            loop {
                let (s, renewed) = sessions
                    .load_or_renewed(cookies.iter().map(String::as_str), now)
                    .await
                    .map_err(js_error)?;
                s.ended_since(&mut stored).map_err(js_error)?;
                let session = Session::loaded((s, renewed));
                let cell = session.inner.clone();
                let changed = super::object::call(&change, &JsValue::from(session))?;
                // An async change: committed once its promise resolves (a rejection rejects
                // update, nothing written), never as it was at its first `await`.
                if changed.is_object() {
                    crate::store::binding::adopt(&changed).await?;
                }
                let mut s = cell.borrow().clone();
                over_a_login(renewed, &s)?;
                match sessions.commit(&mut s, now).await {
                    Ok(_) => return Ok(Session::wrap(s).into()),
                    Err(Error::Conflict) if tries < retries => {
                        tries += 1;
                        crate::store::Backend::backoff(sessions.store(), tries).await;
                    }
                    Err(e) => return Err(js_error(e)),
                }
            }
        })
    }

    /// Gives the session a new id and cookie, moving its data (pending changes included) and
    /// ending the old id (at login and privilege changes: no session fixation; `commit` does
    /// it by itself when a stored session's subject changed, and not again after this). Send
    /// `session.cookie` afterwards. What is set on the session while the promise is pending is
    /// kept, as a change for the next `commit`. Rejects with `conflict` when the session ended
    /// or changed since it was loaded (Durable Objects, memory; a touch by another request is no
    /// change), and on every store when it is `renewed` and this is no login (no `subject`
    /// set); the session then keeps its id.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn regenerate(&self, session: &Session, options: Option<NowOptions>) -> Promise {
        let (sessions, cell, now) = (self.inner.clone(), session.inner.clone(), now(options));
        let renewed = session.renewed;
        future_to_promise(async move {
            let mut s = cell.borrow().clone();
            over_a_login(renewed, &s)?;
            let key = s.store_key().to_owned();
            // Put back on an error too: the old id may have been claimed (a version on).
            let done = sessions.regenerate(&mut s, now?).await;
            cell.borrow_mut().settle(&key, s);
            done.map(|()| JsValue::UNDEFINED).map_err(js_error)
        })
    }

    /// Ends the session: it loads as none from now on, and for a minute its id loads as
    /// `renewed` (the requests its browser sent before the logout, answered after it, are told
    /// apart: they must not replace the cookie of a login that follows). Clear the cookie. The
    /// `Session` becomes a new, empty one at once (another id, nothing stored), and stays so when a `commit` or
    /// `regenerate` of it under way ends: committing it afterwards never writes the ended
    /// session back, and what is set in it afterwards (a login after the logout) is a new
    /// session.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn destroy(&self, session: &Session, options: Option<NowOptions>) -> Promise {
        let (sessions, cell) = (self.inner.clone(), session.inner.clone());
        let fresh =
            now(options).and_then(|now| Ok((sessions.new_session(now).map_err(js_error)?, now)));
        let ended = match fresh {
            Ok((fresh, now)) => Ok((std::mem::replace(&mut *cell.borrow_mut(), fresh), now)),
            Err(e) => Err(e),
        };
        future_to_promise(async move {
            let (ended, now) = ended?;
            let key = cell.borrow().store_key().to_owned();
            if let Err(e) = sessions.end(ended.clone(), now).await {
                // Not ended: the Session is it again, unless used meanwhile.
                let untouched = {
                    let s = cell.borrow();
                    s.store_key() == key
                        && s.is_new()
                        && s.data().is_empty()
                        && s.subject().is_none()
                };
                if untouched {
                    *cell.borrow_mut() = ended;
                }
                return Err(js_error(e));
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Ends every session of `subject` (set with `session.subject`); resolves to how many.
    /// A `Session` of that subject this request holds is not changed: `destroy` it too (it
    /// becomes a new, empty one: set the subject again to keep the user logged in here), as
    /// committing it would store it again on KV (`conflict` on Durable Objects).
    #[wasm_bindgen(js_name = revokeSubject, unchecked_return_type = "Promise<number>")]
    pub fn revoke_subject(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] subject: JsValue,
    ) -> Promise {
        let (sessions, subject) = (self.inner.clone(), subject_text(&subject));
        future_to_promise(async move {
            let n = sessions.revoke_subject(&subject?).await.map_err(js_error)?;
            Ok((n as f64).into())
        })
    }

    /// Refuses, from now on, every session token of `subject` issued before now ("log out
    /// everywhere", a password change): keeps now as the subject's `minIssuedAt` for
    /// `keepSeconds`, the longest such a token can live (`maxLifetimeSeconds` plus leeway). A
    /// later time already kept stays. Read it back with `minIssuedAt` and pass it to `verify`.
    #[wasm_bindgen(js_name = revokeTokens, unchecked_return_type = "Promise<void>")]
    pub fn revoke_tokens(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] subject: JsValue,
        #[wasm_bindgen(js_name = keepSeconds)] keep_seconds: f64,
        options: Option<NowOptions>,
    ) -> Promise {
        let (sessions, now) = (self.inner.clone(), now(options));
        let keep = seconds("keepSeconds", keep_seconds);
        let subject = subject_text(&subject);
        future_to_promise(async move {
            sessions
                .revoke_tokens(&subject?, now?, keep?)
                .await
                .map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Ends the tokens of one session at its logout: from now on `tokenEnded(id)` is true,
    /// `id` being the session id the tokens carry (a `sid` claim the app signs in at login), for
    /// `keepSeconds`, the longest such a token can live (`maxLifetimeSeconds` plus leeway); a
    /// later end already kept stays. A copy of the token taken before the logout is then
    /// refused where the app checks it. The record is named by the SHA-256 of `id`, no key:
    /// every store on the namespace reads it, whatever its `purpose` and keys, so make the id
    /// random (not a user's or a database's number). An empty id is `malformed`.
    #[wasm_bindgen(js_name = endToken, unchecked_return_type = "Promise<void>")]
    pub fn end_token(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(js_name = keepSeconds)] keep_seconds: f64,
        options: Option<NowOptions>,
    ) -> Promise {
        let (sessions, now) = (self.inner.clone(), now(options));
        let keep = seconds("keepSeconds", keep_seconds);
        let id = id_text(&id);
        future_to_promise(async move {
            (sessions.end_token(&id?, now?, keep?).await).map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Whether `endToken` ended the tokens of session `id`: refuse such a token (with
    /// `minIssuedAt` returning a time past its `iat`, or by hand).
    #[wasm_bindgen(js_name = tokenEnded, unchecked_return_type = "Promise<boolean>")]
    pub fn token_ended(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
    ) -> Promise {
        let (sessions, id) = (self.inner.clone(), id_text(&id));
        future_to_promise(async move {
            Ok((sessions.token_ended(&id?).await).map_err(js_error)?.into())
        })
    }

    /// The `minIssuedAt` kept for `subject` by `revokeTokens`, or `undefined`: verify its
    /// session tokens with `{ minIssuedAt }` to refuse those issued before (`revoked`).
    #[wasm_bindgen(js_name = minIssuedAt, unchecked_return_type = "Promise<number | undefined>")]
    pub fn min_issued_at(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] subject: JsValue,
    ) -> Promise {
        let (sessions, subject) = (self.inner.clone(), subject_text(&subject));
        future_to_promise(async move {
            let at = sessions.min_issued_at(&subject?).await.map_err(js_error)?;
            Ok(at.map_or(JsValue::UNDEFINED, |t| (t as f64).into()))
        })
    }

    /// Seconds the session's cookie should live (`Max-Age`): until its absolute timeout.
    #[wasm_bindgen(js_name = cookieMaxAge)]
    pub fn cookie_max_age(
        &self,
        session: &Session,
        options: Option<NowOptions>,
    ) -> Result<f64, JsValue> {
        let now = now(options)?;
        Ok(self.inner.cookie_max_age(&session.inner.borrow(), now) as f64)
    }

    /// The `Set-Cookie` value to send with the response when the client does not know the
    /// session yet (created or regenerated, and committed; a commit that changed a stored
    /// session's subject regenerates it): the session cookie with `Max-Age` until the absolute
    /// timeout. `undefined` when there is nothing to send. The value alone: the response you
    /// put it on is yours to make private (`applyCookies` does both).
    #[wasm_bindgen(js_name = setCookie)]
    pub fn set_cookie(
        &self,
        session: &Session,
        options: Option<NowOptions>,
    ) -> Result<Option<String>, JsValue> {
        let now = now(options)?;
        let s = session.inner.borrow();
        let Some(value) = s.cookie() else {
            return Ok(None);
        };
        let max_age = self.inner.cookie_max_age(&s, now);
        self.cookie
            .header(value, Some(max_age))
            .map(Some)
            .map_err(js_error)
    }

    /// Whether a browser sent `request` (a Fetch `Request`) without this store's cookie, and
    /// yet keeps the cookie its answer sets: a cross-site request (`Sec-Fetch-Site:
    /// cross-site`) with no cookie of the store's name, other than a GET or HEAD with
    /// `sameSite` `Lax` (a form another site posts), any with `Strict`. A new session's cookie
    /// sent there replaces the visitor's own: send one only at a login (`regenerate`), as the
    /// `sessionStore` middleware of `edge-session/hono` does.
    ///
    /// ```js
    /// const session = await store.load(request);
    /// session.set("flash", "saved");
    /// if (!store.withheldFrom(request)) {
    ///   await store.commit(session);
    ///   store.applyCookies(response, session);
    /// } // else nothing stored, nor sent (but after a login: regenerate, commit, send)
    /// ```
    #[wasm_bindgen(js_name = withheldFrom)]
    pub fn withheld_from(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Request")] request: &JsValue,
    ) -> Result<bool, JsValue> {
        let expected = || config_error("withheldFrom: expected a Fetch Request");
        if !request.is_object() {
            return Err(expected());
        }
        let headers = super::object::get(request, "headers")?;
        let method = super::object::get(request, "method")?;
        let (Some(method), true) = (method.as_string(), headers.is_object()) else {
            return Err(expected());
        };
        let site = super::object::header(&headers, "sec-fetch-site")?.as_string();
        Ok(self.cookie.withheld_from(&method, site.as_deref())
            && self.cookie_values(request)?.is_empty())
    }

    /// The `Set-Cookie` value that deletes the session cookie (after `destroy`); `clearCookies`
    /// appends it and makes the response private.
    #[wasm_bindgen(js_name = clearCookie)]
    pub fn clear_cookie(&self) -> Result<String, JsValue> {
        self.cookie.removal().map_err(js_error)
    }

    /// `store.applyCookies(response, session)`: declared for TypeScript in `TS_TYPES` above
    /// (generic over the response, a `ResponseLike`).
    #[wasm_bindgen(js_name = applyCookies, skip_typescript)]
    pub fn apply_cookies(
        &self,
        response: ResponseLike,
        session: &Session,
        options: Option<NowOptions>,
    ) -> Result<ResponseLike, JsValue> {
        if let Some(header) = self.set_cookie(session, options)? {
            send_cookie(&response, &header)?;
        }
        Ok(response)
    }

    /// `store.clearCookies(response)`: declared for TypeScript in `TS_TYPES` above.
    #[wasm_bindgen(js_name = clearCookies, skip_typescript)]
    pub fn clear_cookies(&self, response: ResponseLike) -> Result<ResponseLike, JsValue> {
        send_cookie(&response, &self.clear_cookie()?)?;
        Ok(response)
    }
}

/// Appends `set_cookie` to `response`, then makes it private as the gateway makes its answers
/// that set a cookie (`crate::cookie::cache`): its `Cache-Control` rewritten, the CDN's own
/// cache fields deleted.
fn send_cookie(response: &ResponseLike, set_cookie: &str) -> Result<(), JsValue> {
    let immutable = |_| {
        config_error(
            "the response's headers cannot be changed (a fetch response? copy it with new Response(body, response))",
        )
    };
    let headers = response.headers()?;
    headers
        .append("set-cookie", set_cookie)
        .map_err(immutable)?;
    for field in cache::CDN_CACHE_FIELDS {
        headers.remove(field).map_err(immutable)?;
    }
    let origin = headers.get("cache-control").map_err(immutable)?;
    if let Some(value) = cache::private_cache_control(&origin.unwrap_or_default()) {
        headers.set("cache-control", &value).map_err(immutable)?;
    }
    Ok(())
}

/// The session cookie's default name.
const DEFAULT_COOKIE_NAME: &str = "__Host-sid";

impl SessionStore {
    /// The session cookie's values from `source`: the value itself, or those of every cookie
    /// of its name the request, headers or Cookie header text (a text with a `=`, which no
    /// value of the cookie has) carry, in order, up to `MAX_PRESENTED` (none when absent):
    /// `Sessions::load_first` takes the first that names a live session.
    fn cookie_values(&self, source: &JsValue) -> Result<Vec<String>, JsValue> {
        let header = match source.as_string() {
            Some(value) if !value.contains('=') => return Ok(vec![value]),
            Some(header) => header,
            None => cookie_header(source)?.unwrap_or_default(),
        };
        Ok(crate::cookie::get_all_tokens(&header, self.cookie.name())
            .take(MAX_PRESENTED)
            .map(str::to_owned)
            .collect())
    }
}

/// A data member's name: `None` for a string that is not well-formed text (a lone surrogate:
/// as UTF-8 every such name would be one, U+FFFD in its place). Not a string (nor a `String`
/// object, which the glue reads as its string for other arguments): a `TypeError`.
fn data_name(name: &JsValue) -> Result<Option<String>, JsValue> {
    match super::text(name) {
        None if !name.is_string() => {
            Err(js_sys::TypeError::new("a data name must be a string").into())
        }
        text => Ok(text),
    }
}

/// A subject: text, without a lone surrogate, which would read as U+FFFD (so that revoking
/// `"x\uD800"` would revoke `"x\uFFFD"` and `"x\uDC00"` too).
fn subject_text(subject: &JsValue) -> Result<String, JsValue> {
    super::text(subject)
        .ok_or_else(|| config_error("a subject must be a string of well-formed text"))
}

fn id_text(id: &JsValue) -> Result<String, JsValue> {
    super::text(id).ok_or_else(|| config_error("a session id must be a string of well-formed text"))
}

/// `update`'s retries and time: from `{ retries, now }`, or from the positional form (`retries`
/// as a number, then `{ now }`).
fn update_options(options: &JsValue, legacy: Option<NowOptions>) -> Result<(usize, u64), JsValue> {
    const DEFAULT_RETRIES: usize = 10;
    let count = |n: f64| -> Result<usize, JsValue> {
        if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX) {
            Ok(n as usize)
        } else {
            Err(js_error(Error::config_of(
                "retries",
                "retries must be a whole, non-negative number",
            )))
        }
    };
    if options.is_undefined() || options.is_null() {
        return Ok((DEFAULT_RETRIES, now(legacy)?));
    }
    if let Some(n) = options.as_f64() {
        return Ok((count(n)?, now(legacy)?));
    }
    if !options.is_object() {
        return Err(config_error("update options must be { retries, now }"));
    }
    // The positional form's `{ now }` after options: never read, the clock would stand in for
    // the time given.
    if legacy.is_some() {
        return Err(config_error(
            "update: now goes in the options ({ retries, now }), not after them",
        ));
    }
    // Read once, in JavaScript: a getter that throws is thrown, another name is refused.
    read_call_options(options, CallOptions::Update)?;
    let retries = match option_number(CallOption::Retries) {
        n if n.is_nan() => DEFAULT_RETRIES,
        n => count(n)?,
    };
    Ok((retries, call_now()?))
}

fn commit_name(c: crate::store::Commit) -> &'static str {
    match c {
        crate::store::Commit::Unchanged => "unchanged",
        crate::store::Commit::Touched => "touched",
        crate::store::Commit::Written => "written",
        crate::store::Commit::Created => "created",
    }
}

/// One session: its data (a JSON object), subject and cookie. Change it, then `commit` it.
#[wasm_bindgen]
pub struct Session {
    inner: Rc<RefCell<CoreSession>>,
    renewed: bool,
}

impl Session {
    fn wrap(s: CoreSession) -> Session {
        Session::loaded((s, false))
    }

    fn loaded((s, renewed): (CoreSession, bool)) -> Session {
        Session {
            inner: Rc::new(RefCell::new(s)),
            renewed,
        }
    }
}

/// Whether `s`, loaded for an id a login renewed a moment ago (`renewed`), holds a change other
/// than a login: stored, it would be a new session whose cookie replaces the login's in the
/// browser (logged out, the new session's data lost to it), so it is refused (`conflict`).
fn over_a_login(renewed: bool, s: &CoreSession) -> Result<(), JsValue> {
    if renewed && s.is_new() && s.subject().is_none() && !s.data().is_empty() {
        return Err(js_error(Error::Conflict));
    }
    Ok(())
}

/// The longest JSON of session data (or one value of it) that [`from_js`] takes, in UTF-16 units:
/// longer, no commit could take it, whatever the store's `maxDataBytes` (at most 65,536 bytes of
/// the JSON the commit writes, where a number JavaScript writes as `100000000000000000000` is
/// `1e20`: about 5 times shorter at most). Refused before it is copied into the wasm memory,
/// which never shrinks: `session.set("name", body)` of a 30 MB body took 30 MB of it for good,
/// and only the commit refused it. The commit checks the limit itself (`too_large`).
const MAX_DATA_JSON: usize = 1 << 20;

fn to_js(value: &Value) -> Result<JsValue, JsValue> {
    parse(&serde_json::to_string(value).map_err(|e| js_error(Error::InvalidClaims(e.to_string())))?)
}

fn from_js(value: &JsValue) -> Result<Value, JsValue> {
    let json = json_or_invalid(value, "the value has no JSON form", MAX_DATA_JSON)?;
    // `JSON.stringify` writes valid JSON: what the reader refuses is nesting past its limit or
    // an escaped lone surrogate, text no store value can hold.
    serde_json::from_str(&json).map_err(|e| {
        js_error(Error::InvalidClaims(format!(
            "the value nests arrays and objects 128 deep or more, or holds a lone surrogate ({e})"
        )))
    })
}

#[wasm_bindgen]
impl Session {
    /// A copy of the data; assign `session.data = {...}` to replace it.
    #[wasm_bindgen(getter, unchecked_return_type = "SessionData")]
    pub fn data(&self) -> Result<JsValue, JsValue> {
        to_js(&Value::Object(self.inner.borrow().data().clone()))
    }

    /// Replaces the data with a JSON object.
    #[wasm_bindgen(setter)]
    pub fn set_data(&self, data: SessionData) -> Result<(), JsValue> {
        match from_js(&data)? {
            Value::Object(map) => {
                *self.inner.borrow_mut().data_mut() = map;
                Ok(())
            }
            _ => Err(js_error(Error::InvalidClaims(
                "session data must be a JSON object".into(),
            ))),
        }
    }

    /// One value of the data (a copy), or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "unknown")]
    pub fn get(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Result<JsValue, JsValue> {
        let Some(name) = data_name(&name)? else {
            return Ok(JsValue::UNDEFINED);
        };
        match self.inner.borrow().get(&name) {
            Some(v) => to_js(v),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// Sets one value of the data (anything with a JSON form), under a name of well-formed text
    /// (else `invalid_claims`, as for `data = ...`).
    pub fn set(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue,
    ) -> Result<(), JsValue> {
        let name = data_name(&name)?.ok_or_else(|| {
            js_error(Error::InvalidClaims(
                "a data name must be well-formed text".into(),
            ))
        })?;
        let value = from_js(&value)?;
        self.inner.borrow_mut().insert(name, value);
        Ok(())
    }

    /// Removes one value of the data; true when it was there.
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> Result<bool, JsValue> {
        let name = data_name(&name)?;
        Ok(name.is_some_and(|name| self.inner.borrow_mut().remove(&name).is_some()))
    }

    /// Whose session this is (for `revokeSubject`), once set.
    #[wasm_bindgen(getter)]
    pub fn subject(&self) -> Option<String> {
        self.inner.borrow().subject().map(str::to_owned)
    }

    /// Sets (or clears, with `undefined` or `null`) whose session this is. On a stored session
    /// the client knows, a change (a login, another user, a logout that keeps the session)
    /// gives it a new id at `commit`, as `regenerate` does (no session fixation): send its new
    /// cookie. A new session keeps its id (nobody knew it).
    #[wasm_bindgen(setter)]
    pub fn set_subject(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] subject: JsValue,
    ) -> Result<(), JsValue> {
        let subject = match subject.is_undefined() || subject.is_null() {
            true => None,
            false => Some(subject_text(&subject)?),
        };
        self.inner.borrow_mut().set_subject(subject);
        Ok(())
    }

    /// The cookie value to send, when the client does not know this session yet (created or
    /// regenerated, by `regenerate` or by a `commit` that changed its subject, and stored);
    /// `undefined` otherwise.
    #[wasm_bindgen(getter)]
    pub fn cookie(&self) -> Option<String> {
        self.inner.borrow().cookie().map(str::to_owned)
    }

    /// The stored version: 0 until first stored, one more at every change (not at a touch).
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> f64 {
        self.inner.borrow().version() as f64
    }

    /// True when the request's cookie named a session a login renewed, or a logout (`destroy`)
    /// ended, less than a minute ago: another request of the same browser logged in or out
    /// after this one was sent, and the browser may hold a new id's cookie by now. The session is new and empty; a change to it is
    /// refused at `commit` and `regenerate` (`conflict`), but a login (a `subject` set): stored,
    /// its cookie would replace the login's in the browser. Drop the change (`edge-session/hono`
    /// does, and logs it), as the gateway does; test it before setting a `subject` that only
    /// names the owner (which counts as a login). It stays true after `destroy`.
    #[wasm_bindgen(getter)]
    pub fn renewed(&self) -> bool {
        self.renewed
    }

    /// True until the session is stored.
    #[wasm_bindgen(getter, js_name = isNew)]
    pub fn is_new(&self) -> bool {
        self.inner.borrow().is_new()
    }

    /// When the session was created, in seconds since the epoch.
    #[wasm_bindgen(getter)]
    pub fn created(&self) -> f64 {
        self.inner.borrow().created() as f64
    }

    /// When the session was last written, in seconds since the epoch.
    #[wasm_bindgen(getter)]
    pub fn touched(&self) -> f64 {
        self.inner.borrow().touched() as f64
    }
}

/// Serves a request to a session Durable Object. Your class:
///
/// ```js
/// export class SessionObject {
///   constructor(ctx) { this.ctx = ctx; }
///   fetch(request) { return handleSessionObject(this.ctx.storage, request); }
///   alarm() { return sessionObjectAlarm(this.ctx.storage); }
/// }
/// ```
#[wasm_bindgen(js_name = handleSessionObject, unchecked_return_type = "Promise<Response>")]
pub fn handle_session_object(
    storage: DurableObjectStorageLike,
    #[wasm_bindgen(unchecked_param_type = "Request")] request: JsValue,
) -> Promise {
    future_to_promise(async move {
        let text = request.unchecked_into::<ObjectRequest>().text()?;
        let body = crate::store::binding::adopt(&text)
            .await?
            .as_string()
            .unwrap_or_default();
        let reply = durable::serve_object(&storage, &body).await;
        ObjectResponse::new(&reply).map(JsValue::from)
    })
}

#[wasm_bindgen]
extern "C" {
    /// The request a session object received (`Request`): the body is read with `text()`.
    type ObjectRequest;
    #[wasm_bindgen(method, catch)]
    fn text(this: &ObjectRequest) -> Result<Promise, JsValue>;

    /// The global `Response`, to answer a session object's request.
    #[wasm_bindgen(js_name = Response)]
    type ObjectResponse;
    #[wasm_bindgen(constructor, catch, js_class = "Response")]
    fn new(body: &str) -> Result<ObjectResponse, JsValue>;
}

/// A session Durable Object's alarm: deletes what expired.
#[wasm_bindgen(js_name = sessionObjectAlarm, unchecked_return_type = "Promise<void>")]
pub fn session_object_alarm(storage: DurableObjectStorageLike) -> Promise {
    future_to_promise(async move {
        durable::object_alarm(&storage).await.map_err(js_error)?;
        Ok(JsValue::UNDEFINED)
    })
}

/// Runs the store conformance suite (`crate::store::conformance`) against the store of
/// `bindings` (`{ kv }`, `{ durableObject }` or `{}` for memory); resolves to the JSON report.
/// Test builds only (feature `conformance`).
#[cfg(feature = "conformance")]
#[wasm_bindgen(js_name = runStoreConformance, unchecked_return_type = "Promise<string>")]
pub fn run_store_conformance(
    #[wasm_bindgen(
        unchecked_param_type = "{ kv?: KvNamespaceLike; durableObject?: DurableObjectNamespaceLike }"
    )]
    bindings: JsValue,
    now: f64,
) -> Promise {
    future_to_promise(async move {
        let get = |name: &str| Reflect::get(&bindings, &name.into()).unwrap_or(JsValue::UNDEFINED);
        let (kv, durable) = (get("kv"), get("durableObject"));
        let store = if !kv.is_undefined() {
            AnyStore::Kv(KvStore::new(kv))
        } else if !durable.is_undefined() {
            AnyStore::Durable(DurableStore::new(durable))
        } else {
            AnyStore::Memory(MemoryStore::new())
        };
        let now = super::seconds("now", now)?;
        let report = crate::store::conformance::run(&store, now).await;
        Ok(serde_json::to_string(&report).unwrap_or_default().into())
    })
}
