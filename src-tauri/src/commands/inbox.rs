//! History, read state and acknowledgements, delegated to belfry-client.
//! Arguments are checked here so a bad call gets a field-named error
//! without a round trip.

use belfry_client::HistoryQuery;
use belfry_proto::{
    AckEvent, AckRequest, ErrorKind, InboxPage, MAX_ACK_NOTE_CHARS, MarkRead, Severity,
    UnreadCounts,
};
use serde::Deserialize;
use tauri::State;

use super::CommandError;
use crate::desktop::Desktop;

/// Largest history page, as the server allows.
const MAX_LIMIT: u32 = 200;

/// A history page query, as the UI's `InboxQuery`.
#[derive(Debug, Default, Deserialize)]
pub struct Query {
    pub limit: Option<u32>,
    pub before: Option<u64>,
    pub min_severity: Option<Severity>,
    pub kind: Option<String>,
    #[serde(default)]
    pub unread: bool,
}

#[tauri::command]
pub async fn history(desktop: State<'_, Desktop>, query: Query) -> Result<InboxPage, CommandError> {
    if query.limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
        return Err(CommandError::new(
            ErrorKind::Validation,
            format!("limit: between 1 and {MAX_LIMIT}"),
        ));
    }
    let q = HistoryQuery {
        limit: query.limit,
        before: query.before,
        min_severity: query.min_severity,
        kind: query.kind.filter(|k| !k.is_empty()),
        unread_only: query.unread,
    };
    Ok(desktop.signed_in()?.history(&q).await?)
}

/// Marks `ids`, or everything up to `up_to`, read.
#[tauri::command]
pub async fn mark_read(
    desktop: State<'_, Desktop>,
    request: MarkRead,
) -> Result<UnreadCounts, CommandError> {
    if request.ids.is_some() == request.up_to.is_some() {
        return Err(CommandError::new(
            ErrorKind::Validation,
            "ids: give either ids or up_to",
        ));
    }
    Ok(desktop.signed_in()?.mark_read(&request).await?.unread)
}

#[tauri::command]
pub async fn mark_unread(
    desktop: State<'_, Desktop>,
    ids: Vec<u64>,
) -> Result<UnreadCounts, CommandError> {
    if ids.is_empty() {
        return Err(CommandError::new(
            ErrorKind::Validation,
            "ids: give at least one id",
        ));
    }
    Ok(desktop.signed_in()?.mark_unread(&ids).await?.unread)
}

#[tauri::command]
pub async fn ack(
    desktop: State<'_, Desktop>,
    id: u64,
    note: Option<String>,
    force: Option<bool>,
) -> Result<AckEvent, CommandError> {
    let note = note.filter(|n| !n.trim().is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_ACK_NOTE_CHARS)
    {
        return Err(CommandError::new(
            ErrorKind::Validation,
            format!("note: at most {MAX_ACK_NOTE_CHARS} characters"),
        ));
    }
    let request = AckRequest {
        note,
        force: force.unwrap_or(false),
    };
    Ok(desktop.signed_in()?.ack(id, &request).await?)
}

#[tauri::command]
pub async fn release(
    desktop: State<'_, Desktop>,
    id: u64,
    force: Option<bool>,
) -> Result<(), CommandError> {
    Ok(desktop
        .signed_in()?
        .release(id, force.unwrap_or(false))
        .await?)
}
