//! Drawing the kiosk's window with Slint's software renderer.
