//! How a kiosk's screen is mounted in its housing, and where a point lands when it is.
//!
//! A panel is the screen as built: its pixels, and how it is turned. The window is laid out
//! for what the user sees (an 800×480 panel turned a quarter is a 480×800 window); the
//! renderer turns the picture onto the panel, and [`Rotation::to_window`] turns a touch on
//! the panel back, so that a finger lands on what is drawn under it.

use serde::Deserialize;

/// How the panel is turned in its housing, clockwise, as the user sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u16")]
pub enum Rotation {
    /// Upright.
    #[default]
    None,
    /// A quarter turn to the right (90°).
    Right,
    /// Upside down (180°).
    UpsideDown,
    /// A quarter turn to the left (270°).
    Left,
}

impl TryFrom<u16> for Rotation {
    type Error = String;

    fn try_from(degrees: u16) -> Result<Self, Self::Error> {
        match degrees {
            0 => Ok(Self::None),
            90 => Ok(Self::Right),
            180 => Ok(Self::UpsideDown),
            270 => Ok(Self::Left),
            other => Err(format!("rotation is 0, 90, 180 or 270 degrees, not {other}")),
        }
    }
}

impl Rotation {
    /// In degrees, clockwise.
    pub fn degrees(self) -> u16 {
        match self {
            Self::None => 0,
            Self::Right => 90,
            Self::UpsideDown => 180,
            Self::Left => 270,
        }
    }

    /// Whether the panel stands on its side.
    pub fn quarter_turn(self) -> bool {
        matches!(self, Self::Right | Self::Left)
    }

    /// The window's size, as the user sees it, on a panel of `width` × `height` pixels.
    pub fn window_size(self, width: u32, height: u32) -> (u32, u32) {
        if self.quarter_turn() { (height, width) } else { (width, height) }
    }

    /// Where the window's point `(x, y)` is drawn on the panel; `window` is the window's
    /// size. The renderer's own rule, so that [`Self::to_window`] can undo it.
    pub fn to_panel(self, (x, y): (f32, f32), (w, h): (u32, u32)) -> (f32, f32) {
        let (w, h) = (w as f32, h as f32);
        match self {
            Self::None => (x, y),
            Self::Right => (h - 1.0 - y, x),
            Self::UpsideDown => (w - 1.0 - x, h - 1.0 - y),
            Self::Left => (y, w - 1.0 - x),
        }
    }

    /// Which point of the window a touch at `(x, y)` on the panel hits.
    pub fn to_window(self, (x, y): (f32, f32), (w, h): (u32, u32)) -> (f32, f32) {
        let (w, h) = (w as f32, h as f32);
        match self {
            Self::None => (x, y),
            Self::Right => (y, h - 1.0 - x),
            Self::UpsideDown => (w - 1.0 - x, h - 1.0 - y),
            Self::Left => (w - 1.0 - y, x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touch_maps_back_to_the_point_drawn_under_it() {
        let window = (480, 800);
        for rotation in [Rotation::None, Rotation::Right, Rotation::UpsideDown, Rotation::Left] {
            let size = if rotation.quarter_turn() { window } else { (800, 480) };
            for point in [(0.0, 0.0), (10.0, 700.0), (479.0, 0.0), (123.0, 456.0)] {
                let panel = rotation.to_panel(point, size);
                assert_eq!(rotation.to_window(panel, size), point, "{rotation:?} {point:?}");
            }
        }
    }

    #[test]
    fn a_quarter_turn_swaps_the_window_s_sides() {
        assert_eq!(Rotation::Right.window_size(800, 480), (480, 800));
        assert_eq!(Rotation::UpsideDown.window_size(800, 480), (800, 480));
        assert_eq!(Rotation::Right.to_panel((0.0, 0.0), (480, 800)), (799.0, 0.0));
        assert_eq!(Rotation::Left.to_panel((0.0, 0.0), (480, 800)), (0.0, 479.0));
    }

    #[test]
    fn rotation_is_read_in_degrees() {
        assert_eq!(Rotation::try_from(90), Ok(Rotation::Right));
        assert_eq!(Rotation::try_from(270), Ok(Rotation::Left));
        assert!(Rotation::try_from(45).unwrap_err().contains("not 45"));
    }
}
