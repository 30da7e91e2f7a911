//! Newtype ids. Every entity is named by a random UUID, except that a new presence event
//! is named by a time-ordered one ([`EventId::time_ordered`]); the newtypes keep an
//! employee id from being passed where a kiosk id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The id's 16 bytes, for storage keys.
            pub fn to_bytes(self) -> [u8; 16] {
                *self.0.as_bytes()
            }

            /// The id from its 16 storage bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| IdError { what: $what, input: s.to_owned() })
            }
        }
    };
}

uuid_id!(
    /// An employee, stable across all versions of their record.
    EmployeeId,
    "employee id"
);
uuid_id!(
    /// A kiosk node, assigned by the server when the kiosk is created.
    KioskId,
    "kiosk id"
);
uuid_id!(
    /// An org unit; a site is an org unit that carries a time zone.
    OrgUnitId,
    "org unit id"
);
uuid_id!(
    /// One presence event, unique across all kiosks and the API.
    EventId,
    "event id"
);

impl EventId {
    /// The id of an event made now: a UUIDv7, whose leading 48 bits are the milliseconds of
    /// this machine's clock and the rest a counter and random bits. Stores key events by
    /// id, and ids that grow with time land at the end of a table rather than anywhere in
    /// it, so storing a batch rewrites a few pages instead of one per event. A kiosk whose
    /// clock is wrong still makes unique ids; they only sort out of place.
    pub fn time_ordered() -> Self {
        Self(Uuid::now_v7())
    }
}
uuid_id!(
    /// One boot of a kiosk: monotonic clock readings compare only within a boot.
    BootId,
    "boot id"
);
uuid_id!(
    /// A service user (an API consumer) or an interactive user.
    UserId,
    "user id"
);

uuid_id!(
    /// An outbound webhook subscription.
    WebhookId,
    "webhook id"
);

/// Text that is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {input:?} is not a UUID (expected the form 0f8fad5b-d9cb-469f-a165-70867728950e)")]
pub struct IdError {
    what: &'static str,
    input: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_made_later_sort_later() {
        let first = EventId::time_ordered();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = EventId::time_ordered();
        assert!(first.0.as_u128() < second.0.as_u128());
        assert_eq!(first.0.get_version_num(), 7);
        assert_ne!(first, EventId::time_ordered());
    }

    #[test]
    fn round_trips_through_text_and_bytes() {
        let id = KioskId::random();
        assert_eq!(id.to_string().parse::<KioskId>().unwrap(), id);
        assert_eq!(KioskId::from_bytes(id.to_bytes()), id);
    }

    #[test]
    fn refuses_text_that_is_not_a_uuid_and_quotes_it() {
        let err = "E01".parse::<EmployeeId>().unwrap_err();
        assert!(err.to_string().contains("employee id \"E01\""), "{err}");
    }
}
