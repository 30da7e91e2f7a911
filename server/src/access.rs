//! Who may do what: permissions named `area:action:scope`, and the roles that bundle them.
//!
//! Every operation of the API declares the one permission it needs (see
//! [`crate::api::operation`]); the check happens in one place, before the handler runs.

/// A permission, such as `settings:create:*`.
pub type Permission = &'static str;

/// Read org units and employees.
pub const ORGANIZATION_READ: Permission = "organization:read:*";
/// Create and change org units and employees.
pub const ORGANIZATION_WRITE: Permission = "organization:write:*";
/// Read presence intervals.
pub const TIMESHEET_READ: Permission = "timesheet:read:*";
/// Clock in and out and correct presence.
pub const TIMESHEET_WRITE: Permission = "timesheet:write:*";
/// Read settings (reasons).
pub const SETTINGS_READ: Permission = "settings:read:*";
/// Create and change settings.
pub const SETTINGS_CREATE: Permission = "settings:create:*";
/// Read kiosks and their status.
pub const KIOSKS_READ: Permission = "kiosks:read:*";
/// Create, pair and revoke kiosks.
pub const KIOSKS_WRITE: Permission = "kiosks:write:*";
/// Read reports.
pub const REPORTS_READ: Permission = "reports:read:*";
/// Read service users, roles and API key metadata.
pub const USERS_READ: Permission = "users:read:*";
/// Create service users and issue or revoke API keys.
pub const USERS_WRITE: Permission = "users:write:*";
/// Read the API's own description: the OpenAPI document.
pub const API_READ: Permission = "api:read:*";
/// Follow the feed of domain events.
pub const EVENTS_READ: Permission = "events:read:*";
/// Read webhook subscriptions and their delivery logs (never their secrets).
pub const WEBHOOKS_READ: Permission = "webhooks:read:*";
/// Create and delete webhook subscriptions. Creating one also needs [`EVENTS_READ`], since
/// a subscription hands the feed to its URL.
pub const WEBHOOKS_WRITE: Permission = "webhooks:write:*";
/// Read operating metrics.
pub const METRICS_READ: Permission = "metrics:read:*";
/// The signed-in user's own data.
pub const ME_READ: Permission = "me:read:self";

/// Every permission there is.
pub const ALL: &[Permission] = &[
    ORGANIZATION_READ,
    ORGANIZATION_WRITE,
    TIMESHEET_READ,
    TIMESHEET_WRITE,
    SETTINGS_READ,
    SETTINGS_CREATE,
    KIOSKS_READ,
    KIOSKS_WRITE,
    REPORTS_READ,
    USERS_READ,
    USERS_WRITE,
    API_READ,
    EVENTS_READ,
    WEBHOOKS_READ,
    WEBHOOKS_WRITE,
    METRICS_READ,
    ME_READ,
];

/// A named bundle of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// Its name, as given when creating a service user.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// What it may do.
    pub permissions: &'static [Permission],
}

/// The built-in roles.
pub const ROLES: &[Role] = &[
    Role { name: "admin", description: "Everything.", permissions: ALL },
    Role {
        name: "developer",
        description: "Reads the API's settings and downloads its OpenAPI document.",
        permissions: &[API_READ, SETTINGS_READ],
    },
    Role {
        name: "site_admin",
        description: "Provisions kiosks and looks after presence at the sites.",
        permissions: &[
            KIOSKS_READ,
            KIOSKS_WRITE,
            ORGANIZATION_READ,
            TIMESHEET_READ,
            TIMESHEET_WRITE,
            REPORTS_READ,
            SETTINGS_READ,
        ],
    },
    Role {
        name: "integration_reader",
        description: "Reads presence, employees and reports; changes nothing.",
        permissions: &[ORGANIZATION_READ, TIMESHEET_READ, REPORTS_READ, EVENTS_READ],
    },
    Role {
        name: "payroll",
        description: "Reads employees, presence, settings and reports for pay runs.",
        permissions: &[ORGANIZATION_READ, TIMESHEET_READ, REPORTS_READ, SETTINGS_READ],
    },
];

/// The role named `name`.
pub fn role(name: &str) -> Option<&'static Role> {
    ROLES.iter().find(|r| r.name == name)
}

/// The permission spelled `text`, if there is one.
pub fn permission(text: &str) -> Option<Permission> {
    ALL.iter().copied().find(|p| *p == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_grants_only_known_permissions_and_admin_grants_all() {
        for role in ROLES {
            for p in role.permissions {
                assert_eq!(permission(p), Some(*p), "{} grants unknown {p}", role.name);
            }
        }
        assert_eq!(role("admin").map(|r| r.permissions.len()), Some(ALL.len()));
        assert!(!role("integration_reader").unwrap().permissions.contains(&TIMESHEET_WRITE));
    }
}
