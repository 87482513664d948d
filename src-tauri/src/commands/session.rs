//! Sign-in, sign-out, and which server: thin wrappers over
//! [`Desktop`](crate::desktop::Desktop).

use belfry_desktop_core::contract::{
    AttachArgs, SessionArgs, SignInArgs, SignOutArgs, UseBundledArgs, UseServerArgs,
};
use belfry_desktop_core::settings::ServerChoice;
use belfry_proto::ErrorKind;
use tauri::State;

use super::{Args, CommandError, Reply};
use crate::desktop::Desktop;

/// The session, once start-up has settled.
#[tauri::command]
pub async fn session(desktop: State<'_, Desktop>, _: Args<SessionArgs>) -> Reply<SessionArgs> {
    Ok(desktop.session().await)
}

/// Signs in to the chosen (remote) server.
#[tauri::command]
pub async fn sign_in(
    desktop: State<'_, Desktop>,
    Args(args): Args<SignInArgs>,
) -> Reply<SignInArgs> {
    let email = args.email.trim();
    if !email.contains('@') {
        return Err(CommandError::invalid("email", "enter an email address"));
    }
    if args.password.is_empty() {
        return Err(CommandError::invalid("password", "enter the password"));
    }
    desktop
        .sign_in(email, &args.password)
        .await
        // A wrong password is `invalid_credentials`, a disabled account
        // `disabled`: the server's answer says which.
        .map_err(CommandError::from)?;
    Ok(desktop.session().await)
}

#[tauri::command]
pub async fn sign_out(desktop: State<'_, Desktop>, _: Args<SignOutArgs>) -> Reply<SignOutArgs> {
    desktop.sign_out().await;
    Ok(())
}

/// Connects to the server at `url` (then the user signs in).
#[tauri::command]
pub async fn use_server(
    desktop: State<'_, Desktop>,
    Args(args): Args<UseServerArgs>,
) -> Reply<UseServerArgs> {
    let url = args.url.trim();
    let client = belfry_client::Client::new(url)
        .map_err(|_| CommandError::invalid("url", format!("`{url}` is not an http(s) address")))?;
    desktop
        .switch(ServerChoice::Remote {
            url: client.base().as_str().to_owned(),
        })
        .await;
    Ok(desktop.session().await)
}

/// Runs a Belfry server on this computer and signs in to it; `demo` also
/// publishes demo events.
#[tauri::command]
pub async fn use_bundled(
    desktop: State<'_, Desktop>,
    Args(args): Args<UseBundledArgs>,
) -> Reply<UseBundledArgs> {
    desktop
        .switch(ServerChoice::Bundled { demo: args.demo })
        .await;
    let session = desktop.session().await;
    match &session.reason {
        Some(reason) if session.email.is_none() => {
            Err(CommandError::new(ErrorKind::Server, reason.clone()))
        }
        _ => Ok(session),
    }
}

/// The window listens now: send it the status and `ready`.
#[tauri::command]
pub fn attach(desktop: State<'_, Desktop>, _: Args<AttachArgs>) -> Reply<AttachArgs> {
    desktop.attach();
    Ok(())
}
