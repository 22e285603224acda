//! The one mapping of library errors to the CLI's error classes
//! (DESIGN.md §3): the CLI's exit codes and `--json` `kind`, and the Node
//! module's `Error.code`, both come from [`ErrorKind`].

use crate::vault::VaultError;

use super::ServiceError;

/// An error class of the faces' public contract: each is an exit code of
/// the CLI and a `kind` of its JSON errors and of the Node module's
/// errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The key (or login) does not exist (exit 1).
    NotFound,
    /// Bad arguments, an invalid key name (exit 2).
    Usage,
    /// Cannot unlock (exit 3).
    Unlock,
    /// Not a readable vault (exit 4).
    Unreadable,
    /// The file system (exit 5).
    FileSystem,
    /// A migration or sync left something behind (exit 6).
    Incomplete,
    /// A server could not be reached (exit 7).
    Network,
}

impl ErrorKind {
    /// The JSON `kind`: `not_found`, `usage`, `unlock`, `unreadable`,
    /// `file_system`, `incomplete`, `network`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Usage => "usage",
            ErrorKind::Unlock => "unlock",
            ErrorKind::Unreadable => "unreadable",
            ErrorKind::FileSystem => "file_system",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::Network => "network",
        }
    }

    /// The class of an engine error.
    pub fn of_vault(e: &VaultError) -> ErrorKind {
        match e {
            VaultError::Format(_)
            | VaultError::Tampered
            | VaultError::KeyChanged
            | VaultError::RolledBack { .. } => ErrorKind::Unreadable,
            VaultError::MergeUnverified => ErrorKind::Incomplete,
            VaultError::DifferentVault => ErrorKind::Usage,
            VaultError::Unlock(_) | VaultError::SlotsUnavailable(_) => ErrorKind::Unlock,
            // The OS keychain refused to store or give a slot's key.
            #[cfg(feature = "keychain")]
            VaultError::Keychain(_) => ErrorKind::Unlock,
            VaultError::Store(_) => ErrorKind::FileSystem,
            VaultError::InvalidName(_)
            | VaultError::ValueTooLarge { .. }
            | VaultError::NoSuchSlot(_)
            | VaultError::LastSlot
            | VaultError::TooManySlots(_)
            | VaultError::NoPortableSlot
            | VaultError::WrongSlotType { .. } => ErrorKind::Usage,
        }
    }

    /// The class of an OAuth error: no login `NotFound`, an ended grant or
    /// a refusal `Unlock`, an unreachable server `Network`.
    #[cfg(feature = "oauth")]
    pub fn of_oauth(e: &crate::oauth::OAuthError) -> ErrorKind {
        use crate::oauth::OAuthError as E;
        match e {
            E::Vault(v) => ErrorKind::of_vault(v),
            E::NoLogin(_) => ErrorKind::NotFound,
            E::NeedsLogin(_) | E::Refused { .. } | E::Callback(_) => ErrorKind::Unlock,
            E::Network(_) => ErrorKind::Network,
            E::Config(_) => ErrorKind::Usage,
            _ => ErrorKind::FileSystem,
        }
    }

    /// The class of a service error.
    pub fn of_service(e: &ServiceError) -> ErrorKind {
        match e {
            ServiceError::Vault(e) => ErrorKind::of_vault(e),
            ServiceError::InvalidName(_) | ServiceError::Usage(_) => ErrorKind::Usage,
            ServiceError::ConfigIo(_) => ErrorKind::FileSystem,
            ServiceError::Config { .. } | ServiceError::Verify(_) => ErrorKind::Incomplete,
            #[cfg(feature = "audit")]
            ServiceError::Audit(_) => ErrorKind::FileSystem,
            // A gpg or pass failure leaves the pass step undone.
            #[cfg(feature = "pass")]
            ServiceError::Pass(_) => ErrorKind::Incomplete,
            #[cfg(feature = "oauth")]
            ServiceError::OAuth(e) => ErrorKind::of_oauth(e),
        }
    }
}

impl ServiceError {
    /// The CLI's JSON `kind` of this error (DESIGN.md §3): `usage`,
    /// `unlock`, `unreadable`, `file_system`, `incomplete`.
    pub fn kind(&self) -> &'static str {
        ErrorKind::of_service(self).as_str()
    }
}

/// The CLI's JSON `kind` of an engine error ([`ErrorKind::of_vault`]).
pub fn vault_error_kind(e: &VaultError) -> &'static str {
    ErrorKind::of_vault(e).as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn kinds_are_the_cli_contract() {
        assert_eq!(
            ErrorKind::of_vault(&VaultError::Tampered).as_str(),
            "unreadable"
        );
        assert_eq!(ErrorKind::of_vault(&VaultError::LastSlot).as_str(), "usage");
        assert_eq!(
            ErrorKind::of_vault(&StoreError::NotFound("x".into()).into()).as_str(),
            "file_system"
        );
        assert_eq!(
            ServiceError::Usage("x".to_owned()).kind(),
            ErrorKind::Usage.as_str()
        );
    }
}
