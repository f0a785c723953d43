//! OFREP's bytes on the hot path: the request's context read straight into
//! the engine's [`Context`] (borrowing the body's strings, no intermediate
//! `serde_json::Value`), and an answer serialised into one buffer, or copied
//! from the environment version's cache when no context can change it.
//!
//! Both produce exactly what the general path (`serde_json::Value` in,
//! `json!` out) did: the fast reader gives up on anything unusual and the
//! caller then takes the general path, and answers are written with the
//! keys in the order a `serde_json::Map` sorts them. The recorded answers in
//! `server/tests/ofrep_answers.rs` hold both to that, byte for byte.

use std::borrow::Cow;
use std::fmt;

use axum::body::Bytes;
use flagyard_eval::{Context, Detail, Value};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A request body (`{"context": {...}}`, other members ignored) read
/// without copying strings that need no unescaping. `None` when the body is
/// not one the general path would read the same way: the caller falls back.
pub fn fast_context(body: &[u8]) -> Option<Context<'_>> {
    if body.is_empty() {
        return Some(Context::anonymous());
    }
    let request: Request<'_> = serde_json::from_slice(body).ok()?;
    Some(request.context.map_or_else(Context::anonymous, |c| c.0))
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    context: Option<FastContext<'a>>,
}

/// A context object. Refuses (and so sends the caller to the general path)
/// whatever the general path would refuse or read differently: members that
/// are objects, lists holding anything but strings, a targeting key that is
/// not a string or `null`.
struct FastContext<'a>(Context<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for FastContext<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ContextVisitor)
    }
}

/// A string, borrowed from the body unless it had escapes (serde's own
/// `Cow<str>` always copies).
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

struct ContextVisitor;

/// One member's value.
enum Member<'a> {
    Null,
    Attr(Value<'a>),
}

impl<'de> Visitor<'de> for ContextVisitor {
    type Value = FastContext<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a context object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<FastContext<'de>, M::Error> {
        let mut ctx = Context::anonymous();
        // As a `serde_json::Map` does: the last of equal names counts, and
        // `targetingKey` (after `key` in its sorted order) wins over `key`.
        let (mut key, mut targeting_key) = (None, None);
        while let Some(Str(name)) = map.next_key::<Str<'de>>()? {
            let member = map.next_value::<MemberSeed<'de>>()?.0;
            match (name.as_ref(), member) {
                ("key", m) => key = Some(m),
                ("targetingKey", m) => targeting_key = Some(m),
                (_, Member::Null) => ctx.remove(&name),
                (_, Member::Attr(v)) => ctx.set(name, v),
            }
        }
        for slot in [key, targeting_key].into_iter().flatten() {
            match slot {
                Member::Attr(Value::String(s)) => ctx.set("key", Value::String(s)),
                Member::Null => {}
                Member::Attr(_) => return Err(de::Error::custom("the targeting key must be a string")),
            }
        }
        Ok(FastContext(ctx))
    }
}

struct MemberSeed<'a>(Member<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for MemberSeed<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberVisitor).map(MemberSeed)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean, list of strings or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Member<'de>, E> {
        Ok(Member::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Member<'de>, E> {
        Ok(Member::Null)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Member<'de>, E> {
        Ok(Member::Attr(Value::Bool(b)))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Member<'de>, E> {
        Ok(Member::Attr(Value::Int(i)))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Member<'de>, E> {
        // As `serde_json::Number::as_i64`, then `as_f64`.
        Ok(Member::Attr(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int)))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Member<'de>, E> {
        Ok(Member::Attr(Value::Float(f)))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Member<'de>, E> {
        Ok(Member::Attr(Value::String(Cow::Borrowed(s))))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Member<'de>, E> {
        Ok(Member::Attr(Value::String(Cow::Owned(s.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Member<'de>, E> {
        Ok(Member::Attr(Value::String(Cow::Owned(s))))
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Member<'de>, S::Error> {
        let mut items = Vec::new();
        while let Some(Str(item)) = seq.next_element::<Str<'de>>()? {
            items.push(item);
        }
        Ok(Member::Attr(Value::List(items)))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Member<'de>, M::Error> {
        // Read to the end so the error is ours, then refuse.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(de::Error::custom("nested objects are not supported"))
    }
}

/// A successful single-flag answer, members in `serde_json::Map` order.
#[derive(Serialize)]
pub struct Answer<'a> {
    pub key: &'a str,
    pub metadata: Metadata<'a>,
    pub reason: &'static str,
    pub value: &'a serde_json::Value,
    pub variant: Option<&'a str>,
}

/// An answer's `metadata`.
#[derive(Serialize)]
pub struct Metadata<'a> {
    #[serde(rename = "flagyardReason", serialize_with = "display")]
    pub flagyard_reason: &'a Detail<'a>,
    pub version: i64,
}

fn display<S: serde::Serializer>(d: &&Detail<'_>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(*d)
}

/// `answer` as JSON, appended to `out`.
pub fn write_answer(out: &mut Vec<u8>, answer: &Answer<'_>) {
    // Serialising borrowed strings and a `serde_json::Value` into a vector
    // cannot fail.
    let _ = serde_json::to_writer(&mut *out, answer);
}

/// `answer` as its own buffer (for the per-version cache of constant answers).
pub fn answer_bytes(answer: &Answer<'_>) -> Bytes {
    let mut out = Vec::with_capacity(160);
    write_answer(&mut out, answer);
    Bytes::from(out)
}
