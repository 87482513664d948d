//! Why a command failed, and what that means for the user: the exit code
//! (1 other errors, 2 usage, 3 authentication needed) and the one line on
//! stderr.

use std::process::ExitCode;

use belfry_client::Error;
use belfry_client::stream::error_chain;

/// Why the command failed, deciding the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The command line or its values were wrong: exit 2.
    Usage(String),
    /// No usable sign-in or token: exit 3.
    Auth(String),
    /// Anything else: exit 1.
    Other(anyhow::Error),
}

impl Failure {
    /// Prints the failure as one line on stderr and returns its exit code.
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Usage(m) => {
                eprintln!("belfry: {m}");
                ExitCode::from(2)
            }
            Failure::Auth(m) => {
                eprintln!("belfry: authentication needed: {m}");
                ExitCode::from(3)
            }
            Failure::Other(e) => {
                eprintln!("belfry: {}", error_chain(e.as_ref()));
                ExitCode::from(1)
            }
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            e if e.is_auth() => Failure::Auth(e.auth_reason().unwrap_or_default()),
            Error::InvalidUrl(_) => Failure::Usage(e.to_string()),
            e => Failure::Other(e.into()),
        }
    }
}
