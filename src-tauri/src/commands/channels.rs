//! The server's outbound channels, for the settings page: which are
//! configured, and a test message through one. The server does the sending;
//! these only pass the admin's request on.

use belfry_desktop_core::contract::{ChannelsArgs, TestChannelArgs};
use tauri::State;

use super::{Args, CommandError, Reply};
use crate::desktop::Desktop;

#[tauri::command]
pub async fn channels(desktop: State<'_, Desktop>, _: Args<ChannelsArgs>) -> Reply<ChannelsArgs> {
    Ok(desktop.signed_in()?.channels().await?)
}

#[tauri::command]
pub async fn test_channel(
    desktop: State<'_, Desktop>,
    Args(args): Args<TestChannelArgs>,
) -> Reply<TestChannelArgs> {
    let valid = !args.name.is_empty()
        && args
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(CommandError::invalid(
            "name",
            "a channel name is lowercase letters, digits, `-` and `_`",
        ));
    }
    Ok(desktop
        .signed_in()?
        .test_channel(&args.name, args.severity)
        .await?)
}
