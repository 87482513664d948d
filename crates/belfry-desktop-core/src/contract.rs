//! The contract between the desktop app and its window, as types: every
//! command the window can call and every event it hears.
//!
//! - A command is one struct of its arguments (exactly the object the window
//!   passes to `invoke`), bound by [`Command`] to its name and its answer. The
//!   Tauri shell's handlers take `Args<SignInArgs>` and answer
//!   `Reply<SignInArgs>`, so a handler cannot read other arguments or answer
//!   another type than the contract says.
//! - An event is its payload type, bound by [`Event`] to its name; the shell
//!   emits through that binding only.
//! - A refusal is a [`CommandError`], whose `kind` is the shared
//!   [`ErrorKind`], never a word parsed back out of a message.
//!
//! The `ts` feature renders all of it into
//! `ui/src/platform/generated/desktop.ts` ([`crate::typescript`]): the
//! argument types and two maps, `Commands` (name → arguments and answer) and
//! `Events` (name → payload), which type the window's `invoke` and `listen`.
//! Rename a field or a command here and the UI stops type-checking until it
//! follows; forget to regenerate and the check in `scripts/test.sh` fails.
//!
//! Why not tauri-specta: it is still a release candidate (2.0.0-rc.26) built
//! on specta's, and would bring a second TypeScript generator next to ts-rs,
//! which already writes the wire types these commands carry (`wire.ts`); two
//! generators would declare those types twice. What it adds over this module
//! (typed `invoke` wrappers) is the dozen lines of `call` in
//! `ui/src/platform/tauri/tauri-platform.ts`.

use belfry_proto::{
    AckEvent, ChannelList, ChannelTestResult, ErrorKind, InboxPage, InboxQuery, MarkRead,
    Preferences, Severity, UnreadCounts,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ui::{SessionInfo, UiEvent};

/// A command the window calls: `Self` is its arguments.
pub trait Command: DeserializeOwned {
    /// The name the window invokes (the Tauri handler's function name).
    const NAME: &'static str;
    /// What it answers.
    type Output: Serialize;
}

/// An event the app sends the window: `Self` is its payload.
pub trait Event: Serialize {
    /// The name the window listens to.
    const NAME: &'static str;
}

/// Arguments of `session`: none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SessionArgs {}

/// Signs in to the chosen (remote) server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SignInArgs {
    pub email: String,
    pub password: String,
}

/// Arguments of `sign_out`: none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SignOutArgs {}

/// Connects to the Belfry server at `url` (then the user signs in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct UseServerArgs {
    pub url: String,
}

/// Runs a Belfry server on this computer and signs in to it; `demo` also
/// publishes demo events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct UseBundledArgs {
    pub demo: bool,
}

/// The window listens now: the app repeats the status and `ready`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct AttachArgs {}

/// One page of the history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    pub query: InboxQuery,
}

/// Marks `ids`, or everything up to `up_to`, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MarkReadArgs {
    pub request: MarkRead,
}

/// Marks `ids` unread again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MarkUnreadArgs {
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub ids: Vec<u64>,
}

/// Takes notification `id`, with an optional note; `force` takes it over
/// from another admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct AckArgs {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub note: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub force: Option<bool>,
}

/// Gives notification `id` back; `force` releases another admin's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ReleaseArgs {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub force: Option<bool>,
}

/// Arguments of `get_preferences`: none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct GetPreferencesArgs {}

/// Saves the preferences (on the server, for every device of the admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct PutPreferencesArgs {
    pub preferences: Preferences,
}

/// Whether the app starts at login; `enabled` changes it first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct AutostartArgs {
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub enabled: Option<bool>,
}

/// Raises a sample pop-up of one severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct TestNotificationArgs {
    pub severity: Severity,
}

/// Arguments of `channels`: none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ChannelsArgs {}

/// Sends a test message through the server's outbound channel `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct TestChannelArgs {
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub severity: Option<Severity>,
}

/// Binds each argument type to its command's name and answer, and lists the
/// commands for the TypeScript (one list: the order of `Commands`).
macro_rules! commands {
    ($($args:ty => $name:literal -> $output:ty),* $(,)?) => {
        $(
            impl Command for $args {
                const NAME: &'static str = $name;
                type Output = $output;
            }
        )*

        /// Every command's name, in the contract's order.
        pub const COMMANDS: &[&str] = &[$($name),*];

        /// Every command as the TypeScript names it: its name, its
        /// arguments' declaration and the types of both ends.
        #[cfg(feature = "ts")]
        pub(crate) fn typescript_commands(cfg: &ts_rs::Config) -> Vec<TsCommand> {
            use ts_rs::TS;
            vec![$(TsCommand {
                name: $name,
                declaration: belfry_proto::typescript::declaration::<$args>(cfg),
                args: <$args>::name(cfg),
                output: <$output>::name(cfg),
            }),*]
        }
    };
}

commands! {
    SessionArgs => "session" -> SessionInfo,
    SignInArgs => "sign_in" -> SessionInfo,
    SignOutArgs => "sign_out" -> (),
    UseServerArgs => "use_server" -> SessionInfo,
    UseBundledArgs => "use_bundled" -> SessionInfo,
    AttachArgs => "attach" -> (),
    HistoryArgs => "history" -> InboxPage,
    MarkReadArgs => "mark_read" -> UnreadCounts,
    MarkUnreadArgs => "mark_unread" -> UnreadCounts,
    AckArgs => "ack" -> AckEvent,
    ReleaseArgs => "release" -> (),
    GetPreferencesArgs => "get_preferences" -> Preferences,
    PutPreferencesArgs => "put_preferences" -> Preferences,
    AutostartArgs => "autostart" -> bool,
    TestNotificationArgs => "test_notification" -> (),
    ChannelsArgs => "channels" -> ChannelList,
    TestChannelArgs => "test_channel" -> ChannelTestResult,
}

/// One command for the TypeScript.
#[cfg(feature = "ts")]
pub(crate) struct TsCommand {
    pub name: &'static str,
    pub declaration: String,
    pub args: String,
    pub output: String,
}

/// The window should show notification `id` (a tray item or a pop-up was
/// clicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OpenRequest(#[cfg_attr(feature = "ts", ts(type = "number"))] pub u64);

impl Event for UiEvent {
    const NAME: &'static str = "belfry://event";
}

impl Event for SessionInfo {
    const NAME: &'static str = "belfry://session";
}

impl Event for OpenRequest {
    const NAME: &'static str = "belfry://open";
}

/// Every event for the TypeScript: its name and its payload's type.
#[cfg(feature = "ts")]
pub(crate) fn typescript_events(cfg: &ts_rs::Config) -> Vec<(&'static str, String)> {
    use ts_rs::TS;
    vec![
        (UiEvent::NAME, UiEvent::name(cfg)),
        (SessionInfo::NAME, SessionInfo::name(cfg)),
        (OpenRequest::NAME, OpenRequest::name(cfg)),
    ]
}

/// A command's refusal as the window receives it: `kind` is the shared
/// [`ErrorKind`] (the UI's generated `ErrorKind`), the server's `status` and
/// `code` when it answered, and `retry_after` from its `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CommandError {
    pub kind: ErrorKind,
    /// For a bad argument, starts with the argument's path and `: `.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub code: Option<String>,
    /// Seconds to wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "number"))]
    pub retry_after: Option<u64>,
}

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            code: None,
            retry_after: None,
        }
    }

    /// A bad argument: `field: what is wrong`.
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::Validation, format!("{field}: {problem}"))
    }
}

impl From<belfry_client::Error> for CommandError {
    fn from(e: belfry_client::Error) -> Self {
        use belfry_client::Error;
        let kind = e.kind();
        let message = match &e {
            Error::Refused { message, .. } | Error::Status { message, .. } => message.clone(),
            Error::AuthRequired { reason } => reason.clone(),
            Error::Network(_) | Error::Silent(_) => belfry_client::stream::error_chain(&e),
            other => other.to_string(),
        };
        let (status, code) = match &e {
            Error::Refused { status, code, .. } | Error::Status { status, code, .. } => {
                (Some(*status), code.clone())
            }
            _ => (None, None),
        };
        CommandError {
            kind,
            message,
            status,
            code,
            retry_after: e.retry_after().map(|d| d.as_secs()),
        }
    }
}

/// Reads a command's arguments from the object the window passed, naming
/// the argument that is wrong (`request.ids: invalid type …`).
pub fn parse_args<C: Command>(payload: &serde_json::Value) -> Result<C, CommandError> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "arguments" } else { &path };
        CommandError::invalid(field, e.inner())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_read_as_the_window_passes_them() {
        let ack: AckArgs = parse_args(&json!({"id": 7, "note": null, "force": true})).unwrap();
        assert_eq!((ack.id, ack.note, ack.force), (7, None, Some(true)));
        let ack: AckArgs = parse_args(&json!({"id": 7})).unwrap();
        assert_eq!((ack.note, ack.force), (None, None));
        let history: HistoryArgs = parse_args(&json!({"query": {"limit": 5}})).unwrap();
        assert_eq!(history.query.limit, Some(5));
        let none: SessionArgs = parse_args(&json!({})).unwrap();
        assert_eq!(none, SessionArgs {});
    }

    #[test]
    fn a_bad_argument_is_refused_naming_it() {
        let e = parse_args::<MarkReadArgs>(&json!({"request": {"ids": ["x"]}})).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        assert!(e.message.starts_with("request.ids[0]: "), "{}", e.message);
        let e = parse_args::<TestNotificationArgs>(&json!({"severity": "loud"})).unwrap_err();
        assert!(
            e.message.starts_with("severity: unknown variant `loud`"),
            "{}",
            e.message
        );
        let e = parse_args::<SignInArgs>(&json!({"email": "a@b.example"})).unwrap_err();
        assert!(
            e.message.contains("missing field `password`"),
            "{}",
            e.message
        );
        // A misspelt argument is an error, not a silently missing option.
        let e = parse_args::<AutostartArgs>(&json!({"enable": true})).unwrap_err();
        assert!(
            e.message.contains("unknown field `enable`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn every_command_has_one_name() {
        let mut names = COMMANDS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len(), "{COMMANDS:?}");
        assert!(COMMANDS.contains(&HistoryArgs::NAME));
    }

    #[test]
    fn server_answers_map_to_the_kinds_the_ui_explains() {
        let e = CommandError::from(belfry_client::Error::Status {
            status: 429,
            code: Some("too_many_requests".into()),
            message: "slow down".into(),
            retry_after: Some(std::time::Duration::from_secs(30)),
        });
        assert_eq!((e.kind, e.retry_after), (ErrorKind::Throttled, Some(30)));
        let refused = |status, code: &str| {
            CommandError::from(belfry_client::Error::Refused {
                status,
                code: Some(code.into()),
                message: "no".into(),
            })
        };
        let wrong_password = refused(401, "invalid_credentials");
        assert_eq!(wrong_password.kind, ErrorKind::InvalidCredentials);
        assert_eq!(wrong_password.status, Some(401));
        assert_eq!(refused(403, "forbidden").kind, ErrorKind::Disabled);
        assert_eq!(refused(401, "invalid_token").kind, ErrorKind::Unauthorized);
        let e = CommandError::from(belfry_client::Error::AuthRequired {
            reason: "expired".into(),
        });
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Unauthorized, "expired")
        );
        let json = serde_json::to_value(refused(403, "forbidden")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "disabled", "message": "no", "status": 403, "code": "forbidden"})
        );
    }
}
