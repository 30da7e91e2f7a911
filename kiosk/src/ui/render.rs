//! Drawing the kiosk's window with Slint's software renderer into memory, and touches on a
//! panel that may be mounted rotated.
//!
//! A panel is the screen as built: its pixels, and how it is turned in its housing.
//! The window is laid out for what the user sees (a 800×480 panel turned a quarter is a
//! 480×800 window); the renderer turns the picture onto the panel, and
//! [`Rotation::to_window`] turns a touch on the panel back, so a finger lands on what is
//! drawn under it. Tests and screenshots use [`PanelScreen`]; on the Raspberry Pi the Linux
//! KMS backend does the same with `SLINT_KMS_ROTATION`.

use std::rc::Rc;

use slint::platform::software_renderer::{
    MinimalSoftwareWindow, RenderingRotation, RepaintBufferType,
};
use slint::platform::{Platform, PointerEventButton, WindowAdapter, WindowEvent};
use slint::{LogicalPosition, PhysicalSize, PlatformError, Rgb8Pixel};

pub use mtime_hardware::panel::Rotation;

/// A picture of the panel, row by row, as the panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Red, green and blue bytes, row after row.
    pub rgb: Vec<u8>,
}

struct PanelPlatform {
    window: Rc<MinimalSoftwareWindow>,
}

impl Platform for PanelPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        Ok(self.window.clone())
    }
}

/// A panel in memory: this thread's Slint windows draw onto it.
pub struct PanelScreen {
    window: Rc<MinimalSoftwareWindow>,
    width: u32,
    height: u32,
    rotation: Rotation,
}

impl PanelScreen {
    /// Makes this thread's windows draw onto a `width` × `height` panel turned by
    /// `rotation`. Call it before the first window of the thread is made, once per thread.
    pub fn install(width: u32, height: u32, rotation: Rotation) -> Result<Self, PlatformError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        window.set_size(PhysicalSize::new(width, height));
        slint::platform::set_platform(Box::new(PanelPlatform { window: window.clone() }))
            .map_err(|e| PlatformError::Other(e.to_string()))?;
        let screen = Self { window, width, height, rotation };
        screen.resize();
        Ok(screen)
    }

    fn resize(&self) {
        let (w, h) = self.window_size();
        self.window.set_size(PhysicalSize::new(w, h));
    }

    /// The window's size as the user sees it.
    pub fn window_size(&self) -> (u32, u32) {
        self.rotation.window_size(self.width, self.height)
    }

    /// Draws the window as it stands now.
    pub fn render(&self) -> Frame {
        // A window shown after `install` set its size anew; make sure it has ours.
        self.resize();
        slint::platform::update_timers_and_animations();
        self.window.request_redraw();

        let mut pixels = vec![Rgb8Pixel::new(0, 0, 0); (self.width * self.height) as usize];
        self.window.draw_if_needed(|renderer| {
            renderer.set_rendering_rotation(renderer_rotation(self.rotation));
            renderer.render(&mut pixels, self.width as usize);
        });
        let rgb = pixels.iter().flat_map(|p| [p.r, p.g, p.b]).collect();
        Frame { width: self.width, height: self.height, rgb }
    }

    /// A finger pressed and lifted at `(x, y)` on the panel.
    pub fn touch(&self, x: f32, y: f32) {
        let (x, y) = self.rotation.to_window((x, y), self.window_size());
        let position = LogicalPosition::new(x, y);
        let window = self.window.window();
        let button = PointerEventButton::Left;
        window.dispatch_event(WindowEvent::PointerMoved { position });
        window.dispatch_event(WindowEvent::PointerPressed { position, button });
        window.dispatch_event(WindowEvent::PointerReleased { position, button });
        window.dispatch_event(WindowEvent::PointerExited);
    }
}

/// The software renderer's name for a panel's rotation.
fn renderer_rotation(rotation: Rotation) -> RenderingRotation {
    match rotation {
        Rotation::None => RenderingRotation::NoRotation,
        Rotation::Right => RenderingRotation::Rotate90,
        Rotation::UpsideDown => RenderingRotation::Rotate180,
        Rotation::Left => RenderingRotation::Rotate270,
    }
}
