//! Compiles the kiosk's Slint views.
//!
//! Debug info stays on in every build: the testing backend finds elements by their
//! accessible labels only when it is there. The fonts are embedded as glyphs for the
//! software renderer, so what the kiosk draws does not depend on the machine's fonts.

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        .with_debug_info(true)
        .with_bundled_translations("lang")
        .embed_resources(slint_build::EmbedResourcesKind::EmbedForSoftwareRenderer);
    if let Err(e) = slint_build::compile_with_config("ui/kiosk.slint", config) {
        eprintln!("compiling the kiosk's views: {e}");
        std::process::exit(1);
    }
}
