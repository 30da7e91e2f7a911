//! The kiosk with its touch UI, idle, as a process of its own so that its resident memory
//! can be read: `mtime-bench node-kiosk-ui <data-dir>` opens an enrolled kiosk's data dir,
//! starts its node (store, roster, sync loop) and its Slint UI on an 800×480 panel drawn by
//! the software renderer, as `mtime-kiosk ui` does on the Pi, and redraws the idle screen
//! four times a second (its clock and status change) until it is killed. It prints `idle`
//! once the first frame is drawn.
//!
//! What differs from the device: frames go to memory, not to the KMS frame buffer (the
//! frame buffer is the kernel's, outside the process either way), and no input device or
//! GPIO line is open.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use mtime_core::clock::SystemClock;
use mtime_core::ids::BootId;
use mtime_hardware::feedback::NoFeedback;
use mtime_kiosk::node::Node;
use mtime_kiosk::paths::DataDir;
use mtime_kiosk::ui::app::{Device, KioskUi};
use mtime_kiosk::ui::render::{PanelScreen, Rotation};
use mtime_kiosk::ui::{KioskState, KioskWindow, Screen};
use slint::ComponentHandle;

/// The first argument that makes this binary an idle kiosk with its UI.
pub const NODE: &str = "node-kiosk-ui";

/// How often the idle screen is drawn.
const FRAME: Duration = Duration::from_millis(250);

/// Runs the kiosk in the data dir `args[0]` with its UI until killed.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let dir = args.first().context("usage: node-kiosk-ui <data-dir>")?;
    let panel = PanelScreen::install(800, 480, Rotation::None)?;
    let clock = Arc::new(SystemClock::new());
    let ui = shown_ui(clock.clone())?;
    let data = DataDir::new(std::path::Path::new(dir));
    let node = Node::start(&data, Default::default(), clock, BootId::random(), |_, _| {})?;
    ui.set_node(node);

    let mut announced = false;
    loop {
        ui.pump();
        let frame = panel.render();
        anyhow::ensure!(frame.rgb.len() == 800 * 480 * 3, "a frame of the wrong size");
        if !announced {
            let screen = ui.window().global::<KioskState>().get_screen();
            anyhow::ensure!(screen == Screen::Idle, "the kiosk shows {screen:?}, not idle");
            println!("idle");
            announced = true;
        }
        std::thread::sleep(FRAME);
    }
}

/// The kiosk's UI for a kiosk paired already, with no buzzer or LED, shown on this thread's
/// screen.
pub fn shown_ui(clock: Arc<SystemClock>) -> anyhow::Result<KioskUi> {
    let device = Device {
        clock,
        pair: Box::new(|_, _| tracing::error!("the bench's kiosk is paired already")),
        feedback: Box::new(NoFeedback),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let ui = KioskUi::new(KioskWindow::new()?, device, Arc::new(|| {}));
    ui.window().show()?;
    Ok(ui)
}
