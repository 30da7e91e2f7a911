//! The kiosk as it runs on its device: the window on the screen, the reader on its thread,
//! the buzzer and light, the node once paired, and pairing from the admin screen.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use slint::ComponentHandle;

use mtime_core::clock::Clock;
use mtime_core::ids::BootId;
use mtime_hardware::config::{open_feedback, open_reader};
use mtime_sync::outbox::{Outbox, OutboxOptions};

use super::KioskWindow;
use super::app::{Device, Inputs, KioskUi, PairRequest, UiInput};
use crate::node::Node;
use crate::paths::DataDir;
use mtime_hardware::device_file::DeviceConfig;

/// How often the clock and the countdowns move on the screen.
const TICK: Duration = Duration::from_millis(250);

thread_local! {
    /// The UI of this thread, for inputs woken from other threads.
    static UI: RefCell<Option<KioskUi>> = const { RefCell::new(None) };
}

/// Runs the kiosk on its screen until the window closes.
pub fn run(config: DeviceConfig, clock: Arc<dyn Clock>, boot: BootId) -> anyhow::Result<()> {
    let data = DataDir::new(&config.data_dir);
    std::fs::create_dir_all(data.root())
        .with_context(|| format!("creating {}", data.root().display()))?;
    let ca_pem = match &config.server_ca {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => None,
    };
    // The kiosk's key is made on its first start and never leaves it; pairing sends the
    // server only its public half.
    let key_file = mtime_sync::keyfile::KeyFile::new(data.key());
    if !key_file.exists() {
        key_file.create().context("making the kiosk's key")?;
        tracing::info!(path = %data.key().display(), "kiosk key made");
    }
    mount_screen(config.screen.rotation);
    let feedback = open_feedback(&config.feedback).context("opening the buzzer and light")?;
    let reader = open_reader(&config.reader).context("opening the badge reader")?;

    let window = KioskWindow::new().context(
        "no screen to draw on: this kiosk was built without a display backend \
         (build with --features pi for the Raspberry Pi's screen, --features desktop for a \
         window), or the screen cannot be opened",
    )?;
    let device = Device {
        clock: clock.clone(),
        pair: pairing(data.clone(), ca_pem, clock.clone(), boot),
        feedback,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let wake = Arc::new(|| {
        let _ = slint::invoke_from_event_loop(|| {
            UI.with(|ui| {
                if let Some(ui) = ui.borrow().as_ref() {
                    ui.pump();
                }
            });
        });
    });
    let ui = KioskUi::new(window, device, wake);
    if let Some(url) = &config.server_url {
        ui.offer_server(url);
    }
    UI.with(|slot| *slot.borrow_mut() = Some(ui.clone_handle()));

    // Enrolled before: start at once. Otherwise the pairing screen is up.
    let enrolled = Outbox::open(&data.store())?.identity()?.is_some();
    if enrolled {
        let node = start_node(&data, clock.clone(), boot, ui.inputs())?;
        ui.set_node(node);
    }

    let inputs = ui.inputs();
    let taps = mtime_hardware::spawn(reader).context("starting the badge reader")?;
    std::thread::Builder::new().name("reader-to-ui".into()).spawn(move || {
        for event in taps {
            inputs.send(UiInput::Reader(event));
        }
    })?;

    let ticker = slint::Timer::default();
    let weak = ui.clone_handle();
    ticker.start(slint::TimerMode::Repeated, TICK, move || weak.tick());

    ui.window().run().context("the screen's event loop failed")?;
    UI.with(|slot| slot.borrow_mut().take());
    Ok(())
}

/// Tells Slint's Linux KMS backend how the panel is mounted, so that it turns both the
/// picture and the touches. The backend reads it from its environment, once, when the first
/// window is made; a value set by the operator's environment wins.
fn mount_screen(rotation: super::render::Rotation) {
    const VAR: &str = "SLINT_KMS_ROTATION";
    if rotation == super::render::Rotation::None || std::env::var_os(VAR).is_some() {
        return;
    }
    let degrees = rotation.degrees().to_string();
    // SAFETY: called from `run` on the main thread before it starts any other thread (the
    // reader, the node's runtime and pairing all start later), so nothing reads or writes
    // the environment concurrently.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(VAR, degrees);
    }
}

/// Starts the node of the enrolled kiosk in `data`, reporting to the UI.
fn start_node(
    data: &DataDir,
    clock: Arc<dyn Clock>,
    boot: BootId,
    inputs: Inputs,
) -> anyhow::Result<Arc<Node>> {
    Node::start(data, OutboxOptions::default(), clock, boot, move |_, event| {
        inputs.send(UiInput::Sync(event));
    })
}

/// Pairing from the admin screen: in the background, so the screen stays alive while the
/// server answers; the node starts as soon as the kiosk is enrolled.
pub fn pairing(
    data: DataDir,
    ca_pem: Option<String>,
    clock: Arc<dyn Clock>,
    boot: BootId,
) -> Box<dyn Fn(PairRequest, Inputs)> {
    Box::new(move |request: PairRequest, inputs: Inputs| {
        let (data, ca_pem, clock) = (data.clone(), ca_pem.clone(), clock.clone());
        let spawned = std::thread::Builder::new().name("pairing".into()).spawn(move || {
            let result = crate::pairing::pair(
                &data,
                &request.server,
                &request.code,
                ca_pem,
                clock.as_ref(),
                boot,
            )
            .and_then(|_| start_node(&data, clock, boot, inputs.clone()));
            let result = result.map_err(|e| {
                tracing::warn!(error = %format!("{e:#}"), "pairing failed");
                format!("{e:#}")
            });
            inputs.send(UiInput::Paired(result));
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "pairing could not start");
        }
    })
}
