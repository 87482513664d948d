//! History, read state and acknowledgements, delegated to belfry-client.
//! Arguments are checked here so a bad call gets a field-named error
//! without a round trip.

use belfry_client::HistoryQuery;
use belfry_desktop_core::contract::{
    AckArgs, HistoryArgs, MarkReadArgs, MarkUnreadArgs, ReleaseArgs,
};
use belfry_proto::{AckRequest, MAX_ACK_NOTE_CHARS};
use tauri::State;

use super::{Args, CommandError, Reply};
use crate::desktop::Desktop;

/// Largest history page, as the server allows.
const MAX_LIMIT: u32 = 200;

#[tauri::command]
pub async fn history(
    desktop: State<'_, Desktop>,
    Args(HistoryArgs { query }): Args<HistoryArgs>,
) -> Reply<HistoryArgs> {
    if query.limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
        return Err(CommandError::invalid(
            "query.limit",
            format!("between 1 and {MAX_LIMIT}"),
        ));
    }
    let q = HistoryQuery {
        limit: query.limit,
        before: query.before,
        min_severity: query.min_severity,
        kind: query.kind.filter(|k| !k.is_empty()),
        unread_only: query.unread.unwrap_or(false),
    };
    Ok(desktop.signed_in()?.history(&q).await?)
}

/// Marks `ids`, or everything up to `up_to`, read.
#[tauri::command]
pub async fn mark_read(
    desktop: State<'_, Desktop>,
    Args(MarkReadArgs { request }): Args<MarkReadArgs>,
) -> Reply<MarkReadArgs> {
    if request.ids.is_some() == request.up_to.is_some() {
        return Err(CommandError::invalid(
            "request.ids",
            "give either ids or up_to",
        ));
    }
    Ok(desktop.signed_in()?.mark_read(&request).await?.unread)
}

#[tauri::command]
pub async fn mark_unread(
    desktop: State<'_, Desktop>,
    Args(MarkUnreadArgs { ids }): Args<MarkUnreadArgs>,
) -> Reply<MarkUnreadArgs> {
    if ids.is_empty() {
        return Err(CommandError::invalid("ids", "give at least one id"));
    }
    Ok(desktop.signed_in()?.mark_unread(&ids).await?.unread)
}

#[tauri::command]
pub async fn ack(desktop: State<'_, Desktop>, Args(args): Args<AckArgs>) -> Reply<AckArgs> {
    let note = args.note.filter(|n| !n.trim().is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_ACK_NOTE_CHARS)
    {
        return Err(CommandError::invalid(
            "note",
            format!("at most {MAX_ACK_NOTE_CHARS} characters"),
        ));
    }
    let request = AckRequest {
        note,
        force: args.force.unwrap_or(false),
    };
    Ok(desktop.signed_in()?.ack(args.id, &request).await?)
}

#[tauri::command]
pub async fn release(
    desktop: State<'_, Desktop>,
    Args(args): Args<ReleaseArgs>,
) -> Reply<ReleaseArgs> {
    Ok(desktop
        .signed_in()?
        .release(args.id, args.force.unwrap_or(false))
        .await?)
}
