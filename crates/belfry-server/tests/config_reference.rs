//! The configuration reference in docs/operations.md against the code: every
//! flag of `belfry-server serve --help`, with its `BELFRY_*` variable and its
//! stated default, and every key of the settings file must have a row there,
//! and the table may list nothing the code does not have.

use std::collections::BTreeMap;
use std::process::Command;

use belfry_server::config::Settings;
use serde::de::{self, Deserialize, Deserializer, Visitor};

const BIN: &str = env!("CARGO_BIN_EXE_belfry-server");
const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md");
const START: &str = "<!-- config-reference:start -->";
const END: &str = "<!-- config-reference:end -->";

/// One setting as the docs or the code describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setting {
    /// TOML key; `None` for `--config`, which has none.
    key: Option<String>,
    env: String,
    default: String,
}

/// The docs table, by flag.
fn documented() -> BTreeMap<String, Setting> {
    let text = std::fs::read_to_string(DOC).expect("docs/operations.md is readable");
    let table = text
        .split_once(START)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(table, _)| table)
        .expect("docs/operations.md has the config-reference markers");
    let mut rows = BTreeMap::new();
    // Header and separator first, then one row per setting.
    for line in table.lines().filter(|l| l.starts_with('|')).skip(2) {
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.replace('`', "").trim().to_owned())
            .collect();
        let [key, env, flag, default, _meaning] = cells.as_slice() else {
            panic!("a reference row needs 5 cells: {line}");
        };
        let setting = Setting {
            key: (key != "—").then(|| key.clone()),
            env: env.clone(),
            default: default.clone(),
        };
        assert!(
            rows.insert(flag.clone(), setting).is_none(),
            "{flag} has two rows"
        );
    }
    rows
}

/// `serve --help`, by flag: each option's `[env: …]` and `[default: …]`.
fn from_help() -> BTreeMap<String, Setting> {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--help"]);
    // A set variable would show its value in the help instead of nothing.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BELFRY_") {
            cmd.env_remove(name);
        }
    }
    let out = cmd.output().expect("belfry-server serve --help runs");
    assert!(out.status.success(), "serve --help failed");
    let help = String::from_utf8(out.stdout).expect("help is UTF-8");

    // An option starts on a line whose first word is `--flag` (or `-x, --flag`);
    // its description runs until the next such line.
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let words = line.trim_start().trim_start_matches("-h, ");
        if let Some(flag) = words
            .strip_prefix("--")
            .map(|w| w.split_whitespace().next().unwrap_or(""))
        {
            blocks.push((format!("--{flag}"), String::new()));
        }
        if let Some((_, text)) = blocks.last_mut() {
            text.push(' ');
            text.push_str(line.trim());
        }
    }
    let bracket = |text: &str, tag: &str| -> Option<String> {
        let start = text.find(tag)? + tag.len();
        let end = text[start..].find(']')? + start;
        Some(text[start..end].trim().to_owned())
    };
    blocks
        .into_iter()
        .filter(|(flag, _)| flag != "--help")
        .map(|(flag, text)| {
            let env = bracket(&text, "[env: ")
                .unwrap_or_else(|| panic!("{flag} has no BELFRY_* variable in --help"));
            let env = env.trim_end_matches('=').to_owned();
            // No `[default: …]`: the setting is unset unless given.
            let default = bracket(&text, "[default: ").unwrap_or_else(|| "none".to_owned());
            let key = (flag != "--config").then(|| flag[2..].replace('-', "_"));
            (flag, Setting { key, env, default })
        })
        .collect()
}

/// The keys `Settings` accepts in the TOML file, read from its `Deserialize`.
fn settings_file_keys() -> Vec<&'static str> {
    struct Fields(Option<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for &mut Fields {
        type Error = de::value::Error;
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(fields);
            Err(de::Error::custom("only the field names were wanted"))
        }
        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("Settings is a struct"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = Fields(None);
    let _ = Settings::deserialize(&mut fields);
    fields
        .0
        .expect("Settings deserializes as a struct")
        .to_vec()
}

#[test]
fn every_serve_flag_is_documented_with_its_variable_and_default() {
    let docs = documented();
    let help = from_help();
    for (flag, code) in &help {
        let row = docs.get(flag).unwrap_or_else(|| {
            panic!("{flag} is missing from the configuration reference in docs/operations.md")
        });
        assert_eq!(row.env, code.env, "{flag}: documented variable");
        assert_eq!(row.default, code.default, "{flag}: documented default");
        assert_eq!(row.key, code.key, "{flag}: documented TOML key");
    }
    for flag in docs.keys() {
        assert!(
            help.contains_key(flag),
            "docs/operations.md documents {flag}, which `serve` does not have"
        );
    }
}

/// Keys of the file alone (tables with secrets, no flag or variable), each
/// documented in a section of its own: (key, the section's heading).
const FILE_ONLY: &[(&str, &str)] = &[("channels", "## Channels")];

#[test]
fn every_settings_file_key_is_documented_and_nothing_else() {
    let mut documented_keys: Vec<String> =
        documented().into_values().filter_map(|s| s.key).collect();
    let mut keys: Vec<String> = settings_file_keys()
        .into_iter()
        .filter(|k| FILE_ONLY.iter().all(|(file_only, _)| k != file_only))
        .map(str::to_owned)
        .collect();
    keys.sort();
    documented_keys.sort();
    assert_eq!(
        documented_keys, keys,
        "the TOML keys in docs/operations.md differ from config::Settings"
    );
    let text = std::fs::read_to_string(DOC).unwrap();
    for (key, heading) in FILE_ONLY {
        let section = text
            .split_once(&format!("\n{heading}\n"))
            .map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest))
            .unwrap_or_else(|| panic!("docs/operations.md has no `{heading}` section for `{key}`"));
        assert!(
            section.contains(&format!("[{key}.")),
            "the `{heading}` section of docs/operations.md shows no `[{key}.…]` table"
        );
    }
}

#[test]
fn the_documented_variables_follow_the_key_names() {
    for (flag, s) in documented() {
        let name = flag
            .trim_start_matches("--")
            .replace('-', "_")
            .to_uppercase();
        assert_eq!(s.env, format!("BELFRY_{name}"), "{flag}");
    }
}
