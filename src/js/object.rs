//! Claims across the wasm boundary, in less time than wasm-bindgen's general paths.
//!
//! **Out** ([`claims_to_js`], or for `verify` and `verifyJwt` [`keep_claims`] and the glue's
//! call of `claims_at` after the wasm returned: src/js/thrown.rs): verified claims (JSON text this
//! crate checked) become the object `JSON.parse` gives. V8's `JSON.parse` costs about 70 ns per member (each name looked up, a map
//! transition per member), while a copy of an object of the same shape (`{...template}`) and one
//! store per member cost a fraction of that. The JavaScript below keeps per shape (the member
//! names in order; at most 64 shapes per module instance) a template whose values are all
//! `null`, made from the first claims of that shape by `JSON.parse`: only names are kept, never a
//! value. Claims that are exactly `{"name":value,...}` in a known shape, each value a string
//! without escapes, an integer of at most 15 digits (exact as a number), `true`, `false` or
//! `null`, are read into a copy of the template; anything else (nested values, fractions,
//! escapes, whitespace, another order, a name that is not printable ASCII, needs escaping or is
//! `__proto__`, which a store would not create as a property) goes to `JSON.parse`, so the object
//! is always the one `JSON.parse` gives.
//!
//! The claims are read where they lie, as bytes of the wasm memory: the text is not decoded as a
//! whole (in workerd a `TextDecoder` call and the view it needs cost about as much as the read
//! itself), only each string value, ASCII ones with `String.fromCharCode`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

use wasm_bindgen::prelude::*;

use super::js_error;
use crate::error::Error;

#[wasm_bindgen(inline_js = r#"
// Per shape: { template, names, heads }, heads[i] being the bytes of `{"name":` or `,"name":`.
const shapes = [];
let last = 0;
// A view of the wasm memory of the last call (see `view`).
let bytes = null;
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
// Reused arguments of String.fromCharCode, per length (short strings only: the arguments go on
// the stack).
const codes = [];
const f = String.fromCharCode;
// The string value m[start..end): raw UTF-8, no escapes (the caller checked). Up to 16 ASCII
// characters, `String.fromCharCode` is called with as many arguments: V8 then calls it directly,
// in about half the time of an `apply` on an array.
function text(m, start, end, ascii) {
  const n = end - start;
  const s = start;
  if (ascii) {
    switch (n) {
      case 1: return f(m[s]);
      case 2: return f(m[s], m[s + 1]);
      case 3: return f(m[s], m[s + 1], m[s + 2]);
      case 4: return f(m[s], m[s + 1], m[s + 2], m[s + 3]);
      case 5: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4]);
      case 6: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5]);
      case 7: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6]);
      case 8: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6], m[s + 7]);
      case 9: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6], m[s + 7], m[s + 8]);
      case 10: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6], m[s + 7], m[s + 8], m[s + 9]);
      case 11: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6], m[s + 7], m[s + 8], m[s + 9], m[s + 10]);
      case 12: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6], m[s + 7], m[s + 8], m[s + 9], m[s + 10], m[s + 11]);
      case 13: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6], m[s + 7], m[s + 8], m[s + 9], m[s + 10], m[s + 11], m[s + 12]);
      case 14: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6], m[s + 7], m[s + 8], m[s + 9], m[s + 10], m[s + 11], m[s + 12], m[s + 13]);
      case 15: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6], m[s + 7], m[s + 8], m[s + 9], m[s + 10], m[s + 11], m[s + 12], m[s + 13], m[s + 14]);
      case 16: return f(m[s], m[s + 1], m[s + 2], m[s + 3], m[s + 4], m[s + 5], m[s + 6], m[s + 7], m[s + 8], m[s + 9], m[s + 10], m[s + 11], m[s + 12], m[s + 13], m[s + 14], m[s + 15]);
    }
  }
  if (!ascii || n > 64) return decoder.decode(m.subarray(start, end));
  const a = (codes[n] ??= new Array(n));
  for (let i = 0; i < n; i++) a[i] = m[start + i];
  return f.apply(null, a);
}
// The claims m[start..end) read into a copy of `shape.template`, or undefined when they are not
// exactly of that shape with values of the fast path.
function read(shape, m, start, end) {
  const { heads, names } = shape;
  const object = { ...shape.template };
  let at = start;
  for (let i = 0; i < heads.length; i++) {
    const head = heads[i];
    if (at + head.length > end) return undefined;
    for (let k = 0; k < head.length; k++) if (m[at + k] !== head[k]) return undefined;
    at += head.length;
    const c = m[at];
    let value;
    if (c === 34) {
      // A string without escapes or control characters, ending before the claims do.
      const first = ++at;
      let ascii = true;
      let d = m[at];
      while (d !== 34) {
        if (d === 92 || d < 32 || at >= end) return undefined;
        if (d > 127) ascii = false;
        d = m[++at];
      }
      value = text(m, first, at++, ascii);
    } else if (c === 116) {
      if (m[at + 1] !== 114 || m[at + 2] !== 117 || m[at + 3] !== 101) return undefined;
      at += 4;
      value = true;
    } else if (c === 102) {
      if (m[at + 1] !== 97 || m[at + 2] !== 108 || m[at + 3] !== 115 || m[at + 4] !== 101) return undefined;
      at += 5;
      value = false;
    } else if (c === 110) {
      if (m[at + 1] !== 117 || m[at + 2] !== 108 || m[at + 3] !== 108) return undefined;
      at += 4;
      value = null;
    } else {
      // -?(0|[1-9][0-9]*), at most 15 digits: exact. A fraction or an exponent after it fails
      // the next head (or the closing brace).
      const negative = c === 45;
      if (negative) at++;
      // Read in parts of at most 8 digits, each a small integer (V8's Smi: a 10-digit time in
      // one sum leaves that range, and its arithmetic with it), joined as numbers.
      const first = at;
      let n = 0;
      let part = 0;
      let scale = 1;
      let d = m[at] - 48;
      while (d >= 0 && d <= 9 && at < end) {
        part = part * 10 + d;
        scale *= 10;
        d = m[++at] - 48;
        if (scale === 100000000) {
          n = n * scale + part;
          part = 0;
          scale = 1;
        }
      }
      n = n * scale + part;
      const digits = at - first;
      if (digits === 0 || digits > 15 || (digits > 1 && m[first] === 48)) return undefined;
      value = negative ? -n : n;
    }
    put(object, names, i, value);
  }
  return at === end - 1 && m[at] === 125 ? object : undefined;
}
// `o[k[i]] = v`, the first eight members each by a statement of their own: each such store sees
// one name per shape, and V8 then writes the value where the object's layout has it, where one
// store for every name looks the name up.
function put(o, k, i, v) {
  switch (i) {
    case 0: o[k[0]] = v; break;
    case 1: o[k[1]] = v; break;
    case 2: o[k[2]] = v; break;
    case 3: o[k[3]] = v; break;
    case 4: o[k[4]] = v; break;
    case 5: o[k[5]] = v; break;
    case 6: o[k[6]] = v; break;
    case 7: o[k[7]] = v; break;
    default: o[k[i]] = v;
  }
}
// The wasm memory of the last call, and a view of it. Each call names its memory: instances of
// one build may share this module (a CommonJS glue required again keeps its ES module
// snippets), and each reads its claims in its own memory.
let memory = null;
function view(m) {
  // Made again for another memory, or when the memory grew: its old buffer is then detached,
  // of length 0. (Reading `memory.buffer` on every call costs more than the check.)
  if (m !== memory || bytes.byteLength === 0) {
    memory = m;
    bytes = new Uint8Array(m.buffer);
  }
  return bytes;
}
// What `claims_object` threw, its flag set: wasm-bindgen's `catch` would wrap every call in a
// closure and an `apply`, which cost more than the flag.
let thrown;
export function claims_thrown() {
  const e = thrown;
  thrown = undefined;
  return e;
}
// `threw`: the address of the byte set (in `m`) when it throws.
export function claims_object(m, threw, start, length) {
  try {
    return claims_read(view(m), start, length);
  } catch (e) {
    thrown = e;
    new Uint8Array(m.buffer)[threw] = 1;
  }
}
// `f(arg)`, or what it threw, its flag set: wasm-bindgen's `catch` imports that return a value
// (`Function::call1`'s) keep a slot of its table of JavaScript values for each exception, never
// given back.
export function call_caught(m, threw, f, arg) {
  try {
    return f(arg);
  } catch (e) {
    thrown = e;
    new Uint8Array(m.buffer)[threw] = 1;
  }
}
// `o[name]` (a request's `headers`), or what its getter or Proxy threw, its flag set: for the
// same reason, on the reads of each request.
export function get_caught(m, threw, o, name) {
  try {
    return o[name];
  } catch (e) {
    thrown = e;
    new Uint8Array(m.buffer)[threw] = 1;
  }
}
// `headers.get(name)`, or what it threw (a TypeError when it has no `get`), its flag set.
export function header_caught(m, threw, headers, name) {
  try {
    return headers.get(name);
  } catch (e) {
    thrown = e;
    new Uint8Array(m.buffer)[threw] = 1;
  }
}
// The claims `verify` kept for the glue (src/js/thrown.rs), in the wasm memory `m`: `at` is
// start * 2^21 + length. Read once the wasm call has returned, so that what the reader throws
// (out of memory, say) is thrown as it is, no wasm frames in between.
export function claims_at(at, m) {
  const start = Math.floor(at / 2097152);
  return claims_read(view(m), start, at - start * 2097152);
}
function claims_read(m, start, length) {
  const end = start + length;
  const n = shapes.length;
  for (let i = 0; i < n; i++) {
    const s = (last + i) % n;
    const object = read(shapes[s], m, start, end);
    if (object !== undefined) {
      last = s;
      return object;
    }
  }
  const object = JSON.parse(decoder.decode(m.subarray(start, end)));
  const names = Object.keys(object);
  const plain = (name) => name !== "__proto__" && /^[ !#-[\]-~]*$/.test(name);
  if (n < 64 && names.length > 0 && names.every(plain)) {
    const template = { ...object };
    for (const name of names) template[name] = null;
    const heads = names.map((name, i) => Array.from((i === 0 ? '{"' : ',"') + name + '":', (c) => c.charCodeAt(0)));
    const shape = { template, names, heads };
    // Kept only when the claims are read back the same way (they are not when, say, JavaScript
    // puts a name like "1" before the others, or a value is not of the fast path).
    if (read(shape, m, start, end) !== undefined) shapes.push(shape);
  }
  return object;
}
"#)]
extern "C" {
    fn claims_object(memory: &JsValue, threw: usize, start: usize, length: usize) -> JsValue;
    fn call_caught(memory: &JsValue, threw: usize, f: &js_sys::Function, arg: &JsValue) -> JsValue;
    fn get_caught(memory: &JsValue, threw: usize, o: &JsValue, name: &str) -> JsValue;
    fn header_caught(memory: &JsValue, threw: usize, headers: &JsValue, name: &str) -> JsValue;
    fn claims_thrown() -> JsValue;
}

/// Set to 1 by the JavaScript above when `claims_object`, `call_caught`, `get_caught` or
/// `header_caught` threw.
static THREW: AtomicU8 = AtomicU8::new(0);

/// `JSON.parse(json)`, for JSON text this crate checked (verified claims): see the module docs.
pub(crate) fn claims_to_js(json: &str) -> Result<JsValue, JsValue> {
    let (memory, threw) = (wasm_bindgen::memory(), THREW.as_ptr() as usize);
    unless_thrown(claims_object(
        &memory,
        threw,
        json.as_ptr() as usize,
        json.len(),
    ))
}

/// `f(arg)`, `this` undefined, or what it threw: the callbacks the library calls (a
/// `minIssuedAt` lookup, an `update`'s change).
pub(crate) fn call(f: &js_sys::Function, arg: &JsValue) -> Result<JsValue, JsValue> {
    let (memory, threw) = (wasm_bindgen::memory(), THREW.as_ptr() as usize);
    unless_thrown(call_caught(&memory, threw, f, arg))
}

/// `o[name]`, or what reading it threw (a getter, a Proxy's trap): a request's `headers`.
pub(crate) fn get(o: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    let (memory, threw) = (wasm_bindgen::memory(), THREW.as_ptr() as usize);
    unless_thrown(get_caught(&memory, threw, o, name))
}

/// `headers.get(name)`, or what it threw (a `TypeError` when `headers` has no `get`).
pub(crate) fn header(headers: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    let (memory, threw) = (wasm_bindgen::memory(), THREW.as_ptr() as usize);
    unless_thrown(header_caught(&memory, threw, headers, name))
}

/// `answer`, or what the JavaScript above threw in its place.
fn unless_thrown(answer: JsValue) -> Result<JsValue, JsValue> {
    match THREW.swap(0, Ordering::Relaxed) {
        0 => Ok(answer),
        _ => Err(claims_thrown()),
    }
}

/// The claims lengths `claims_at` can be told: 2^21 bytes, more than any token's (`maxTokenBytes`
/// is at most 1 MiB), with the start below 2^32, all exact in a number.
const KEPT_LENGTHS: usize = 1 << 21;

/// Keeps `json` (verified claims) in `kept` for `claims_at`, the JavaScript above that the glue
/// calls once the wasm call has returned (src/js/thrown.rs): where they lie,
/// `start * 2^21 + length`.
pub(crate) fn keep_claims(json: String, kept: &Cell<String>) -> Result<f64, JsValue> {
    if json.len() >= KEPT_LENGTHS {
        return Err(js_error(Error::TooLarge {
            len: json.len(),
            max: KEPT_LENGTHS - 1,
        }));
    }
    let at = json.as_ptr() as usize as f64 * KEPT_LENGTHS as f64 + json.len() as f64;
    kept.set(json);
    Ok(at)
}
