//! Announces kiosks that fall silent (`kiosk.silent`: nothing heard for three heartbeat
//! periods) and that are heard again (`kiosk.resumed`), once each per change.

use crate::state::AppState;
use crate::store::StoreError;

/// Compares every active kiosk's last contact with the clock; returns how many changed.
pub fn check(state: &AppState) -> Result<usize, StoreError> {
    let now = state.now();
    let marked = state.store.silent_kiosks()?;
    let mut changed = 0;
    for kiosk in state.store.kiosks()? {
        // A revoked kiosk is expected to be silent; a waiting one has not spoken yet.
        if !kiosk.is_active() {
            continue;
        }
        let silent = !kiosk.heard_within(now);
        if silent == marked.contains(&kiosk.id) {
            continue;
        }
        if state.store.set_kiosk_silent(kiosk.id, silent, now)? {
            changed += 1;
            if silent {
                tracing::warn!(kiosk = %kiosk.id, name = %kiosk.name, "kiosk fell silent");
            } else {
                tracing::info!(kiosk = %kiosk.id, name = %kiosk.name, "kiosk heard again");
            }
        }
    }
    Ok(changed)
}
