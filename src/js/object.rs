//! Claims across the wasm boundary, in less time than wasm-bindgen's general paths.
//!
//! **Out** ([`claims_to_js`]): verified claims (JSON text this crate checked) become the object
//! `JSON.parse` gives. V8's `JSON.parse` costs about 70 ns per member (each name looked up, a map
//! transition per member), while a copy of an object of the same shape (`{...template}`) and one
//! store per member cost a fraction of that. The JavaScript below keeps per shape (the member
//! names in order; at most 64 shapes per module instance) a template whose values are all
//! `null`, made from the first claims of that shape by `JSON.parse`: only names are kept, never a
//! value. Claims that are exactly `{"name":value,...}` in a known shape, each value a string
//! without escapes, an integer of at most 15 digits (exact as a number), `true`, `false` or
//! `null`, are read into a copy of the template; anything else (nested values, fractions,
//! escapes, whitespace, another order, a name that needs escaping or is `__proto__`, which a
//! store would not create as a property) goes to `JSON.parse`, so the object is always the one
//! `JSON.parse` gives.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
// Per shape: { template, names, heads }, heads[i] being `{"name":` or `,"name":`.
const shapes = [];
let last = 0;
// `text` read into a copy of `shape.template`, or undefined when it is not exactly of that shape
// with values of the fast path.
function read(shape, text) {
  const { heads, names } = shape;
  const object = { ...shape.template };
  let at = 0;
  for (let i = 0; i < heads.length; i++) {
    const head = heads[i];
    if (text.slice(at, at + head.length) !== head) return undefined;
    at += head.length;
    const c = text.charCodeAt(at);
    let value;
    if (c === 34) {
      // A string without escapes or control characters (NaN: the text ended).
      const start = ++at;
      let d = text.charCodeAt(at);
      while (d !== 34) {
        if (d === 92 || d < 32 || d !== d) return undefined;
        d = text.charCodeAt(++at);
      }
      value = text.slice(start, at++);
    } else if (c === 116 || c === 102 || c === 110) {
      const word = c === 116 ? "true" : c === 102 ? "false" : "null";
      if (text.slice(at, at + word.length) !== word) return undefined;
      at += word.length;
      value = c === 116 ? true : c === 102 ? false : null;
    } else {
      // -?(0|[1-9][0-9]*), at most 15 digits: exact. A fraction or an exponent after it fails
      // the next head (or the closing brace).
      const negative = c === 45;
      if (negative) at++;
      const start = at;
      let n = 0;
      let d = text.charCodeAt(at) - 48;
      while (d >= 0 && d <= 9) {
        n = n * 10 + d;
        d = text.charCodeAt(++at) - 48;
      }
      const digits = at - start;
      if (digits === 0 || digits > 15 || (digits > 1 && text.charCodeAt(start) === 48)) return undefined;
      value = negative ? -n : n;
    }
    object[names[i]] = value;
  }
  return at === text.length - 1 && text.charCodeAt(at) === 125 ? object : undefined;
}
export function claims_object(text) {
  const n = shapes.length;
  for (let i = 0; i < n; i++) {
    const s = (last + i) % n;
    const object = read(shapes[s], text);
    if (object !== undefined) {
      last = s;
      return object;
    }
  }
  const object = JSON.parse(text);
  const names = Object.keys(object);
  const plain = (name) => name !== "__proto__" && !/["\\\u0000-\u001f]/.test(name);
  if (n < 64 && names.length > 0 && names.every(plain)) {
    const template = { ...object };
    for (const name of names) template[name] = null;
    const heads = names.map((name, i) => (i === 0 ? '{"' : ',"') + name + '":');
    const shape = { template, names, heads };
    // Kept only when the text is read back the same way (it is not when, say, JavaScript puts
    // a name like "1" before the others, or a value is not of the fast path).
    if (read(shape, text) !== undefined) shapes.push(shape);
  }
  return object;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn claims_object(json: &str) -> Result<JsValue, JsValue>;
}

/// `JSON.parse(json)`, for JSON text this crate checked (verified claims): see the module docs.
pub(crate) fn claims_to_js(json: &str) -> Result<JsValue, JsValue> {
    claims_object(json)
}
