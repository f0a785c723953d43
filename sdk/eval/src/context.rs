//! The evaluation context: who or what a flag is evaluated for.
//!
//! A context is a targeting key (a user id, a device id...) plus typed
//! attributes. Building one is cheap: attribute names and string values may
//! be borrowed (`Context<'a>` holds `Cow<'a, str>`), and lookups scan a small
//! vector, which beats hashing for the handful of attributes a context has.

use std::borrow::Cow;

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A string.
    String(Cow<'a, str>),
    /// An integer (buckets as its decimal text).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A point in time, in milliseconds since the Unix epoch (UTC).
    DateTime(i64),
    /// A list of strings (string operators match when any element does).
    List(Vec<Cow<'a, str>>),
}

impl Value<'_> {
    /// A copy that owns its data.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Bool(b) => Value::Bool(b),
            Value::DateTime(ms) => Value::DateTime(ms),
            Value::List(l) => Value::List(l.into_iter().map(|s| Cow::Owned(s.into_owned())).collect()),
        }
    }

    /// The numeric value of an `Int` or `Float`.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident as $conv:ty),* $(,)?) => {$(
        impl<'a> From<$t> for Value<'a> {
            fn from(v: $t) -> Self {
                Value::$variant(<$conv>::from(v))
            }
        }
    )*};
}

value_from!(
    i64 => Int as i64, i32 => Int as i64, u32 => Int as i64, i16 => Int as i64, u16 => Int as i64,
    f64 => Float as f64, f32 => Float as f64, bool => Bool as bool,
);

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::String(Cow::Borrowed(v))
    }
}

impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::String(Cow::Owned(v))
    }
}

impl<'a> From<Cow<'a, str>> for Value<'a> {
    fn from(v: Cow<'a, str>) -> Self {
        Value::String(v)
    }
}

impl<'a> From<Vec<&'a str>> for Value<'a> {
    fn from(v: Vec<&'a str>) -> Self {
        Value::List(v.into_iter().map(Cow::Borrowed).collect())
    }
}

impl From<Vec<String>> for Value<'_> {
    fn from(v: Vec<String>) -> Self {
        Value::List(v.into_iter().map(Cow::Owned).collect())
    }
}

impl From<std::time::SystemTime> for Value<'_> {
    fn from(t: std::time::SystemTime) -> Self {
        let ms = match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
        };
        Value::DateTime(ms)
    }
}

/// Who a flag is evaluated for.
///
/// The targeting key is also readable by conditions as the attribute `key`
/// (or `targetingKey`, the OpenFeature name); setting an attribute with one of
/// those names sets the targeting key when the value is a string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context<'a> {
    key: Option<Cow<'a, str>>,
    attributes: Vec<(Cow<'a, str>, Value<'a>)>,
}

/// Whether `name` names the targeting key.
pub(crate) fn is_key_attribute(name: &str) -> bool {
    name == "key" || name == "targetingKey"
}

impl<'a> Context<'a> {
    /// A context with a targeting key.
    pub fn new(key: impl Into<Cow<'a, str>>) -> Self {
        Context { key: Some(key.into()), attributes: Vec::new() }
    }

    /// A context without a targeting key: splits on the key cannot bucket it.
    pub fn anonymous() -> Self {
        Context::default()
    }

    /// Adds (or replaces) an attribute, builder style.
    #[must_use]
    pub fn with(mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) -> Self {
        self.set(name, value);
        self
    }

    /// Adds or replaces an attribute.
    pub fn set(&mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) {
        let name = name.into();
        let value = value.into();
        if is_key_attribute(&name) {
            if let Value::String(s) = value {
                self.key = Some(s);
            }
            return;
        }
        match self.attributes.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((name, value)),
        }
    }

    /// Removes an attribute (not the targeting key), if set.
    pub fn remove(&mut self, name: &str) {
        self.attributes.retain(|(n, _)| n != name);
    }

    /// The targeting key, if any.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// An attribute by name (not the targeting key; see [`Context::key`]).
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        self.attributes.iter().find(|(n, _)| crate::index::same(n.as_bytes(), name.as_bytes())).map(|(_, v)| v)
    }

    /// The attributes in insertion order.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.attributes.iter().map(|(n, v)| (n.as_ref(), v))
    }

    /// A copy that owns all its data.
    pub fn into_owned(self) -> Context<'static> {
        Context {
            key: self.key.map(|k| Cow::Owned(k.into_owned())),
            attributes: self
                .attributes
                .into_iter()
                .map(|(n, v)| (Cow::Owned(n.into_owned()), v.into_owned()))
                .collect(),
        }
    }

    /// Builds a context from a JSON object such as an OpenFeature evaluation
    /// context: `targetingKey` (or `key`) is the targeting key; strings,
    /// numbers, booleans and arrays of strings become attributes. `null`
    /// members are skipped.
    pub fn from_json(value: &serde_json::Value) -> Result<Context<'static>, ContextError> {
        let serde_json::Value::Object(map) = value else {
            return Err(ContextError { attribute: String::new(), reason: "the context must be a JSON object" });
        };
        let mut ctx = Context::anonymous();
        for (name, v) in map {
            let bad = |reason| ContextError { attribute: name.clone(), reason };
            if is_key_attribute(name) {
                match v {
                    serde_json::Value::String(s) => ctx.key = Some(Cow::Owned(s.clone())),
                    serde_json::Value::Null => {}
                    _ => return Err(bad("the targeting key must be a string")),
                }
                continue;
            }
            let value = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => Value::String(Cow::Owned(s.clone())),
                serde_json::Value::Bool(b) => Value::Bool(*b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Float(n.as_f64().ok_or_else(|| bad("number out of range"))?),
                },
                serde_json::Value::Array(items) => Value::List(
                    items
                        .iter()
                        .map(|i| i.as_str().map(|s| Cow::Owned(s.to_owned())))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("a list attribute must hold only strings"))?,
                ),
                serde_json::Value::Object(_) => return Err(bad("nested objects are not supported")),
            };
            ctx.attributes.push((Cow::Owned(name.clone()), value));
        }
        Ok(ctx)
    }
}

/// A JSON context that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("context attribute `{attribute}`: {reason}")]
pub struct ContextError {
    /// The offending attribute (empty for the whole context).
    pub attribute: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builder_replaces_and_routes_key() {
        let c = Context::new("u1").with("a", 1).with("a", "x").with("targetingKey", "u2");
        assert_eq!(c.key(), Some("u2"));
        assert_eq!(c.get("a"), Some(&Value::String("x".into())));
        assert_eq!(c.attributes().count(), 1);
    }

    #[test]
    fn from_json_types() {
        let c = Context::from_json(&json!({
            "targetingKey": "u1", "n": 42, "f": 1.5, "b": true, "l": ["a", "b"], "z": null
        }))
        .unwrap();
        assert_eq!(c.key(), Some("u1"));
        assert_eq!(c.get("n"), Some(&Value::Int(42)));
        assert_eq!(c.get("f"), Some(&Value::Float(1.5)));
        assert_eq!(c.get("b"), Some(&Value::Bool(true)));
        assert_eq!(c.get("l"), Some(&Value::from(vec!["a", "b"])));
        assert_eq!(c.get("z"), None);
        assert!(Context::from_json(&json!({"o": {"x": 1}})).is_err());
        assert!(Context::from_json(&json!({"l": [1]})).is_err());
        assert!(Context::from_json(&json!({"targetingKey": 5})).is_err());
        assert!(Context::from_json(&json!([1])).is_err());
        assert_eq!(Context::from_json(&json!({})).unwrap().key(), None);
    }

    #[test]
    fn system_time_converts_to_millis() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1500);
        assert_eq!(Value::from(t), Value::DateTime(1500));
        let t = std::time::UNIX_EPOCH - std::time::Duration::from_millis(1500);
        assert_eq!(Value::from(t), Value::DateTime(-1500));
    }
}
