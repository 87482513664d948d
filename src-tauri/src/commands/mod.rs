//! Thin Tauri commands: validate, delegate to belfry-client or the
//! [`Desktop`](crate::desktop::Desktop) shell, and refuse with a
//! [`CommandError`] for the UI's `ApiError`.
//!
//! Each handler takes its arguments as one [`Args<C>`] and answers a
//! [`Reply<C>`], where `C` is the command's argument type in
//! [`belfry_desktop_core::contract`]: the contract the window's TypeScript is
//! generated from. [`handler!`](crate::handler) lists them, checking at compile
//! time that each function is named as its contract says.

pub mod channels;
pub mod inbox;
pub mod preferences;
pub mod session;
pub mod test_notification;

use belfry_desktop_core::contract::{self, Command};
use tauri::Runtime;
use tauri::ipc::{CommandArg, CommandItem, InvokeBody, InvokeError};

pub use belfry_desktop_core::contract::CommandError;

/// A command's arguments: the whole object the window passed to `invoke`,
/// read as the contract's type `C` (Tauri's own extraction reads one
/// argument per parameter, by a name the contract could not see).
#[derive(Debug)]
pub struct Args<C>(pub C);

/// What a command answers: the contract's output or a refusal.
pub type Reply<C> = Result<<C as Command>::Output, CommandError>;

impl<'de, C: Command, R: Runtime> CommandArg<'de, R> for Args<C> {
    fn from_command(command: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        let refuse = |e: CommandError| InvokeError::from(e);
        if command.name != C::NAME {
            // Only a handler wired to the wrong contract type gets here.
            return Err(refuse(CommandError::new(
                belfry_proto::ErrorKind::Server,
                format!("`{}` reads the arguments of `{}`", command.name, C::NAME),
            )));
        }
        match command.message.payload() {
            InvokeBody::Json(payload) => contract::parse_args(payload).map(Args).map_err(refuse),
            InvokeBody::Raw(_) => Err(refuse(CommandError::invalid(
                "arguments",
                "expected a JSON object, not raw bytes",
            ))),
        }
    }
}

/// Whether two names are the same, in a `const` (for [`handler!`](crate::handler)).
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The invoke handler for `module::function => ArgsType` entries, with a
/// compile-time check that each function's name is its contract's name.
/// `handler!(@names …)` gives the names, for the test that the handler
/// serves every command of the contract.
#[macro_export]
macro_rules! handler {
    (@names $($module:ident::$function:ident => $args:ty),* $(,)?) => {
        [$(stringify!($function)),*]
    };
    ($($module:ident::$function:ident => $args:ty),* $(,)?) => {{
        $(
            const _: () = assert!(
                $crate::commands::same_name(
                    stringify!($function),
                    <$args as belfry_desktop_core::contract::Command>::NAME,
                ),
                concat!("`", stringify!($function), "` is not its contract's name"),
            );
        )*
        tauri::generate_handler![$($crate::commands::$module::$function),*]
    }};
}

/// Every command the window can call, for [`handler!`](crate::handler).
#[macro_export]
macro_rules! with_commands {
    ($($prefix:tt)*) => {
        $crate::handler!($($prefix)*
            session::session => belfry_desktop_core::contract::SessionArgs,
            session::sign_in => belfry_desktop_core::contract::SignInArgs,
            session::sign_out => belfry_desktop_core::contract::SignOutArgs,
            session::use_server => belfry_desktop_core::contract::UseServerArgs,
            session::use_bundled => belfry_desktop_core::contract::UseBundledArgs,
            session::attach => belfry_desktop_core::contract::AttachArgs,
            inbox::history => belfry_desktop_core::contract::HistoryArgs,
            inbox::mark_read => belfry_desktop_core::contract::MarkReadArgs,
            inbox::mark_unread => belfry_desktop_core::contract::MarkUnreadArgs,
            inbox::ack => belfry_desktop_core::contract::AckArgs,
            inbox::release => belfry_desktop_core::contract::ReleaseArgs,
            preferences::get_preferences => belfry_desktop_core::contract::GetPreferencesArgs,
            preferences::put_preferences => belfry_desktop_core::contract::PutPreferencesArgs,
            preferences::autostart => belfry_desktop_core::contract::AutostartArgs,
            test_notification::test_notification => belfry_desktop_core::contract::TestNotificationArgs,
            channels::channels => belfry_desktop_core::contract::ChannelsArgs,
            channels::test_channel => belfry_desktop_core::contract::TestChannelArgs,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_serves_every_command_of_the_contract_and_no_other() {
        let mut served = crate::with_commands!(@names).to_vec();
        let mut contract = contract::COMMANDS.to_vec();
        served.sort_unstable();
        contract.sort_unstable();
        assert_eq!(served, contract);
    }

    #[test]
    fn names_compare_whole() {
        assert!(same_name("ack", "ack"));
        assert!(!same_name("ack", "acks") && !same_name("ack", "act"));
    }
}
