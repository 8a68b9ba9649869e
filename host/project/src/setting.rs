//! Product settings: the typed configuration an instance of a product needs
//! (url, API key, region…), and the parsing of user-given values by type.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::secret_names::looks_secret;

/// The type of a setting. `float` (the original's word) and `number` are both
/// numbers; the word read is the word written back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingType {
    #[default]
    String,
    Integer,
    Number,
    Float,
    Boolean,
    Array,
    Object,
}

impl SettingType {
    pub fn is_string(&self) -> bool {
        *self == SettingType::String
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SettingType::String => "string",
            SettingType::Integer => "integer",
            SettingType::Number => "number",
            SettingType::Float => "float",
            SettingType::Boolean => "boolean",
            SettingType::Array => "array",
            SettingType::Object => "object",
        }
    }
}

/// `type: string` or, as JSON schemas write optional values, `type: [string, "null"]`.
fn de_setting_type<'de, D: Deserializer<'de>>(de: D) -> Result<SettingType, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Option<String>),
        Many(Vec<Option<String>>),
    }
    let words: Vec<String> = match OneOrMany::deserialize(de)? {
        OneOrMany::One(w) => w.into_iter().collect(),
        OneOrMany::Many(ws) => ws.into_iter().flatten().collect(),
    };
    let Some(word) = words.into_iter().find(|w| w != "null") else {
        return Ok(SettingType::String);
    };
    serde_json::from_value(Value::String(word.clone())).map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown setting type `{word}` (string, integer, number, boolean, array or object)"
        ))
    })
}

/// The element type of an array setting: a type word, or a list of settings
/// (the properties of object elements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingItems {
    Type(SettingType),
    Settings(Vec<Setting>),
}

/// One setting of a product (or of an integration).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub name: String,
    #[serde(
        rename = "type",
        default,
        deserialize_with = "de_setting_type",
        skip_serializing_if = "SettingType::is_string"
    )]
    pub kind: SettingType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<SettingItems>,
    #[serde(
        default,
        deserialize_with = "super::yaml::null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub properties: Vec<Setting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(
        default,
        deserialize_with = "super::yaml::null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(
        default,
        deserialize_with = "super::yaml::null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub secret: bool,
    #[serde(
        default,
        deserialize_with = "super::yaml::null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub required: bool,
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// Whether a setting must go to the secrets store, never to a YAML file:
/// declared `secret: true`, or named like a credential (password, token,
/// secret, API key, private key…) even when the flag is missing.
pub fn is_secret_setting(setting: &Setting) -> bool {
    setting.secret || looks_secret(&setting.name)
}

/// Parses a user-given value (`-c key=value` or a prompt answer) by the
/// setting's type: numbers, booleans, JSON arrays/objects (an array may also
/// be given as comma-separated items).
pub fn parse_value(setting: &Setting, raw: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("setting `{}` expects {what}, got `{raw}`", setting.name);
    let raw_t = raw.trim();
    match setting.kind {
        SettingType::String => Ok(Value::String(raw.to_string())),
        SettingType::Integer => raw_t
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| bad("an integer")),
        SettingType::Number | SettingType::Float => {
            if let Ok(i) = raw_t.parse::<i64>() {
                return Ok(Value::from(i));
            }
            raw_t
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| bad("a number"))
        }
        SettingType::Boolean => match raw_t.to_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" | "off" => Ok(Value::Bool(false)),
            _ => Err(bad("a boolean (true or false)")),
        },
        SettingType::Array => {
            if raw_t.starts_with('[') {
                return match serde_json::from_str::<Value>(raw_t) {
                    Ok(v @ Value::Array(_)) => Ok(v),
                    _ => Err(bad("a JSON array")),
                };
            }
            let item = Setting {
                name: setting.name.clone(),
                kind: match &setting.items {
                    Some(SettingItems::Type(t)) => *t,
                    _ => SettingType::String,
                },
                ..Setting::default()
            };
            raw_t
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| parse_value(&item, s))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        SettingType::Object => match serde_json::from_str::<Value>(raw_t) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => Err(bad("a JSON object")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(kind: SettingType) -> Setting {
        Setting {
            name: "x".into(),
            kind,
            ..Setting::default()
        }
    }

    #[test]
    fn parses_values_by_type() {
        use serde_json::json;
        assert_eq!(
            parse_value(&setting(SettingType::String), " a ").unwrap(),
            json!(" a ")
        );
        assert_eq!(
            parse_value(&setting(SettingType::Integer), "42").unwrap(),
            json!(42)
        );
        assert!(parse_value(&setting(SettingType::Integer), "4.2").is_err());
        assert_eq!(
            parse_value(&setting(SettingType::Float), "4.5").unwrap(),
            json!(4.5)
        );
        assert_eq!(
            parse_value(&setting(SettingType::Boolean), "yes").unwrap(),
            json!(true)
        );
        assert!(parse_value(&setting(SettingType::Boolean), "maybe").is_err());
        assert_eq!(
            parse_value(&setting(SettingType::Array), "a, b").unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            parse_value(&setting(SettingType::Array), "[1,2]").unwrap(),
            json!([1, 2])
        );
        let mut ints = setting(SettingType::Array);
        ints.items = Some(SettingItems::Type(SettingType::Integer));
        assert_eq!(parse_value(&ints, "1,2").unwrap(), json!([1, 2]));
        assert_eq!(
            parse_value(&setting(SettingType::Object), r#"{"a":1}"#).unwrap(),
            json!({"a":1})
        );
        assert!(parse_value(&setting(SettingType::Object), "[1]").is_err());
    }

    #[test]
    fn secret_by_flag_or_by_name() {
        assert!(looks_secret("API_KEY"));
        assert!(looks_secret("api-key"));
        assert!(looks_secret("bouncer_token"));
        assert!(looks_secret("Password"));
        assert!(!looks_secret("url"));
        assert!(!looks_secret("region"));
        let mut s = setting(SettingType::String);
        assert!(!is_secret_setting(&s));
        s.secret = true;
        assert!(is_secret_setting(&s));
    }

    #[test]
    fn reads_json_schema_style_types() {
        let s: Setting = serde_yaml_ng::from_str("name: a\ntype: [integer, 'null']\n").unwrap();
        assert_eq!(s.kind, SettingType::Integer);
        let s: Setting = serde_yaml_ng::from_str("name: a\ntype: float\n").unwrap();
        assert_eq!(
            serde_yaml_ng::to_string(&s).unwrap(),
            "name: a\ntype: float\n"
        );
    }
}
