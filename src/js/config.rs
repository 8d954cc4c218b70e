//! Configuration objects from JavaScript, read field by field into the core's config structs
//! (no JSON round trip, so no JSON deserializer in the wasm). Every field is checked for its
//! type, and a field this library does not know is refused, so that a misspelt option
//! (`ttlSecond`) is an `invalid_config` error rather than silently ignored. Fields are read as
//! JavaScript reads properties, inherited ones included, so the names checked are those
//! `for...in` lists: own and inherited (`Object.create({ ttlSecond: 5 })` is refused too).

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::object;
use super::{js_error, option_names, text, unknown_option_message};
use crate::affinity::backends::weight_error;
use crate::affinity::{AffinityConfig, BackendConfig, Failover, Mode};
use crate::cookie::SameSite;
use crate::error::Error;
use crate::keys::KeyConfig;
use crate::time::MAX_TIME;
use crate::token::TokenConfig;

#[wasm_bindgen]
extern "C" {
    // `Array.from` with wasm-bindgen's catch: what a Proxy's trap or a getter throws comes back
    // as an `Err`, never through the wasm's frames (which would leave its stack pointer moved:
    // after a few thousand, every call of the instance fails).
    #[wasm_bindgen(js_namespace = Array, js_name = from, catch)]
    fn array_from(list: &JsValue) -> Result<Array, JsValue>;
    // `Array.isArray`, likewise: it throws on a revoked Proxy.
    #[wasm_bindgen(js_namespace = Array, js_name = isArray, catch)]
    fn is_array(value: &JsValue) -> Result<bool, JsValue>;
}

/// A `keys` list, `[{ id, secret }, ...]`, as the token classes and the assertions take it.
fn key_configs(list: &Array) -> Result<Vec<KeyConfig>, JsValue> {
    list.iter()
        .map(|key| {
            let k = Fields::new(&key, "keys[]", &["id", "secret"])?;
            Ok(KeyConfig {
                id: k.required("id", k.string("id")?)?,
                secret: k.required("secret", k.string("secret")?)?,
            })
        })
        .collect()
}

/// The options of `new SessionStore(...)` but its bindings and cookie (`kv`, `durableObject`,
/// `cookieName`, `cookieOptions`, which src/js/store.rs reads): its keys, the store's settings
/// and `timeoutMs`, read as the other classes' options are.
#[cfg(feature = "store")]
pub(crate) fn store_config(
    value: &JsValue,
) -> Result<(Vec<KeyConfig>, crate::store::SessionConfig, Option<u32>), JsValue> {
    let o = Fields::new(
        value,
        "config",
        &[
            "keys",
            "idleTimeoutSeconds",
            "absoluteTimeoutSeconds",
            "touchIntervalSeconds",
            "maxDataBytes",
            "purpose",
            "timeoutMs",
            "kv",
            "durableObject",
            "cookieName",
            "cookieOptions",
        ],
    )?;
    let keys = key_configs(&o.required("keys", o.list("keys")?)?)?;
    let defaults = crate::store::SessionConfig::default();
    let settings = crate::store::SessionConfig {
        idle_timeout_seconds: (o.whole("idleTimeoutSeconds")?)
            .unwrap_or(defaults.idle_timeout_seconds),
        absolute_timeout_seconds: o.whole("absoluteTimeoutSeconds")?,
        touch_interval_seconds: o.whole("touchIntervalSeconds")?,
        // Past the range `check` takes (2 to 65536) whatever a usize holds.
        max_data_bytes: (o.whole("maxDataBytes")?).map_or(defaults.max_data_bytes, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        }),
        purpose: o.string("purpose")?.unwrap_or(defaults.purpose),
    };
    // 1 to 2^31 - 1, the longest `setTimeout` waits (a longer delay fires at once: every store
    // call failed as timed out within milliseconds).
    let timeout_ms = (o.whole("timeoutMs")?)
        .map(|ms| {
            (u32::try_from(ms).ok())
                .filter(|ms| (1..=i32::MAX as u32).contains(ms))
                .ok_or_else(|| {
                    o.wrong(
                        "timeoutMs",
                        "a whole number of milliseconds, 1 to 2147483647",
                    )
                })
        })
        .transpose()?;
    Ok((keys, settings, timeout_ms))
}

/// The options of `new SessionTokens(...)` and `new SealedTokens(...)`.
pub(crate) fn token_config(value: &JsValue) -> Result<TokenConfig, JsValue> {
    let o = Fields::new(
        value,
        "config",
        &[
            "keys",
            "ttlSeconds",
            "leewaySeconds",
            "purpose",
            "maxTokenBytes",
            "refreshAfter",
            "maxLifetimeSeconds",
        ],
    )?;
    let keys = key_configs(&o.required("keys", o.list("keys")?)?)?;
    let mut config = TokenConfig::new(keys);
    if let Some(ttl) = o.whole("ttlSeconds")? {
        config.ttl_seconds = ttl;
    }
    if let Some(leeway) = o.whole("leewaySeconds")? {
        config.leeway_seconds = leeway;
    }
    if let Some(purpose) = o.string("purpose")? {
        config.purpose = purpose;
    }
    if let Some(max) = o.whole("maxTokenBytes")? {
        config.max_token_bytes = usize::try_from(max).unwrap_or(usize::MAX);
    }
    if let Some(share) = o.number("refreshAfter")? {
        config.refresh_after = share;
    }
    config.max_lifetime_seconds = o.whole("maxLifetimeSeconds")?;
    Ok(config)
}

/// The options of `new Affinity(...)`.
pub(crate) fn affinity_config(value: &JsValue) -> Result<AffinityConfig, JsValue> {
    let o = Fields::new(
        value,
        "config",
        &[
            "secret",
            "previousSecrets",
            "mode",
            "backends",
            "ttlSeconds",
            "idleSeconds",
            "cookieName",
            "sameSite",
            "domain",
            "partitioned",
            "failover",
            "param",
            "header",
        ],
    )?;
    let backends = o
        .required("backends", o.list("backends")?)?
        .iter()
        .map(|backend| {
            let b = Fields::new(&backend, "backends[]", &["id", "weight"])?;
            let mut backend = BackendConfig::new(b.required("id", b.string("id")?)?);
            if let Some(weight) = b.whole("weight")? {
                // Past a u32, refused here (the core takes a u32): its message, naming the weight.
                backend.weight = u32::try_from(weight)
                    .map_err(|_| js_error(weight_error(&backend.id, weight)))?;
            }
            Ok(backend)
        })
        .collect::<Result<Vec<_>, JsValue>>()?;
    let mut config = AffinityConfig::new(o.required("secret", o.string("secret")?)?, backends);
    for secret in o
        .list("previousSecrets")?
        .iter()
        .flat_map(|list| list.iter())
    {
        let secret = secret.as_string();
        config
            .previous_secrets
            .push(secret.ok_or_else(|| o.wrong("previousSecrets", "a list of strings"))?);
    }
    config.mode = match o.string("mode")?.as_deref() {
        None => Mode::Cookie,
        Some(name) => Mode::from_name(name).ok_or_else(|| {
            invalid_at(
                "mode",
                "mode must be \"cookie\", \"url\", \"ip\" or \"header\"",
            )
        })?,
    };
    if let Some(ttl) = o.whole("ttlSeconds")? {
        config.ttl_seconds = ttl;
    }
    config.idle_seconds = o.whole("idleSeconds")?;
    if let Some(name) = o.string("cookieName")? {
        config.cookie_name = name;
    }
    config.same_site = match o.string("sameSite")?.as_deref() {
        None => SameSite::Lax,
        Some(name) => SameSite::from_name(name).ok_or_else(|| {
            invalid_at(
                "sameSite",
                "sameSite must be \"Lax\", \"Strict\" or \"None\"",
            )
        })?,
    };
    config.domain = o.string("domain")?;
    config.partitioned = o.boolean("partitioned")?.unwrap_or(false);
    config.failover = match o.string("failover")?.as_deref() {
        None => Failover::Sticky,
        Some(name) => Failover::from_name(name)
            .ok_or_else(|| invalid_at("failover", "failover must be \"sticky\" or \"strict\""))?,
    };
    if let Some(param) = o.string("param")? {
        config.param = param;
    }
    config.header = o.string("header")?;
    Ok(config)
}

/// The options of `new OriginAssertions(...)` (feature `assertion`): the algorithm, the keys
/// (derived from `keys` as the gateway derives them from `SESSION_KEYS`, or `privateKeys`, private
/// JWKs with a `kid`), the issuer and the lifetime.
#[cfg(feature = "assertion")]
pub(crate) fn assertion_config(
    value: &JsValue,
) -> Result<(Vec<crate::token::assertion::AssertionKey>, String, u64), JsValue> {
    use crate::keys::KeyRing;
    use crate::token::assertion::{Alg, AssertionKey, MAX_LIFETIME_SECONDS};
    let o = Fields::new(
        value,
        "config",
        &["alg", "keys", "privateKeys", "issuer", "lifetimeSeconds"],
    )?;
    let alg = o.required("alg", o.string("alg")?)?;
    let alg = Alg::parse(&alg).ok_or_else(|| o.wrong("alg", "\"EdDSA\" or \"ES256\""))?;
    let keys =
        match (o.list("keys")?, o.list("privateKeys")?) {
            (Some(keys), None) => AssertionKey::derive_all(
                &KeyRing::from_config(&key_configs(&keys)?).map_err(js_error)?,
                alg,
            ),
            (None, Some(jwks)) if jwks.length() == 0 => {
                return Err(o.wrong("privateKeys", "a list of at least one private JWK"))
            }
            (None, Some(jwks)) => crate::token::assertion::distinct_kids(
                jwks.iter()
                    .map(|jwk| {
                        let text = js_sys::JSON::stringify(&jwk)
                            .ok()
                            .and_then(|t| t.as_string())
                            .unwrap_or_default();
                        AssertionKey::from_jwk(&text, alg, "privateKeys").map_err(js_error)
                    })
                    .collect::<Result<Vec<_>, JsValue>>()?,
                "privateKeys",
            )
            .map_err(js_error)?,
            _ => return Err(invalid_at(
                "keys",
                "config: give keys (derived as the gateway does) or privateKeys (JWKs), not both",
            )),
        };
    let issuer = o.required("issuer", o.string("issuer")?)?;
    let lifetime = o.whole("lifetimeSeconds")?.unwrap_or(MAX_LIFETIME_SECONDS);
    if lifetime == 0 || lifetime > MAX_LIFETIME_SECONDS {
        return Err(o.wrong("lifetimeSeconds", "1 to 300"));
    }
    Ok((keys, issuer, lifetime))
}

/// The options of `new DeviceBoundSessions(...)` (feature `dbsc`): `keys` (the keyring the
/// challenges and bound cookies are keyed from, per purpose) and `boundSeconds`.
#[cfg(feature = "dbsc")]
pub(crate) fn dbsc_config(value: &JsValue) -> Result<crate::dbsc::DeviceBinding, JsValue> {
    use crate::dbsc::{DeviceBinding, DEFAULT_BOUND_SECONDS};
    use crate::keys::KeyRing;
    let o = Fields::new(value, "config", &["keys", "boundSeconds"])?;
    let keys = key_configs(&o.required("keys", o.list("keys")?)?)?;
    let ring = KeyRing::from_config(&keys).map_err(js_error)?;
    let bound = o.whole("boundSeconds")?.unwrap_or(DEFAULT_BOUND_SECONDS);
    DeviceBinding::new(&ring, bound).map_err(js_error)
}

/// The options of `DeviceBoundSessions`' methods (feature `dbsc`), each optional unless said:
/// `path` (required by `registrationHeader`), `authorization`, `jkt`, `now`.
#[cfg(feature = "dbsc")]
#[derive(Default)]
pub(crate) struct DbscOptions {
    pub path: Option<String>,
    pub authorization: Option<String>,
    pub jkt: Option<String>,
    pub now: Option<f64>,
}

/// Reads `value` (`undefined` or `null`: no options) as the options object `what`, which may hold
/// only the fields `known` (of `path`, `authorization`, `jkt`, `now`).
#[cfg(feature = "dbsc")]
pub(crate) fn dbsc_options(
    value: &JsValue,
    what: &'static str,
    known: &[&str],
) -> Result<DbscOptions, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(DbscOptions::default());
    }
    let o = Fields::new(value, what, known)?;
    Ok(DbscOptions {
        path: o.string("path")?,
        authorization: o.string("authorization")?,
        jkt: o.string("jkt")?,
        now: o.number("now")?,
    })
}

/// The options of `sessionConfig(...)` (feature `dbsc`): session id, refresh URL, origin, cookie
/// name (all required) and the cookie's attributes (default `Path=/; Secure; HttpOnly;
/// SameSite=Lax`).
#[cfg(feature = "dbsc")]
pub(crate) fn session_config(value: &JsValue) -> Result<crate::dbsc::SessionConfig, JsValue> {
    let o = Fields::new(
        value,
        "sessionConfig",
        &[
            "sessionId",
            "refreshUrl",
            "origin",
            "cookieName",
            "attributes",
        ],
    )?;
    let session_id = o.required("sessionId", o.string("sessionId")?)?;
    let refresh_url = o.required("refreshUrl", o.string("refreshUrl")?)?;
    let origin = o.required("origin", o.string("origin")?)?;
    let cookie_name = o.required("cookieName", o.string("cookieName")?)?;
    let attributes = o
        .string("attributes")?
        .unwrap_or_else(|| "Path=/; Secure; HttpOnly; SameSite=Lax".to_owned());
    let config = crate::dbsc::SessionConfig::new(
        &session_id,
        &refresh_url,
        &origin,
        &cookie_name,
        &attributes,
    );
    config.check().map_err(js_error)?;
    Ok(config)
}

/// A JavaScript object whose fields are read one by one; `undefined` and `null` are absent.
struct Fields {
    object: JsValue,
    /// What the object is, for messages: `config`, `keys[]`...
    what: &'static str,
}

impl Fields {
    /// Checks that `value` is an object holding only the `known` fields, own or inherited.
    fn new(value: &JsValue, what: &'static str, known: &[&str]) -> Result<Self, JsValue> {
        if !value.is_object() || is_array(value)? {
            // Inside a list (`keys: ["<secret>"]`), the list is the setting.
            return Err(in_setting(
                what.strip_suffix("[]"),
                &format!("{what} must be an object"),
            ));
        }
        for name in option_names(value)?.iter() {
            let name = name.as_string().unwrap_or_default();
            if !known.contains(&name.as_str()) {
                // Inside a list, the list is the setting.
                return Err(in_setting(
                    what.strip_suffix("[]"),
                    &unknown_option_message(what, &name),
                ));
            }
        }
        Ok(Fields {
            object: value.clone(),
            what,
        })
    }

    /// The field, or what its getter (or a Proxy's trap) threw: read by src/js/object.rs's
    /// helper, as `Reflect.get` under wasm-bindgen's `catch` kept a slot of the wasm's table of
    /// JavaScript values for each exception.
    fn get(&self, name: &str) -> Result<Option<JsValue>, JsValue> {
        let value = object::get(&self.object, name)?;
        Ok(Some(value).filter(|v| !v.is_undefined() && !v.is_null()))
    }

    /// The configuration field the field `name` of this object belongs to: `name` itself in
    /// `config`, the list in `keys[]` or `backends[]`.
    fn setting(&self, name: &'static str) -> &'static str {
        self.what.strip_suffix("[]").unwrap_or(name)
    }

    fn wrong(&self, name: &'static str, expected: &str) -> JsValue {
        invalid_at(
            self.setting(name),
            &format!("{}: {name} must be {expected}", self.what),
        )
    }

    fn required<T>(&self, name: &'static str, value: Option<T>) -> Result<T, JsValue> {
        value.ok_or_else(|| self.missing(name))
    }

    /// The error of [`Fields::required`], once rather than in each of its instances.
    #[inline(never)]
    fn missing(&self, name: &'static str) -> JsValue {
        invalid_at(
            self.setting(name),
            &format!("{}: {name} is required", self.what),
        )
    }

    fn string(&self, name: &'static str) -> Result<Option<String>, JsValue> {
        self.get(name)?
            .map(|v| text(&v).ok_or_else(|| self.wrong(name, "a string")))
            .transpose()
    }

    fn number(&self, name: &'static str) -> Result<Option<f64>, JsValue> {
        self.get(name)?
            .map(|v| v.as_f64().ok_or_else(|| self.wrong(name, "a number")))
            .transpose()
    }

    /// A whole, non-negative number, at most 2^53 - 1.
    fn whole(&self, name: &'static str) -> Result<Option<u64>, JsValue> {
        match self.number(name)? {
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= MAX_TIME as f64 => Ok(Some(n as u64)),
            Some(_) => Err(self.wrong(name, "a whole, non-negative number")),
            None => Ok(None),
        }
    }

    fn boolean(&self, name: &'static str) -> Result<Option<bool>, JsValue> {
        self.get(name)?
            .map(|v| v.as_bool().ok_or_else(|| self.wrong(name, "true or false")))
            .transpose()
    }

    fn list(&self, name: &'static str) -> Result<Option<Array>, JsValue> {
        self.get(name)?
            .map(|v| {
                // Copied, under catch: the elements of a Proxy are read by its traps.
                match is_array(&v)? {
                    true => array_from(&v),
                    false => Err(self.wrong(name, "an array")),
                }
            })
            .transpose()
    }
}

/// An `invalid_config` error about the option `setting`.
fn invalid_at(setting: &'static str, message: &str) -> JsValue {
    in_setting(Some(setting), message)
}

fn in_setting(setting: Option<&'static str>, message: &str) -> JsValue {
    js_error(match setting {
        Some(setting) => Error::config_of(setting, message),
        None => Error::config(message),
    })
}
