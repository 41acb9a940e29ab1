//! Request parameters, merged from every place a client may put them.
//!
//! The seed APIs document most inputs as query parameters, yet real clients
//! also send them as `application/x-www-form-urlencoded` or JSON bodies (long
//! values such as kubeconfigs exceed URL limits). [`Params`] merges, in order
//! of precedence:
//!
//! 1. route parameters (`{id}` in the matched template),
//! 2. the query string (percent-decoded UTF-8, `+` is a space),
//! 3. the body: a form, or the members of a JSON object.
//!
//! A name already present is never overwritten by a later source, and within
//! one source the first occurrence wins. JSON `null` counts as absent.
//!
//! List parameters (typed `array` in the documents, such as accrual_price's
//! `resources`) arrive in several forms: one JSON array, or the name
//! repeated within the query string or form (`resources={..}&resources={..}`,
//! also `resources[]=..` as axios writes it). [`Params::items`] reads them
//! all; the later occurrences of a repeated name are kept for it
//! ([`Params::repeated`]), while the single-value accessors see the first.
//!
//! Extraction is typed and every failure names the field:
//!
//! ```
//! # use computehub_sdk::Params;
//! let p = Params::from_parts(&[], "page=abc&name=%E7%AE%97%E5%8A%9B+1", None, b"");
//! let p = p.unwrap();
//! assert_eq!(p.required_str("name").unwrap(), "算力 1");
//! assert_eq!(
//!     p.optional_u32("page").unwrap_err().to_string(),
//!     "parameter `page` must be an integer, got `abc`"
//! );
//! ```

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

/// Why a parameter (or the body carrying it) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A required parameter is absent or empty.
    #[error("parameter `{name}` is required")]
    Missing {
        /// The parameter's name.
        name: String,
    },
    /// A parameter is present but does not parse as the expected type.
    #[error("parameter `{name}` must be {expected}, got `{got}`")]
    Invalid {
        /// The parameter's name.
        name: String,
        /// What was expected, with its article ("an integer").
        expected: &'static str,
        /// The value received (shortened when long).
        got: String,
    },
    /// A parameter carrying JSON does not have the expected shape.
    #[error("parameter `{name}` is not valid: {reason}")]
    Json {
        /// The parameter's name.
        name: String,
        /// What is wrong with it ([`json_reason`]).
        reason: String,
    },
    /// A list parameter holds more items than its documented maximum.
    #[error("parameter `{name}` may hold at most {max} {what}")]
    TooMany {
        /// The parameter's name.
        name: String,
        /// The documented maximum.
        max: usize,
        /// What the items are (`sort keys`, `products`).
        what: &'static str,
    },
    /// The request body could not be read as its content type says.
    #[error("request body is not valid {format}: {reason}")]
    Body {
        /// `JSON`, `UTF-8 text`, ...
        format: &'static str,
        /// What is wrong with it, in the SDK's words.
        reason: String,
    },
}

impl ParamError {
    /// The parameter concerned, if the error is about one parameter.
    pub fn field(&self) -> Option<&str> {
        match self {
            ParamError::Missing { name }
            | ParamError::Invalid { name, .. }
            | ParamError::Json { name, .. }
            | ParamError::TooMany { name, .. } => Some(name),
            ParamError::Body { .. } => None,
        }
    }

    pub(crate) fn invalid(name: &str, expected: &'static str, got: &str) -> Self {
        ParamError::Invalid {
            name: name.to_owned(),
            expected,
            got: shorten(got),
        }
    }

    /// `name` holds more than `max` `what` (`sort keys`, `labels`).
    pub fn too_many(name: &str, max: usize, what: &'static str) -> Self {
        ParamError::TooMany {
            name: name.to_owned(),
            max,
            what,
        }
    }

    fn missing(name: &str) -> Self {
        ParamError::Missing {
            name: name.to_owned(),
        }
    }
}

/// Keeps error messages bounded: at most 64 characters of a received value.
fn shorten(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// One parameter value: its text, and the JSON value when it came from a
/// JSON body as something other than a string.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamValue {
    text: String,
    json: Option<serde_json::Value>,
}

impl ParamValue {
    /// The value as text. Numbers and booleans from a JSON body appear in
    /// their JSON spelling, objects and arrays as compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The JSON value, when the parameter came from a JSON body and was not
    /// a string.
    pub fn as_json(&self) -> Option<&serde_json::Value> {
        self.json.as_ref()
    }

    fn is_structured(&self) -> bool {
        matches!(
            self.json,
            Some(serde_json::Value::Object(_) | serde_json::Value::Array(_))
        )
    }
}

/// Request parameters merged from route, query string and body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
    /// The later occurrences of a name repeated within the source that gave
    /// its first value (`a=1&a=2`: `["2"]`), in order.
    repeated: BTreeMap<String, Vec<String>>,
}

/// How a body is read, from its `Content-Type` (or a look at it when absent).
enum BodyKind {
    Form,
    Json,
    Ignored,
}

fn body_kind(content_type: Option<&str>, body: &[u8]) -> BodyKind {
    let essence = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/x-www-form-urlencoded") => BodyKind::Form,
        Some(ct) if ct == "application/json" || ct.ends_with("+json") => BodyKind::Json,
        None | Some("" | "text/plain") => {
            let first = body.iter().find(|b| !b.is_ascii_whitespace());
            match first {
                Some(b'{') => BodyKind::Json,
                Some(_) if std::str::from_utf8(body).is_ok() && body.contains(&b'=') => {
                    BodyKind::Form
                }
                _ => BodyKind::Ignored,
            }
        }
        Some(_) => BodyKind::Ignored,
    }
}

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges route parameters, query string and body of a request.
    pub fn from_request(req: &crate::Request) -> Result<Self, ParamError> {
        Self::from_parts(&req.params, &req.query, req.content_type(), &req.body)
    }

    /// Merges route parameters, a raw query string and a body.
    ///
    /// The body is read as a form for `application/x-www-form-urlencoded`,
    /// as JSON for `application/json` (and `*+json`); without a content type
    /// (or `text/plain`) a body starting with `{` is read as JSON and one
    /// holding `=` as a form. Other bodies (YAML manifests, binary uploads,
    /// JSON arrays) are left to the plugin and contribute no parameters.
    pub fn from_parts(
        route: &[(String, String)],
        query: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ParamError> {
        let mut params = Self::new();
        for (name, value) in route {
            params.insert(name, value.clone());
        }
        params.extend_query(query);
        params.extend_body(content_type, body)?;
        Ok(params)
    }

    /// Adds a text parameter unless `name` is already present; answers
    /// whether it was added.
    pub fn insert(&mut self, name: &str, value: impl Into<String>) -> bool {
        if self.values.contains_key(name) {
            return false;
        }
        self.values.insert(
            name.to_owned(),
            ParamValue {
                text: value.into(),
                json: None,
            },
        );
        true
    }

    /// Adds the pairs of a URL-encoded string (`a=1&b=%E4%B8%AD`, `+` for
    /// space) whose names are not yet present.
    pub fn extend_query(&mut self, query: &str) {
        self.extend_urlencoded(query.as_bytes());
    }

    /// Adds the parameters carried by a body whose names are not yet present
    /// (see [`Params::from_parts`] for which bodies count).
    pub fn extend_body(
        &mut self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), ParamError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        match body_kind(content_type, body) {
            BodyKind::Form => {
                self.extend_urlencoded(body);
                Ok(())
            }
            BodyKind::Json => {
                let value: serde_json::Value =
                    serde_json::from_slice(body).map_err(|e| ParamError::Body {
                        format: "JSON",
                        reason: json_reason(&e),
                    })?;
                if let serde_json::Value::Object(members) = value {
                    self.extend_json(members);
                }
                Ok(())
            }
            BodyKind::Ignored => Ok(()),
        }
    }

    /// Adds the members of a JSON object whose names are not yet present.
    pub fn extend_json(&mut self, members: serde_json::Map<String, serde_json::Value>) {
        for (name, value) in members {
            if self.values.contains_key(&name) {
                continue;
            }
            let param = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(text) => ParamValue { text, json: None },
                other => ParamValue {
                    text: other.to_string(),
                    json: Some(other),
                },
            };
            self.values.insert(name, param);
        }
    }

    /// The pairs of a URL-encoded source; `name[]` is `name` (axios's list
    /// spelling), and a name repeated within this source keeps its later
    /// values for [`Params::items`].
    fn extend_urlencoded(&mut self, input: &[u8]) {
        let mut added: Vec<String> = Vec::new();
        for (name, value) in form_urlencoded::parse(input) {
            let name = name.strip_suffix("[]").unwrap_or(&name);
            if name.is_empty() {
                continue;
            }
            if self.insert(name, value.as_ref()) {
                added.push(name.to_owned());
            } else if added.iter().any(|a| a == name) {
                self.repeated
                    .entry(name.to_owned())
                    .or_default()
                    .push(value.into_owned());
            }
        }
    }

    /// The later values of a name repeated in the query string or form that
    /// gave its first (`a=1&a=2&a=3`: `["2", "3"]`); empty when it was sent
    /// once.
    pub fn repeated(&self, name: &str) -> &[String] {
        self.repeated.get(name).map_or(&[], Vec::as_slice)
    }

    /// Every value of a parameter as sent, the first then the repeated ones
    /// (JSON text for a JSON body's object or array).
    pub fn occurrences(&self, name: &str) -> Vec<&str> {
        self.values
            .get(name)
            .map(|v| v.text.as_str())
            .into_iter()
            .chain(self.repeated(name).iter().map(String::as_str))
            .collect()
    }

    /// A list parameter's items (an `array` of the documents), in every form
    /// a client sends one: a JSON array (`resources=[{..},{..}]`, or an array
    /// in a JSON body); the name repeated with one JSON item each
    /// (`resources={..}&resources={..}`, `resources[]={..}`); a single item.
    /// An occurrence holding an array adds each of its items. `None` when
    /// absent or blank; an occurrence that is not JSON is refused, naming
    /// the parameter.
    ///
    /// ```
    /// # use computehub_sdk::Params;
    /// let p = Params::from_parts(&[], r#"r={"a":1}&r={"a":2}"#, None, b"").unwrap();
    /// assert_eq!(p.items("r").unwrap().unwrap().len(), 2);
    /// let p = Params::from_parts(&[], r#"r=[{"a":1},{"a":2}]"#, None, b"").unwrap();
    /// assert_eq!(p.items("r").unwrap().unwrap().len(), 2);
    /// ```
    pub fn items(&self, name: &str) -> Result<Option<Vec<serde_json::Value>>, ParamError> {
        let Some(first) = self.values.get(name) else {
            return Ok(None);
        };
        let mut items = Vec::new();
        let mut add = |value: serde_json::Value| match value {
            serde_json::Value::Array(list) => items.extend(list),
            other => items.push(other),
        };
        match &first.json {
            Some(json) => add(json.clone()),
            None if first.text.trim().is_empty() && self.repeated(name).is_empty() => {
                return Ok(None)
            }
            None => add(json_text(name, &first.text)?),
        }
        for text in self.repeated(name) {
            add(json_text(name, text)?);
        }
        Ok(Some(items))
    }

    /// Whether a parameter is present (possibly empty).
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A parameter's value, if present.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    /// Names and values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Text of a parameter; refuses JSON objects and arrays.
    fn text(&self, name: &str) -> Result<Option<&str>, ParamError> {
        match self.values.get(name) {
            None => Ok(None),
            Some(v) if v.is_structured() => Err(ParamError::invalid(name, "a string", &v.text)),
            Some(v) => Ok(Some(v.text.as_str())),
        }
    }

    /// Text of a parameter, trimmed, with empty meaning absent: for typed
    /// values, where `?page=` means "no page given".
    fn scalar(&self, name: &str) -> Result<Option<&str>, ParamError> {
        Ok(self
            .text(name)?
            .map(str::trim)
            .filter(|text| !text.is_empty()))
    }

    /// A string that must be present and not blank.
    pub fn required_str(&self, name: &str) -> Result<&str, ParamError> {
        match self.text(name)? {
            Some(text) if !text.trim().is_empty() => Ok(text),
            _ => Err(ParamError::missing(name)),
        }
    }

    /// A string, as sent (possibly empty); `None` when absent.
    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, ParamError> {
        self.text(name)
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &str,
        expected: &'static str,
    ) -> Result<Option<T>, ParamError> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| ParamError::invalid(name, expected, text)),
        }
    }

    /// A signed 64-bit integer that must be present.
    pub fn required_i64(&self, name: &str) -> Result<i64, ParamError> {
        self.optional_i64(name)?
            .ok_or_else(|| ParamError::missing(name))
    }

    /// A signed 64-bit integer; `None` when absent or empty.
    pub fn optional_i64(&self, name: &str) -> Result<Option<i64>, ParamError> {
        self.parse(name, "an integer")
    }

    /// A non-negative integer below 2^32 that must be present.
    pub fn required_u32(&self, name: &str) -> Result<u32, ParamError> {
        self.optional_u32(name)?
            .ok_or_else(|| ParamError::missing(name))
    }

    /// A non-negative integer below 2^32; `None` when absent or empty.
    pub fn optional_u32(&self, name: &str) -> Result<Option<u32>, ParamError> {
        match self.parse::<i64>(name, "an integer")? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                ParamError::invalid(name, "an integer from 0 to 4294967295", &n.to_string())
            }),
        }
    }

    /// A non-negative 64-bit integer that must be present.
    pub fn required_u64(&self, name: &str) -> Result<u64, ParamError> {
        self.optional_u64(name)?
            .ok_or_else(|| ParamError::missing(name))
    }

    /// A non-negative 64-bit integer; `None` when absent or empty.
    pub fn optional_u64(&self, name: &str) -> Result<Option<u64>, ParamError> {
        self.parse(name, "a non-negative integer")
    }

    /// A boolean that must be present (see [`Params::optional_bool`]).
    pub fn required_bool(&self, name: &str) -> Result<bool, ParamError> {
        self.optional_bool(name)?
            .ok_or_else(|| ParamError::missing(name))
    }

    /// A boolean: `true`/`false`, `1`/`0`, `yes`/`no` (any case); `None` when
    /// absent or empty.
    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, ParamError> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(text) => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                _ => Err(ParamError::invalid(name, "a boolean", text)),
            },
        }
    }

    /// An exact decimal in plain notation (`12`, `-0.5`, `1.50`), returned as
    /// validated text (money is never a float); must be present.
    pub fn decimal(&self, name: &str) -> Result<&str, ParamError> {
        self.optional_decimal(name)?
            .ok_or_else(|| ParamError::missing(name))
    }

    /// An exact decimal in plain notation; `None` when absent or empty.
    pub fn optional_decimal(&self, name: &str) -> Result<Option<&str>, ParamError> {
        match self.scalar(name)? {
            None => Ok(None),
            Some(text) if is_plain_decimal(text) => Ok(Some(text)),
            Some(text) => Err(ParamError::invalid(name, "a decimal number", text)),
        }
    }

    /// A parameter carrying JSON, decoded into `T`; must be present.
    ///
    /// Accepts JSON text (`?resources=%7B...%7D`, a form field) as well as a
    /// member of a JSON body of any JSON type.
    pub fn json<T: DeserializeOwned>(&self, name: &str) -> Result<T, ParamError> {
        self.optional_json(name)?
            .ok_or_else(|| ParamError::missing(name))
    }

    /// A parameter carrying JSON, decoded into `T`; `None` when absent or
    /// blank.
    pub fn optional_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ParamError> {
        let Some(value) = self.values.get(name) else {
            return Ok(None);
        };
        let decoded = match &value.json {
            Some(json) => T::deserialize(json),
            None if value.text.trim().is_empty() => return Ok(None),
            None => serde_json::from_str(&value.text),
        };
        decoded.map(Some).map_err(|e| ParamError::Json {
            name: name.to_owned(),
            reason: json_reason(&e),
        })
    }
}

/// What is wrong with a JSON text, in the SDK's words rather than the
/// decoder's: where it stops being JSON, or, for a value of the wrong shape,
/// which field and what was expected (serde says that from the plugin's own
/// types), with the position where there is one.
pub fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = match e.line() {
        0 => String::new(),
        line => format!(" at line {line}, column {}", e.column()),
    };
    match e.classify() {
        Category::Syntax => format!("a syntax error{at}"),
        Category::Eof => format!("it ends before it is complete{at}"),
        Category::Data => {
            let text = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let what = text.strip_suffix(&suffix).unwrap_or(&text);
            format!("{what}{at}")
        }
        Category::Io => "the JSON could not be read".to_owned(),
    }
}

/// One occurrence of a list parameter, as JSON.
fn json_text(name: &str, text: &str) -> Result<serde_json::Value, ParamError> {
    serde_json::from_str(text).map_err(|e| ParamError::Json {
        name: name.to_owned(),
        reason: json_reason(&e),
    })
}

/// `-?digits(.digits)?`: what the inventory and pricing accept as decimals.
fn is_plain_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
